"""Adjudication of disputed classes, and the agreement dashboard: who may see what, and what is stored."""

import csv
import io

import pytest
from django.urls import reverse

from annotations.models import Adjudication, AgreementResult, Assignment, AuditEvent, Consensus, Exam
from annotations.selectors.blinding import batch_pseudonyms
from annotations.services.adjudication import (
    AdjudicationError,
    Decision,
    StaleAdjudication,
    adjudication_decide,
)
from annotations.services.agreement.compute import batch_agreement_compute
from tests.factories import (
    ExamFactory,
    UserFactory,
    batch_for,
    batch_with_reads,
    disputed_exam,
    exams_of,
    make_exam,
    read,  # other modules import it from here too
    release_of,
)

pytestmark = pytest.mark.django_db

# Reader names no page text would contain by chance: if one shows up, blinding is broken.
SECRET_READERS = ("zq-reader-one", "zq-reader-two")


@pytest.fixture
def secret_readers(db):
    return [UserFactory(username=name, roles=["reader"]) for name in SECRET_READERS]


@pytest.fixture
def disputed(secret_readers, diego, tnmg):
    """Two readers who agree on SB and tie on 1dAVb, on an exam with a real waveform."""
    return disputed_exam(taxonomy=tnmg, actor=diego, readers=secret_readers)


def case_url(batch, exam):
    return reverse("adjudication-case", args=[batch.pk, exam.pk])


def test_an_adjudicator_settles_a_tie_and_the_consensus_says_adjudicated(carla, disputed):
    batch, exam = disputed
    adjudication_decide(
        actor=carla,
        batch=batch,
        exam_id=exam.pk,
        decisions=[Decision("1dAVb", True)],
        rationale="PR 240 ms in II",
        version=0,
    )
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb")
    assert (row.value, row.method, row.positive_votes, row.total_votes) == (True, "adjudicated", 1, 2)
    decision = Adjudication.objects.get(batch=batch, exam=exam)
    assert (decision.adjudicator, decision.rationale, decision.version) == (carla, "PR 240 ms in II", 1)
    assert AuditEvent.objects.filter(action="adjudication.decide", actor=carla).exists()
    batch_agreement_compute(batch.pk)  # a recomputation leaves the human decision alone
    assert (
        Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb").method == "adjudicated"
    )


def test_a_decision_from_a_stale_version_is_refused(carla, disputed):
    batch, exam = disputed
    other = UserFactory(username="olga", roles=["adjudicator"])
    adjudication_decide(
        actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("1dAVb", True)], version=0
    )
    with pytest.raises(StaleAdjudication):
        adjudication_decide(
            actor=other, batch=batch, exam_id=exam.pk, decisions=[Decision("1dAVb", False)], version=0
        )
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb").value is True


def test_two_adjudicators_saving_from_the_same_page_the_second_gets_409(carla, disputed, client):
    batch, exam = disputed
    other = UserFactory(username="olga", roles=["adjudicator"])
    url = reverse("api-adjudication-case", args=[batch.pk, exam.pk])
    body = {"decisions": [{"code": "1dAVb", "value": True}], "version": 0}
    client.force_login(carla)
    assert client.post(url, body, content_type="application/json").status_code == 200
    client.force_login(other)
    refused = client.post(
        url, {**body, "decisions": [{"code": "1dAVb", "value": False}]}, content_type="application/json"
    )
    assert refused.status_code == 409 and refused.json()["version"] == 1
    # The page form answers the same way.
    page = client.post(case_url(batch, exam), {"version": "0", "decision-1dAVb": "absent"})
    assert page.status_code == 409
    # The page has already reloaded the case: it says the decision below is the other one, to be
    # overturned only on purpose, and carries its version.
    html = page.content.decode()
    assert (
        "Another adjudicator signed this exam meanwhile (version 1); their decision is shown below. "
        "Sign again only to overturn it, giving a rationale."
    ) in html
    assert "reload to see it" not in html
    assert '<input type="hidden" name="version" value="1">' in html


