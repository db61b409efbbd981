"""Coordinator pages and API for batches: design with a preview, progress figures, changes."""

import re

import pytest
from django.utils import timezone

from annotations.models import Annotation, Assignment, AuditEvent, BatchExam, ReviewBatch
from annotations.roles import Role
from annotations.selectors.batches.progress import batch_progress
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.factories import DatasetFactory, ExamFactory, UserFactory, add_reference_labels, batch_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive():
    dataset = DatasetFactory(name="archive")
    return ExamFactory.create_batch(12, dataset=dataset)


def design_post(tnmg, readers, **extra):
    data = {
        "name": "Designed",
        "taxonomy": tnmg.pk,
        "readers": [r.pk for r in readers],
        "readers_per_exam": 2,
        "suggestion_mode": "hidden",
        "datasets": ["archive"],
        "strata": 4,
        "gold_fraction": 0,
        "retest_fraction": 0,
        "min_pair_overlap": 0,
        "seed": 1,
        "sex": "",
    }
    data.update(extra)
    return data


def api_spec(tnmg, readers, name: str, **extra) -> dict:
    """The API's batch spec over the archive: two readers of each exam."""
    spec = {
        "name": name,
        "taxonomy_id": tnmg.pk,
        "reader_ids": [r.pk for r in readers],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
    }
    return {**spec, **extra}


def test_the_designer_previews_the_overlap_matrix_before_anything_is_created(
    client_for, diego, ana, bruno, tnmg, archive
):
    response = client_for(diego).post("/batches/new/", design_post(tnmg, [ana, bruno], action="preview"))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="overlap-matrix"' in page and "12 of 12 matching exams" in page
    assert 'value="create"' in page
    assert not ReviewBatch.objects.exists()


def test_creating_from_the_designer_starts_the_batch_and_opens_its_dashboard(
    client_for, diego, ana, bruno, tnmg, archive
):
    response = client_for(diego).post("/batches/new/", design_post(tnmg, [ana, bruno], action="create"))
    batch = ReviewBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert batch.status == "active" and Assignment.objects.filter(batch=batch).count() == 24
    dashboard = client_for(diego).get(response["Location"]).content.decode()
    assert "0 of 12 exams fully read; 0 of 24 reads done; 0 skipped." in dashboard


def test_the_batch_keeps_the_criteria_it_was_designed_with_as_data(
    client_for, diego, ana, bruno, tnmg, archive
):
    """The design record says how the exams were chosen: lists stay lists, so the choice can be read back
    (and run again), not Python's text of them ("['archive']")."""
    client_for(diego).post("/batches/new/", design_post(tnmg, [ana, bruno], action="create"))
    criteria = ReviewBatch.objects.get().design["criteria"]
    assert criteria["datasets"] == ["archive"]
    assert criteria["reference_labels"] == []
    assert criteria["quality_grades"] == ["", "good", "acceptable"]  # none ticked: every grade but poor
    assert criteria["sex"] is None and criteria["age_min"] is None


def test_a_design_that_cannot_meet_its_goals_shows_why_and_offers_no_create(
    client_for, diego, ana, bruno, tnmg, archive
):
    response = client_for(diego).post(
        "/batches/new/",
        design_post(tnmg, [ana, bruno], readers_per_exam=1, min_pair_overlap=2, action="create"),
    )
    page = response.content.decode()
    assert "should share at least 2 exams" in page
    assert 'value="create"' not in page
    assert 'id="cannot-create"' in page  # where the button was: why there is none, and what to change
    assert not ReviewBatch.objects.exists()


def test_readers_and_outsiders_cannot_design_or_watch_batches(client_for, ana, eve, diego, tnmg, archive):
    batch = batch_for(tnmg, diego, [ana], archive, name="B")
    for user in (ana, eve):
        client = client_for(user)
        for url in (
            "/batches/",
            "/batches/new/",
            f"/batches/{batch.pk}/",
            f"/batches/{batch.pk}/progress.json",
            "/api/v1/batches/",
            f"/api/v1/batches/{batch.pk}/progress/",
        ):
            assert client.get(url).status_code == 403, (user, url)
        assert client.post(f"/batches/{batch.pk}/close/").status_code == 403
    batch.refresh_from_db()
    assert batch.status == "active"


def test_the_api_previews_and_creates_a_batch(client_for, diego, ana, bruno, tnmg, archive):
    client = client_for(diego)
    spec = {
        "name": "API",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
        "sample_size": 6,
        "seed": 3,
    }
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert preview["exams"] == 6 and preview["pair_overlap"] == [[6, 6], [6, 6]]
    created = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201
    assert BatchExam.objects.filter(batch_id=created.json()["id"]).count() == 6
    refused = client.post(
        "/api/v1/batches/", {**spec, "reader_ids": [diego.pk]}, content_type="application/json"
    )
    assert refused.status_code == 400 and "not readers: diego" in refused.json()["detail"]


def test_the_api_refuses_lookups_that_are_not_declared_criteria(client_for, diego, ana, tnmg, archive):
    spec = {
        "name": "x",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "criteria": {"reference_labels": ["assignments__reader__username:ana' OR 1=1"]},
    }
    response = client_for(diego).post("/api/v1/batches/preview/", spec, content_type="application/json")
    assert response.status_code == 400


def read(reader, assignment, codes, seconds):
    annotation = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    return annotation_submit(
        actor=reader,
        assignment=assignment,
        labels=[LabelInput(c) for c in codes],
        time_on_task_ms=seconds * 1000,
        revision=annotation.revision,
    )


def test_progress_gives_each_readers_counts_times_gold_score_and_reads_per_day(
    ana, bruno, diego, tnmg, archive
):
    from annotations.services.taxonomy import taxonomy_load_shipped

    taxonomy_load_shipped()  # code15:RBBB reaches TNMG's RBBB through the CODE-15% taxonomy's cross-map
    for exam in archive[:2]:
        add_reference_labels(exam, ("code15", "RBBB"))
    batch = batch_for(
        tnmg, diego, [ana, bruno], archive, name="P", readers_per_exam=1, seed=2, gold_exams=archive[:2]
    )
    queue = Assignment.objects.filter(batch=batch, reader=ana).order_by("position")
    gold = list(queue.filter(exam__in=archive[:2]))
    regular = list(queue.exclude(exam__in=archive[:2])[:2])
    read(ana, gold[0], ["RBBB"], 10)  # found the known finding
    read(ana, gold[1], ["SB"], 20)  # missed it
    read(ana, regular[0], ["SB"], 30)
    read(ana, regular[1], ["NORM"], 40)
    progress = batch_progress(diego, batch)
    rows = {row["username"]: row for row in progress["readers"]}
    assert rows["ana"]["done"] == 4 and rows["ana"]["remaining"] == rows["ana"]["total"] - 4
    assert rows["ana"]["median_seconds"] == pytest.approx(25.0)
    assert (rows["ana"]["q1_seconds"], rows["ana"]["q3_seconds"]) == pytest.approx((17.5, 32.5))
    assert (rows["ana"]["gold_exact"], rows["ana"]["gold_read"]) == (1, 2)
    assert rows["bruno"]["done"] == 0 and rows["bruno"]["median_seconds"] is None
    assert progress["reads_per_day"] == [(timezone.now().date().isoformat(), 4)]
    assert progress["coverage"]["reads_done"] == 4
    assert Annotation.objects.filter(assignment__batch=batch, status="submitted").count() == 4


def test_closing_from_the_dashboard_is_audited(client_for, diego, ana, tnmg, archive):
    batch = batch_for(tnmg, diego, [ana], archive, name="C")
    response = client_for(diego).post(f"/batches/{batch.pk}/close/")
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == "closed"
    assert AuditEvent.objects.filter(action="batch.close", actor=diego).exists()
    # Its readers have nothing "remaining" any more: what they had not read was left unread.
    page = client_for(diego).get(f"/batches/{batch.pk}/").content.decode()
    header = page.split('id="reader-progress"', 1)[1].split("</thead>", 1)[0]
    assert "Left unread at closing" in header and "Remaining" not in header