def test_each_case_shows_its_own_decisions_and_version_beside_another_decided_case(
    carla, secret_readers, diego, tnmg, client
):
    """Two exams disputed alike in one batch: a decision on one is shown on that case only, and the case
    hands the adjudicator the version their next decision on it must carry."""
    tie = [["SB", "1dAVb"], ["SB"]]
    batch = batch_with_reads(
        taxonomy=tnmg, actor=diego, readers=secret_readers, reads=[tie, tie], name="Two cases"
    )
    first, second = exams_of(batch)
    client.force_login(carla)
    urls = {exam: reverse("api-adjudication-case", args=[batch.pk, exam.pk]) for exam in (first, second)}
    body = {"decisions": [{"code": "1dAVb", "value": True}], "rationale": "PR 240 ms in II", "version": 0}
    assert client.post(urls[second], body, content_type="application/json").status_code == 200

    def shown(exam) -> tuple[int, bool | None, str]:
        case = client.get(urls[exam]).json()
        (disputed,) = [d for d in case["disputed"] if d["code"] == "1dAVb"]
        return case["version"], disputed["decided_value"], disputed["decided_rationale"]

    assert shown(second) == (1, True, "PR 240 ms in II")
    assert shown(first) == (0, None, "")
    # The adjudicator revises the second case from the version it showed.
    revised = {
        **body,
        "decisions": [{"code": "1dAVb", "value": False}],
        "rationale": "PR 190 ms",
        "version": 1,
    }
    assert client.post(urls[second], revised, content_type="application/json").status_code == 200
    assert shown(second) == (2, False, "PR 190 ms")
    assert shown(first) == (0, None, "")


def test_an_undisputed_class_cannot_be_adjudicated(carla, disputed):
    batch, exam = disputed
    with pytest.raises(AdjudicationError):
        adjudication_decide(
            actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("SB", False)], version=0
        )
    assert Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="SB").method == "unanimous"