def test_the_designer_opens_with_the_default_taxonomy_chosen(client_for, diego, tnmg, archive):
    """A coordinator who does not touch the taxonomy list gets the default one, not an empty choice."""
    from annotations.models import Taxonomy

    other = Taxonomy.objects.create(key="zz-other", version="1", name="Other", content_sha256="0" * 64)
    page = client_for(diego).get("/batches/new/").content.decode()
    select = page[
        page.index('<select name="taxonomy"') : page.index("</select>", page.index('name="taxonomy"'))
    ]
    options = re.findall(r'<option value="([^"]*)"', select)
    # With no empty choice the browser selects the first option, which is the default taxonomy.
    assert options == [str(tnmg.pk), str(other.pk)]


def test_the_designer_refuses_a_score_to_stratify_by_that_no_exam_carries(
    client_for, diego, ana, bruno, tnmg, archive
):
    post = design_post(tnmg, [ana, bruno], action="preview", sample_size=6, stratify_by="m:NOPE")
    response = client_for(diego).post("/batches/new/", post)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ReviewBatch.objects.exists()


def test_the_coordinator_chooses_the_consensus_rule_in_the_designer_and_the_api(
    client_for, diego, ana, bruno, tnmg, archive
):
    """Majority (with its threshold) or the latent-class estimate (with the margin left to adjudication),
    chosen when the batch is designed, from the page or the API; the worker decides by what is stored."""
    from annotations.selectors.agreement.rules import consensus_settings

    client = client_for(diego)
    post = design_post(
        tnmg,
        [ana, bruno],
        action="create",
        consensus_method="latent",
        consensus_threshold="0.5",
        latent_margin="0.15",
    )
    client.post("/batches/new/", post)
    page_batch = ReviewBatch.objects.get()
    assert page_batch.design["consensus"] == {"method": "latent", "threshold": 0.5, "latent_margin": 0.15}
    assert consensus_settings(page_batch)["method"] == "latent"
    designer = client.get("/batches/new/").content.decode()
    assert 'name="consensus_method"' in designer and 'name="latent_margin"' in designer

    spec = {
        "name": "API rule",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
        "consensus_method": "majority",
        "consensus_threshold": 0.6,
        # ana and bruno hold these exams in the batch the page just made.
        "exclude_seen": False,
        "independence_off_reason": "the same exams designed again",
    }
    created = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201
    rule = ReviewBatch.objects.get(pk=created.json()["id"]).design["consensus"]
    assert rule == {"method": "majority", "threshold": 0.6, "latent_margin": 0.1}
    refused = client.post("/api/v1/batches/", {**spec, "latent_margin": 0.5}, content_type="application/json")
    assert refused.status_code == 400


def test_the_designer_says_when_the_latent_rule_will_leave_disagreements_to_the_majority(
    client_for, diego, ana, bruno, tnmg, archive
):
    """The latent estimate needs three reads of an exam, and a class needs 20 exams with a positive read
    of it: a coordinator who picks it for a batch that cannot reach either is told before creating it."""
    from annotations.lib.stats.consensus import MIN_LATENT_POSITIVE_EXAMS

    carol = UserFactory(username="carol", roles=[Role.READER])
    client = client_for(diego)
    spec = {
        "name": "Small latent",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, bruno.pk, carol.pk],
        "readers_per_exam": 2,
        "criteria": {"datasets": ["archive"]},
        "consensus_method": "latent",
    }
    two = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert two["latent_note"] == {"never_used": "readers", "min_reads": 3, "min_positive_exams": 20}
    three = client.post(
        "/api/v1/batches/preview/", {**spec, "readers_per_exam": 3}, content_type="application/json"
    ).json()
    assert three["exams"] == 12 < MIN_LATENT_POSITIVE_EXAMS
    assert three["latent_note"] == {"never_used": "exams", "min_reads": 3, "min_positive_exams": 20}
    majority = client.post(
        "/api/v1/batches/preview/", {**spec, "consensus_method": "majority"}, content_type="application/json"
    ).json()
    assert majority["latent_note"] is None

    three_readers = design_post(
        tnmg, [ana, bruno, carol], action="preview", readers_per_exam=3, consensus_method="latent"
    )
    page = client.post("/batches/new/", three_readers).content.decode()
    assert 'id="latent-note"' in page and "fewer than 20 exams" in page
    page = client.post(
        "/batches/new/", design_post(tnmg, [ana, bruno, carol], action="preview", consensus_method="latent")
    ).content.decode()
    assert 'id="latent-note"' in page and "fewer than 3 readers" in page