def test_an_adjudicator_never_adjudicates_an_exam_they_read(diego, tnmg, ana, client):
    both = UserFactory(username="rita", roles=["reader", "adjudicator"])
    exam = ExamFactory()
    batch = batch_for(tnmg, diego, [both, ana], [exam], name="Own")
    read(both, batch, exam, ["SB", "1dAVb"])
    read(ana, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    with pytest.raises(PermissionError):
        adjudication_decide(
            actor=both, batch=batch, exam_id=exam.pk, decisions=[Decision("1dAVb", True)], version=0
        )
    client.force_login(both)
    assert client.get(case_url(batch, exam)).status_code == 404
    assert client.get(reverse("api-adjudication-queue")).json() == []


def test_the_queue_lists_disputed_exams_until_every_disputed_class_is_decided(carla, disputed, client):
    batch, exam = disputed
    client.force_login(carla)
    queue = client.get(reverse("api-adjudication-queue")).json()
    assert [(item["batch_id"], item["exam_id"], item["open_classes"]) for item in queue] == [
        (batch.pk, exam.pk, 1)
    ]
    page = client.post(
        case_url(batch, exam), {"version": "0", "decision-1dAVb": "present", "rationale": "clear"}
    )
    assert page.status_code == 302
    assert client.get(reverse("api-adjudication-queue")).json() == []
    assert "queue-empty" in client.get(reverse("adjudication-queue")).content.decode()


def test_the_adjudication_page_shows_the_ecg_and_pseudonymous_votes_only(
    carla, disputed, secret_readers, client
):
    batch, exam = disputed
    client.force_login(carla)
    page = client.get(case_url(batch, exam)).content.decode()
    assert 'id="adjudication-ecg"' in page
    assert '<script type="module" src="/static/js/pages/adjudication.js">' in page
    one, two = secret_readers  # one marked 1dAVb, two did not
    names = batch_pseudonyms(batch)
    assert f"{names[one.pk]}: present" in page and f"{names[two.pk]}: absent" in page
    assert "1dAVb" in page and 'name="decision-SB"' not in page  # only the disputed class is decided
    api = client.get(reverse("api-adjudication-case", args=[batch.pk, exam.pk])).content.decode()
    for text in (page, api, client.get(reverse("adjudication-queue")).content.decode()):
        assert not any(name in text for name in SECRET_READERS)
    waveform = client.get(reverse("api-adjudication-waveform", args=[batch.pk, exam.pk]))
    assert waveform.status_code == 200 and int(waveform["X-ECG-Samples"]) == exam.n_samples


def test_readers_and_outsiders_are_refused_adjudication_and_agreement(ana, eve, carla, disputed, client):
    batch, exam = disputed
    urls = [
        reverse("adjudication-queue"),
        case_url(batch, exam),
        reverse("api-adjudication-queue"),
        reverse("api-adjudication-case", args=[batch.pk, exam.pk]),
        reverse("api-adjudication-waveform", args=[batch.pk, exam.pk]),
        reverse("batch-agreement", args=[batch.pk]),
        reverse("batch-agreement-csv", args=[batch.pk]),
        reverse("api-batch-agreement", args=[batch.pk]),
    ]
    for user in (ana, eve):
        client.force_login(user)
        assert {url: client.get(url).status_code for url in urls} == {url: 403 for url in urls}
    client.force_login(carla)  # adjudicators do not see the coordinator's agreement figures either
    assert client.get(reverse("batch-agreement", args=[batch.pk])).status_code == 403


def test_the_agreement_page_shows_when_and_from_how_many_reads_it_was_computed(diego, disputed, client):
    batch, _ = disputed
    result = AgreementResult.objects.get(batch=batch)
    client.force_login(diego)
    dashboard = client.get(reverse("batch-detail", args=[batch.pk])).content.decode()
    assert reverse("batch-agreement", args=[batch.pk]) in dashboard
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "from 2 reads of 1 exams" in page and result.algorithm_version in page
    assert 'id="class-data"' in page and 'id="pair-matrix"' in page and "js/pages/agreement.js" in page
    assert SECRET_READERS[0] in page  # coordinators may see who read
    api = client.get(reverse("api-batch-agreement", args=[batch.pk])).json()
    assert api["read_count"] == 2 and api["consensus"] == {"unanimous": 1} and api["disputed_count"] == 1


def test_the_agreement_downloads_as_csv(diego, disputed, client):
    batch, _ = disputed
    client.force_login(diego)
    response = client.get(reverse("batch-agreement-csv", args=[batch.pk]) + "?table=classes")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_code = {row["code"]: row for row in rows}
    assert by_code["SB"]["positive_reads"] == "2" and by_code["1dAVb"]["disputed"] == "1"
    readers = client.get(reverse("batch-agreement-csv", args=[batch.pk]) + "?table=readers").content.decode()
    assert SECRET_READERS[0] in readers and "sensitivity" in readers
    pairs = list(
        csv.reader(
            io.StringIO(
                client.get(reverse("batch-agreement-csv", args=[batch.pk]) + "?table=pairs").content.decode()
            )
        )
    )
    assert len(pairs) == 2  # header and the one pair


def test_pseudonym_letters_do_not_follow_account_order_and_change_from_batch_to_batch(diego, tnmg):
    readers = [UserFactory(username=f"pseudo{i}", roles=["reader"]) for i in range(6)]
    exams = [make_exam() for _ in range(3)]
    batches = [batch_for(tnmg, diego, readers, exams, name=f"P{n}", again=True) for n in range(4)]
    letterings = [batch_pseudonyms(batch) for batch in batches]
    by_account = {reader.pk: f"Reader {'ABCDEF'[i]}" for i, reader in enumerate(readers)}
    for batch, names in zip(batches, letterings, strict=True):
        assert sorted(names.values()) == sorted(by_account.values())  # six distinct letters, A to F
        assert batch_pseudonyms(batch) == names  # stable: the same reader keeps their letter in a batch
    # With 720 orders for six readers, four batches lettered by account order, or all alike, is no chance.
    assert any(names != by_account for names in letterings)
    assert len({tuple(sorted(names.items())) for names in letterings}) > 1


def test_in_portuguese_the_case_page_names_statements_as_tnmg_writes_them(carla, disputed, client):
    from django.conf import settings

    batch, exam = disputed
    client.force_login(carla)
    disputed_class = batch.taxonomy.classes.get(code="1dAVb")
    assert disputed_class.name_pt and disputed_class.name_pt != disputed_class.name
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    page = client.get(case_url(batch, exam)).content.decode()
    assert disputed_class.name_pt in page and disputed_class.name not in page
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert disputed_class.name in client.get(case_url(batch, exam)).content.decode()


def test_the_case_finds_the_batch_readers_without_a_distinct_over_every_slot(carla, disputed, client):
    """Assignment's default ordering (batch, reader, position) made SELECT DISTINCT reader_id return every
    slot of the batch (ordered columns join the DISTINCT): 2 s per case at 100k exams x 3 readers."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    batch, exam = disputed
    client.force_login(carla)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("api-adjudication-case", args=[batch.pk, exam.pk])).status_code == 200
    distinct = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT DISTINCT")]
    assert distinct and not [sql for sql in distinct if " ORDER BY " in sql]


def test_the_case_api_carries_the_scores_readers_saw(carla, disputed, client, settings):
    from annotations.models import DisputedLabel, Suggestion, SuggestionScore

    batch, exam = disputed
    settings.SUGGESTION_READER_PROVIDER = "measurements"
    dav = DisputedLabel.objects.get(batch=batch, exam=exam).diagnostic_class
    shown = Suggestion.objects.create(exam=exam, provider="measurements", provider_version="3")
    SuggestionScore.objects.create(suggestion=shown, diagnostic_class=dav, score=0.64)
    Suggestion.objects.create(exam=exam, provider="quality", provider_version="1.0")  # newer, no diagnoses
    client.force_login(carla)
    case = client.get(reverse("api-adjudication-case", args=[batch.pk, exam.pk])).json()
    assert case["suggestion_provider"] == "Interval measurements and rules, 3"  # named, not keyed
    assert [d["suggestion_score"] for d in case["disputed"]] == [0.64]


def test_the_queue_says_escalated_for_an_exam_the_batch_rule_sent_to_adjudication(carla, disputed, client):
    """An exam the batch's escalation rule sent to adjudication is "escalated" in the queue, whatever the
    reason each of its classes is disputed for (here a tie)."""
    from annotations.models import BatchExam

    batch, exam = disputed
    client.force_login(carla)
    url = reverse("api-adjudication-queue")
    assert [item["escalated"] for item in client.get(url).json()] == [False]
    BatchExam.objects.filter(batch=batch, exam=exam).update(needs_adjudication=True)
    assert [item["escalated"] for item in client.get(url).json()] == [True]


def test_the_agreement_page_says_how_many_disputed_labels_are_still_open(carla, diego, disputed, client):
    batch, exam = disputed
    client.force_login(diego)
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert "1 disputed labels" in page and '<span id="open-disputes">1 still open</span>' in page
    api = f"/api/v1/batches/{batch.pk}/agreement/"
    assert [client.get(api).json()[key] for key in ("disputed_count", "disputes_open")] == [1, 1]
    adjudication_decide(
        actor=carla,
        batch=batch,
        exam_id=exam.pk,
        decisions=[Decision("1dAVb", True)],
        rationale="",
        version=0,
    )
    page = client.get(reverse("batch-agreement", args=[batch.pk])).content.decode()
    assert '<span id="open-disputes">0 still open</span>' in page
    assert [client.get(api).json()[key] for key in ("disputed_count", "disputes_open")] == [1, 0]


def test_the_dashboard_names_a_disputed_exam_no_adjudicator_may_take(carla, diego, disputed, client, tnmg):
    """Every adjudicator holds a read of the exam (here carla was handed it in another batch): its dispute
    would wait for ever unseen. The coordinator's dashboard names it and says what would unblock it."""
    batch, exam = disputed
    client.force_login(diego)
    page = client.get(reverse("batch-detail", args=[batch.pk])).content.decode()
    assert 'id="stuck-disputes"' not in page
    carla.groups.add(*UserFactory(username="spare", roles=["reader"]).groups.all())
    batch_for(tnmg, diego, [carla], [exam], name="Elsewhere")
    page = client.get(reverse("batch-detail", args=[batch.pk])).content.decode()
    stuck = page.split('id="stuck-disputes"', 1)[1].split("</p>", 1)[0]
    assert f"{exam.dataset.name}/{exam.external_id}" in stuck
    assert "every adjudicator holds a read of it" in stuck


def test_the_dashboard_says_when_no_one_is_an_adjudicator_at_all(diego, disputed, client):
    """With no active adjudicator, "every adjudicator holds a read" would be true of no one and mislead; the
    warning says that the role is missing, and it stands apart from the skipped exams it is not about."""
    batch, exam = disputed
    client.force_login(diego)
    page = client.get(reverse("batch-detail", args=[batch.pk])).content.decode()
    stuck = page.split('id="stuck-disputes"', 1)[1].split("</p>", 1)[0]
    assert f"{exam.dataset.name}/{exam.external_id}" in stuck
    assert "no active account has the adjudicator role" in stuck
    assert "every adjudicator holds" not in stuck
    assert page.index('id="stuck-disputes"') < page.index('id="reader-progress"')


def test_an_exam_waiting_for_an_escalation_read_is_decided_only_once_it_is_in(carla, diego, tnmg, client):
    """The batch adds a third reader where two disagree. Until that read is in, the tie is not the case to
    decide (the third read may settle it or change the votes): the exam stays out of the queue and a
    decision is refused with 409 saying why. Once the read is in, the case is decided on all three."""
    one, two, three = (UserFactory(username=f"esc-reader-{i}", roles=["reader"]) for i in range(3))
    exam = make_exam()
    batch = batch_for(
        tnmg,
        diego,
        [one, two, three],
        [exam],
        readers_per_exam=2,
        escalation={"mode": "add_reader", "cap": 1},
    )
    first_two = list(Assignment.objects.filter(batch=batch, exam=exam).values_list("reader_id", flat=True))
    readers = {r.pk: r for r in (one, two, three)}
    read(readers[first_two[0]], batch, exam, ["SB", "1dAVb"])
    read(readers[first_two[1]], batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    waiting = Assignment.objects.get(batch=batch, exam=exam, status=Assignment.Status.PENDING)
    client.force_login(carla)
    assert [row["exam_id"] for row in client.get("/api/v1/adjudication/").json()] == []
    url = reverse("api-adjudication-case", args=[batch.pk, exam.pk])
    body = {"decisions": [{"code": "1dAVb", "value": False}], "version": 0}
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 409 and "waits for 1 more read" in refused.json()["detail"]
    page = client.post(case_url(batch, exam), {"version": "0", "decision-1dAVb": "absent"})
    assert page.status_code == 409 and "waits for 1 more read" in page.content.decode()
    assert not Adjudication.objects.filter(batch=batch).exists()

    read(readers[waiting.reader_id], batch, exam, ["SB", "1dAVb"])
    batch_agreement_compute(batch.pk)
    assert [row["exam_id"] for row in client.get("/api/v1/adjudication/").json()] == [exam.pk]
    assert client.post(url, body, content_type="application/json").status_code == 200
    row = Consensus.objects.get(batch=batch, exam=exam, diagnostic_class__code="1dAVb")
    assert (row.method, row.value, row.positive_votes, row.total_votes) == ("adjudicated", False, 2, 3)


def test_a_version_ahead_of_the_exams_is_refused_as_such(carla, disputed, client):
    batch, exam = disputed
    client.force_login(carla)
    url = reverse("api-adjudication-case", args=[batch.pk, exam.pk])
    refused = client.post(
        url, {"decisions": [{"code": "1dAVb", "value": True}], "version": 5}, content_type="application/json"
    )
    assert refused.status_code == 409 and refused.json()["version"] == 0
    assert "adjudicated meanwhile" not in refused.json()["detail"] and "version 5" in refused.json()["detail"]


def test_a_statement_keeps_the_version_it_was_signed_in_when_another_is_re_signed(
    carla, diego, disputed, client
):
    """Signed together at version 1, then only 1dAVb overturned at version 2: the release's
    adjudications.csv says 2 for 1dAVb and still 1, with its own time, for the statement added at 1."""

    batch, exam = disputed
    first = [Decision("1dAVb", True), Decision("LAFB", True)]
    adjudication_decide(actor=carla, batch=batch, exam_id=exam.pk, decisions=first, version=0)
    adjudication_decide(
        actor=carla,
        batch=batch,
        exam_id=exam.pk,
        decisions=[Decision("1dAVb", False)],
        rationale="PR 190 ms",
        version=1,
    )
    release = release_of(actor=diego, batches=[batch])
    client.force_login(diego)
    text = b"".join(client.get(f"/releases/{release.pk}/files/adjudications.csv").streaming_content).decode()
    table = {row["code"]: row for row in csv.DictReader(io.StringIO(text))}
    assert (table["1dAVb"]["version"], table["1dAVb"]["value"]) == ("2", "0")
    assert (table["LAFB"]["version"], table["LAFB"]["value"]) == ("1", "1")
    assert table["LAFB"]["decided_at"] < table["1dAVb"]["decided_at"]
    # The exam still has one version, the latest: a decision from version 1 is stale.
    with pytest.raises(StaleAdjudication):
        adjudication_decide(actor=carla, batch=batch, exam_id=exam.pk, decisions=first, version=1)


def test_in_portuguese_the_case_page_refuses_in_portuguese_naming_statements_as_tnmg_writes_them(
    carla, disputed, client
):
    """The refusals came from the service in English with English statement names on a page in Portuguese;
    the readers' pseudonyms too ("Reader A")."""
    from django.conf import settings

    batch, exam = disputed
    client.force_login(carla)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    page = client.get(case_url(batch, exam)).content.decode()
    assert "Leitor A" in page and "Reader A" not in page
    # SB is agreed present; deciding ST present too breaks the exclusive set {SB, ST}.
    refused = client.post(
        case_url(batch, exam),
        {"version": 0, "decision-1dAVb": "present", "add-statement": "ST", "rationale": ""},
    ).content.decode()
    assert "não podem estar ambas presentes" in refused and "Bradicardia sinusal" in refused, refused
    stale = client.post(case_url(batch, exam), {"version": 7, "decision-1dAVb": "present"}).content.decode()
    assert "recarregue" in stale


def test_in_portuguese_an_empty_decision_is_refused_in_portuguese(carla, disputed, client):
    """'decide at least one disputed class' stayed English on the Portuguese case page."""
    from django.conf import settings

    batch, exam = disputed
    client.force_login(carla)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "pt-br"
    answer = client.post(case_url(batch, exam), {"version": 0, "rationale": ""})
    refused = answer.content.decode()
    assert answer.status_code == 400, (answer.status_code, refused[refused.find("<main") :][:1500])
    assert "Decida ao menos uma classe em disputa" in refused
    assert "decide at least one" not in refused


def test_a_decision_that_leaves_a_class_open_says_so_and_the_readers_notes_come_before_the_form(
    carla, secret_readers, diego, tnmg, client
):
    reads = [[["SB", "1dAVb", "RBBB"], ["SB"]]]
    batch = batch_with_reads(
        taxonomy=tnmg, actor=diego, readers=secret_readers, reads=reads, name="Two disputes"
    )
    (exam,) = exams_of(batch)
    client.force_login(carla)
    html = client.get(case_url(batch, exam)).content.decode()
    assert html.index('id="reader-notes"') < html.index('id="adjudication-form"')
    signed = client.post(
        case_url(batch, exam), {"version": "0", "decision-1dAVb": "present", "rationale": ""}, follow=True
    )
    said = [str(m) for m in signed.context["messages"]]
    assert said == ["Decision signed. 1 disputed class is still open: RBBB; the exam stays in your queue."]
    signed = client.post(case_url(batch, exam), {"version": "1", "decision-RBBB": "absent"}, follow=True)
    assert [str(m) for m in signed.context["messages"]] == ["Decision signed."]


def test_the_case_names_the_patients_age_and_sex_as_the_readers_saw_them(carla, disputed, client):
    """Statements such as NORM ("within normal limits for age and sex") and the voltage criteria depend on
    age and sex: the adjudicator settles them knowing what the readers knew, on the page and the API."""
    batch, exam = disputed
    Exam.objects.filter(pk=exam.pk).update(age=39, sex="M")
    client.force_login(carla)
    page = client.get(case_url(batch, exam)).content.decode()
    context = "Acquisition date not recorded · Age 39 · male · 10.0 s at 500 Hz"
    assert f'<p id="case-exam-context" class="muted">{context}</p>' in page
    case = client.get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/").json()["exam"]
    assert (case["acquired_at"], case["age"], case["sex"]) == (None, 39, "M")
    Exam.objects.filter(pk=exam.pk).update(age=None, sex="U")
    page = client.get(case_url(batch, exam)).content.decode()
    assert "Age not recorded · sex not recorded · 10.0 s at 500 Hz" in page
    case = client.get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/").json()["exam"]
    assert (case["age"], case["sex"]) == (None, "U")