def test_a_sample_larger_than_the_matching_exams_is_said_in_the_preview_and_the_record(
    client_for, diego, ana, bruno, tnmg, archive
):
    """Asked for 20 of 12 matching exams, the designer takes all 12; the coordinator is told so in words,
    in the page and in the API's preview, not left to compare two counts; the created batch's audit row
    keeps both."""
    client = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "Short", sample_size=20)
    preview = client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert preview["exams"] == 12 and preview["sample_size"] == 20 and preview["sample_shortfall"] == 8
    assert preview["warnings"] == [
        "A sample of 20 exams was asked for, but only 12 match the criteria: the batch takes all 12."
    ]
    exact = client.post(
        "/api/v1/batches/preview/", {**spec, "sample_size": 12}, content_type="application/json"
    ).json()
    assert exact["sample_shortfall"] == 0 and exact["warnings"] == []

    page = client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="preview", sample_size=20))
    html = page.content.decode()
    assert 'id="plan-warnings"' in html
    assert "A sample of 20 exams was asked for, but only 12 match the criteria" in html
    assert 'value="create"' in html  # a warning, not a refusal
    fits = client.post("/batches/new/", design_post(tnmg, [ana, bruno], action="preview", sample_size=6))
    assert 'id="plan-warnings"' not in fits.content.decode()

    created = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert created.status_code == 201 and created.json()["sample_shortfall"] == 8
    record = AuditEvent.objects.get(action="batch.create")
    assert record.after["sample_size"] == 20 and record.after["sample_shortfall"] == 8


@pytest.mark.parametrize("seed", [2**64, -1])
def test_a_seed_no_column_holds_is_refused_naming_the_field_on_the_page_and_the_api(
    client_for, diego, ana, bruno, tnmg, archive, seed
):
    """The preview drew with any integer, then creating the batch failed with a 500 storing it."""
    client = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "Seeded", sample_size=6, seed=seed)
    for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
        answer = client.post(url, spec, content_type="application/json")
        assert answer.status_code == 400 and "seed" in answer.json(), (url, answer.content)
    for action in ("preview", "create"):
        page = client.post("/batches/new/", design_post(tnmg, [ana, bruno], action=action, seed=seed))
        assert page.status_code == 200 and 'id="id_seed"' in page.content.decode()
        assert "Ensure this value is" in page.content.decode(), action
    assert not ReviewBatch.objects.exists()


def test_the_api_refuses_a_score_window_or_strata_that_name_no_model_score(
    client_for, diego, ana, bruno, tnmg, archive
):
    """The page refused these; the API took them and dropped the window (every exam matched) or put every
    exam in the lowest stratum (a provider no exam has a score from)."""
    client = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "Scored")
    for criteria, field in (
        ({"suggestion_min": 0.5}, "suggestion_provider"),
        ({"suggestion_code": "AF", "suggestion_min": 0.5}, "suggestion_provider"),
        ({"suggestion_provider": "m", "suggestion_max": 0.5}, "suggestion_code"),
    ):
        body = {**spec, "criteria": {"datasets": ["archive"], **criteria}}
        for url in ("/api/v1/batches/preview/", "/api/v1/batches/"):
            answer = client.post(url, body, content_type="application/json")
            assert answer.status_code == 400, (criteria, url, answer.content)
            assert field in answer.json()["criteria"], answer.json()
    stratified = {**spec, "sample_size": 6, "stratify_provider": "nope", "stratify_code": "AF"}
    answer = client.post("/api/v1/batches/preview/", stratified, content_type="application/json")
    assert answer.status_code == 400 and "nope" in answer.json()["detail"], answer.content
    assert not ReviewBatch.objects.exists()


def test_retests_that_do_not_fit_or_round_to_none_are_told_and_the_batch_is_still_created(
    client_for, diego, ana, bruno, tnmg, archive
):
    """12 exams, two readers of each: 12 a reader. 0.5 asks for 6 retests a reader, which a queue of 12
    cannot hold 10 exams after their first reads; 0.04 rounds to none. Neither refuses the design."""
    client = client_for(diego)
    short = client.post(
        "/batches/new/", design_post(tnmg, [ana, bruno], action="preview", retest_fraction=0.5)
    )
    text = short.content.decode()
    assert "This design cannot be created" not in text
    assert re.search(r"\d+ of the 12 retests asked could not be placed at least 10 exams after", text), text
    preview = client.post(
        "/api/v1/batches/preview/",
        api_spec(tnmg, [ana, bruno], "None", retest_fraction=0.04),
        content_type="application/json",
    ).json()
    assert any("rounds to no retest" in w and "0.09" in w for w in preview["warnings"]), preview["warnings"]
    created = client.post(
        "/api/v1/batches/",
        api_spec(tnmg, [ana, bruno], "Fewer", retest_fraction=0.5),
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    batch = ReviewBatch.objects.get(pk=created.json()["id"])
    assert batch.design["retests_asked"] == 12 and batch.design["retests_unplaced"] > 0
    audit = AuditEvent.objects.filter(action="batch.create").latest("pk").after
    assert audit["retests_unplaced"] == batch.design["retests_unplaced"]


def test_a_name_another_batch_bears_is_warned_of_in_the_preview(client_for, diego, ana, bruno, tnmg, archive):
    """Two batches of one name read alike in every list, export and release card."""
    client = client_for(diego)
    spec = api_spec(tnmg, [ana, bruno], "Pilot")
    assert (
        client.post("/api/v1/batches/preview/", spec, content_type="application/json").json()["warnings"]
        == []
    )
    first = client.post("/api/v1/batches/", spec, content_type="application/json")
    assert first.status_code == 201, first.content
    batch_id = first.json()["id"]
    again = client.post(
        "/api/v1/batches/preview/", {**spec, "name": "pilot "}, content_type="application/json"
    ).json()
    assert again["warnings"] == [
        f"A batch named “pilot” exists already (batch {batch_id}, Active): lists, exports and releases "
        "would show two batches of that name."
    ]
    off = {"exclude_seen_offered": "1", "independence_off_reason": "the same exams designed again"}
    page = client.post(
        "/batches/new/", design_post(tnmg, [ana, bruno], action="preview", name="PILOT", **off)
    )
    html = page.content.decode()
    assert f"(batch {batch_id}, Active)" in html and 'value="create"' in html  # warned, not refused


def test_the_dashboards_gold_score_and_the_agreement_pages_gold_accuracy_count_the_same_exams(
    client_for, ana, bruno, diego, tnmg, archive
):
    """A gold exam is read right when the reader marked every known finding and added none the reference
    speaks for (here a CODE-15% label, which speaks for six classes and is silent on the rest). The
    dashboard's live count said 2 / 4 where the agreement figures said 0.25 for the same reader: it did
    not count a finding added."""
    from annotations.services.agreement.compute import batch_agreement_compute
    from annotations.services.taxonomy import taxonomy_load_shipped

    taxonomy_load_shipped()
    for exam in archive[:3]:
        add_reference_labels(exam, ("code15", "RBBB"))
    batch = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        archive[:4],
        name="Gold",
        readers_per_exam=1,
        seed=2,
        gold_exams=archive[:3],
    )
    gold = {a.exam_id: a for a in Assignment.objects.filter(batch=batch, reader=ana, exam__in=archive[:3])}
    first, second, third = (gold[exam.pk] for exam in archive[:3])
    read(ana, first, ["RBBB"], 10)  # right
    read(ana, second, ["RBBB", "LBBB"], 10)  # found it, and added a finding CODE-15% would have listed
    read(ana, third, ["RBBB", "LAFB"], 10)  # LAFB: a class CODE-15% is silent on, so not wrong
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    (row,) = [
        r
        for r in client.get(f"/api/v1/batches/{batch.pk}/progress/").json()["readers"]
        if r["username"] == "ana"
    ]
    assert (row["gold_exact"], row["gold_read"]) == (2, 3)
    quality = client.get(f"/api/v1/batches/{batch.pk}/agreement/").json()
    (ana_quality,) = [r for r in quality["readers"] if r["username"] == "ana"]
    assert ana_quality["gold_exam_accuracy"] == pytest.approx(2 / 3)
    page = client.get(f"/batches/{batch.pk}/").content.decode()
    assert "Gold exams read right" in page
