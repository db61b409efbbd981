"""Blinding across batches and over time, through the HTTP interface each role uses.

The same exam can sit in several batches, and one account can be both reader and adjudicator. Nobody
adjudicates an exam they read in any batch; nobody is handed to read an exam whose dispute they saw;
a suggestion seen once is seen for good; what the reader's browser receives never names the content.
"""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from annotations.models import (
    AdjudicationView,
    Annotation,
    Assignment,
    AuditEvent,
    BatchExam,
    ReferenceLabel,
    ReviewBatch,
    Suggestion,
    SuggestionExposure,
    SuggestionScore,
)
from annotations.selectors.blinding import _draw
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.batches.queues import batch_add_exams
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.reading import LabelInput, annotation_submit
from tests.factories import DatasetFactory, ExamFactory, UserFactory, batch_for, make_exam
from tests.reading.helpers import ref

pytestmark = pytest.mark.django_db
READ = "/api/v1/reading/assignments"
# These tests give one reader the same exam in several batches: independent reads turned off, as they must
# be for that (with a reason).
OFF = {"exclude_seen": False, "independence_off_reason": "the same reader meets the exam in several batches"}


def client(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def submit(user, assignment: Assignment, codes: list[str]) -> dict:
    response = client(user).post(
        f"{READ}/{ref(assignment)}/submit/",
        {"labels": [{"code": c} for c in codes], "revision": 0},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    return response.json()


def slot(batch, user, exam) -> Assignment:
    return Assignment.objects.get(batch=batch, reader=user, exam=exam, read_round=1)


@pytest.fixture
def dave(db):
    """A cardiologist who both reads and adjudicates."""
    return UserFactory(username="dave", roles=["reader", "adjudicator"])


def disputed_batch(ana, bruno, diego, tnmg, exams, name="Disputed"):
    """ana and bruno read every exam with different statements: every exam is disputed (a tie)."""
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name=name, seed=3)
    for exam in exams:
        annotation_submit(actor=ana, assignment=slot(batch, ana, exam), labels=[LabelInput("SB")], revision=0)
        annotation_submit(
            actor=bruno, assignment=slot(batch, bruno, exam), labels=[LabelInput("ST")], revision=0
        )
    batch_agreement_compute(batch.pk)
    return batch


def open_case(user, batch, exam) -> int:
    return client(user).get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/").status_code


# --- Adjudication: never an exam the adjudicator reads anywhere ------------------------------------------
def test_an_exam_read_in_another_batch_is_not_in_the_adjudicators_queue_nor_open(
    ana, bruno, diego, dave, tnmg
):
    exam, other = ExamFactory(), ExamFactory()
    disputed = disputed_batch(ana, bruno, diego, tnmg, [exam, other])
    # dave reads the same exam in another batch (not yet read: a read he will make blind).
    batch_for(tnmg, diego, [dave], [exam], name="B")
    queue = client(dave).get("/api/v1/adjudication/").json()
    assert {(row["batch_id"], row["exam_id"]) for row in queue} == {(disputed.pk, other.pk)}
    assert open_case(dave, disputed, exam) == 404
    assert client(dave).get(f"/adjudication/{disputed.pk}/{exam.pk}/").status_code == 404
    assert client(dave).get(f"/api/v1/adjudication/{disputed.pk}/{exam.pk}/waveform/").status_code == 404
    decided = client(dave).post(
        f"/api/v1/adjudication/{disputed.pk}/{exam.pk}/",
        {"decisions": [{"code": "ST", "value": False}], "version": 0},
        content_type="application/json",
    )
    assert decided.status_code == 404
    assert open_case(dave, disputed, other) == 200  # the rule bars exams, not the adjudicator


def test_opening_a_case_is_recorded_once_per_adjudicator(ana, bruno, diego, carla, tnmg):
    exam = ExamFactory()
    disputed = disputed_batch(ana, bruno, diego, tnmg, [exam])
    assert open_case(carla, disputed, exam) == 200
    assert client(carla).get(f"/adjudication/{disputed.pk}/{exam.pk}/").status_code == 200
    assert AdjudicationView.objects.filter(adjudicator=carla, exam=exam, batch=disputed).count() == 1


# --- Reading: never an exam whose dispute the reader saw -------------------------------------------------
def seen_disputes(ana, bruno, diego, dave, tnmg, n=4):
    """n exams disputed in one batch, every case opened by dave; then a second batch of the same exams,
    read by fay alone, still unread."""
    exams = [ExamFactory() for _ in range(n)]
    disputed = disputed_batch(ana, bruno, diego, tnmg, exams)
    for exam in exams:
        assert open_case(dave, disputed, exam) == 200
    fay = UserFactory(username="fay", roles=["reader"])
    later = batch_for(tnmg, diego, [fay], exams, name="Later")
    return exams, later, fay


def test_adding_a_reader_never_hands_them_an_exam_whose_dispute_they_opened(ana, bruno, diego, dave, tnmg):
    exams, later, _fay = seen_disputes(ana, bruno, diego, dave, tnmg)
    other = ExamFactory()
    batch_add_exams(batch=later, exams=[other], actor=diego)
    added = client(diego).post(f"/batches/{later.pk}/add-readers/", {"readers": [dave.pk]})
    assert added.status_code == 302
    held = set(Assignment.objects.filter(batch=later, reader=dave).values_list("exam_id", flat=True))
    assert held.isdisjoint({e.pk for e in exams})
    assert Assignment.objects.filter(batch=later).count() == len(exams) + 1  # nothing lost


def test_a_reassign_keeps_exams_whose_dispute_the_new_reader_opened(ana, bruno, diego, dave, tnmg):
    exams, later, fay = seen_disputes(ana, bruno, diego, dave, tnmg)
    response = client(diego).post(
        f"/batches/{later.pk}/reassign/", {"from_reader": fay.pk, "to_reader": dave.pk}
    )
    assert response.status_code == 302
    assert not Assignment.objects.filter(batch=later, reader=dave).exists()
    assert Assignment.objects.filter(batch=later, reader=fay).count() == len(exams)
    # The audit says why they stayed: dave saw their disputes, he did not hold them already.
    audit = AuditEvent.objects.get(action="batch.reassign", target_id=str(later.pk))
    assert audit.after.pop("kept_back")["by_reason"]["saw_dispute"] == len(exams)
    assert audit.after == {
        "reader": "dave",
        "moved": 0,
        "kept_because_already_assigned": 0,
        "kept_because_dispute_seen": len(exams),
        "kept_because_retest_follows": 0,
        "reader_left": False,
        "drafts_handed_on": 0,
        "drafts_kept": 0,
        "set_aside_untaken": 0,
        "kept_because_seen_elsewhere": 0,
        "retests_too_close": 0,
        "retests_withdrawn": 0,
    }


def test_escalation_never_brings_in_a_reader_who_opened_the_exams_dispute(ana, bruno, diego, dave, tnmg):
    exam = ExamFactory()
    disputed = disputed_batch(ana, bruno, diego, tnmg, [exam])
    assert open_case(dave, disputed, exam) == 200
    fay = UserFactory(username="fay", roles=["reader"])
    gus = UserFactory(username="gus", roles=["reader"])
    batch = batch_for(
        tnmg,
        diego,
        [fay, gus, dave],
        [exam],
        name="Escalating",
        readers_per_exam=2,
        escalation={"mode": "add_reader", "cap": 1},
    )
    # The design itself never handed dave the exam.
    assert not Assignment.objects.filter(batch=batch, reader=dave).exists()
    submit(fay, slot(batch, fay, exam), ["SB"])
    submit(gus, slot(batch, gus, exam), ["ST"])
    assert not Assignment.objects.filter(batch=batch, reader=dave).exists()
    assert BatchExam.objects.get(batch=batch, exam=exam).needs_adjudication is True


def test_a_batch_is_never_designed_to_hand_a_reader_an_exam_whose_dispute_they_opened(
    ana, bruno, diego, dave, tnmg
):
    exams = [ExamFactory() for _ in range(3)]
    disputed = disputed_batch(ana, bruno, diego, tnmg, exams)
    for exam in exams:
        assert open_case(dave, disputed, exam) == 200
    fay = UserFactory(username="fay", roles=["reader"])
    fresh = [ExamFactory() for _ in range(3)]
    batch = batch_for(tnmg, diego, [fay, dave], exams + fresh, name="Mixed", readers_per_exam=1)
    held = set(Assignment.objects.filter(batch=batch, reader=dave).values_list("exam_id", flat=True))
    assert held.isdisjoint({e.pk for e in exams})


def test_a_copy_of_an_ecg_whose_dispute_the_reader_saw_is_kept_from_them_everywhere(
    ana, bruno, diego, dave, tnmg
):
    """The same waveform under another dataset is the same ECG: a reader who opened its dispute under one
    id is no more blind to it under the other, whichever of the two came first."""
    originals = [ExamFactory() for _ in range(2)]
    disputed = disputed_batch(ana, bruno, diego, tnmg, originals)
    assert open_case(dave, disputed, originals[0]) == 200
    # the copy of the exam whose case he opened, one of the other exam, and a case he opens on a copy
    copies = DatasetFactory(name="copies")
    seen_copy = ExamFactory(dataset=copies, copy_of=originals[0])
    other_copy = ExamFactory(dataset=copies, copy_of=originals[1])
    fay = UserFactory(username="fay", roles=["reader"])
    spec = {
        "name": "Copies",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [fay.pk, dave.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["copies"]},
        **OFF,  # designed three times over the same exams
    }
    preview = client(diego).post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    seen = {row["reader"]: row for row in preview["seen_elsewhere"]}
    assert seen["dave"]["dispute"] == 1 and seen["fay"]["dispute"] == 0
    # Designed with both readers, then fay's exams handed to dave: the copy stays with fay.
    for _ in range(3):
        created = client(diego).post("/api/v1/batches/", spec, content_type="application/json")
        assert created.status_code == 201, created.content
        batch = ReviewBatch.objects.get(pk=created.json()["id"])
        assert not Assignment.objects.filter(batch=batch, reader=dave, exam=seen_copy).exists()
        client(diego).post(f"/batches/{batch.pk}/reassign/", {"from_reader": fay.pk, "to_reader": dave.pk})
        assert Assignment.objects.get(batch=batch, exam=seen_copy).reader_id == fay.pk
        assert Assignment.objects.get(batch=batch, exam=other_copy).reader_id == dave.pk
        spec["seed"] = spec.get("seed", 0) + 1
        spec["name"] += "+"
    # And the other way: a case opened on a copy keeps the first exam of that waveform from him.
    third = ExamFactory()
    third_copy = ExamFactory(dataset=DatasetFactory(name="more copies"), copy_of=third)
    copy_batch = disputed_batch(ana, bruno, diego, tnmg, [third_copy], name="Disputed copy")
    assert open_case(dave, copy_batch, third_copy) == 200
    later = batch_for(tnmg, diego, [fay], [third], name="Originals")
    assert client(diego).post(f"/batches/{later.pk}/add-readers/", {"readers": [dave.pk]}).status_code == 302
    assert not Assignment.objects.filter(batch=later, reader=dave).exists()


def test_gold_exams_are_drawn_only_from_exams_every_reader_may_read(ana, bruno, diego, dave, tnmg):
    """Every reader reads a gold exam: one whose dispute a reader saw cannot be gold. Drawn from the
    others, the batch is created whatever the seed, and the coordinator is not told that an exam
    'cannot get its readers'."""
    from tests.factories import add_reference_labels

    exams = [ExamFactory(dataset=DatasetFactory(name="gold pool")) for _ in range(6)]
    for exam in exams:
        add_reference_labels(exam, ("code15", "RBBB"))
    disputed = disputed_batch(ana, bruno, diego, tnmg, exams[:2])
    for exam in exams[:2]:
        assert open_case(dave, disputed, exam) == 200
    fay = UserFactory(username="fay", roles=["reader"])
    for seed in range(8):
        spec = {
            "name": f"Gold {seed}",
            "taxonomy_id": tnmg.pk,
            "reader_ids": [fay.pk, dave.pk],
            "readers_per_exam": 1,
            "criteria": {"datasets": ["gold pool"]},
            "gold_fraction": 0.5,
            "seed": seed,
            **OFF,  # designed again for each seed over the same exams
        }
        created = client(diego).post("/api/v1/batches/", spec, content_type="application/json")
        assert created.status_code == 201, (seed, created.content)
        gold = set(
            BatchExam.objects.filter(batch_id=created.json()["id"], is_gold=True).values_list(
                "exam_id", flat=True
            )
        )
        assert len(gold) == 3 and gold.isdisjoint({e.pk for e in exams[:2]}), seed
        held = Assignment.objects.filter(batch_id=created.json()["id"], reader=dave).values_list(
            "exam_id", flat=True
        )
        assert set(held).isdisjoint({e.pk for e in exams[:2]})
    # Too few exams every reader may read to draw the gold from: said as such, nothing created.
    ReferenceLabel.objects.filter(exam__in=exams[2:5]).delete()
    refused = client(diego).post(
        "/api/v1/batches/", {**spec, "name": "Short"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "3 gold exams" in refused.json()["detail"] and "every reader" in refused.json()["detail"]
    assert not ReviewBatch.objects.filter(name="Short").exists()


# --- Suggestions seen once are seen for good ------------------------------------------------------------
def suggestion(exam, tnmg, code="AF"):
    made = Suggestion.objects.create(exam=exam, provider="demo-model", provider_version="1")
    SuggestionScore.objects.create(suggestion=made, diagnostic_class=tnmg.classes.get(code=code), score=0.9)
    return made


def test_a_reader_who_saw_the_suggestion_elsewhere_has_no_read_of_the_exam_without_that_sight(
    ana, diego, tnmg
):
    exam = ExamFactory()
    suggestion(exam, tnmg)
    shown = batch_for(
        tnmg, diego, [ana], [exam], **OFF, name="Shown", suggestion_mode=ReviewBatch.SuggestionMode.SHOWN
    )
    opened = client(ana).get(f"{READ}/{ref(slot(shown, ana, exam))}/")
    assert opened.status_code == 200 and opened.json()["suggestion"] is not None
    two_stage = batch_for(
        tnmg,
        diego,
        [ana],
        [exam],
        **OFF,
        name="Two-stage",
        suggestion_mode=ReviewBatch.SuggestionMode.TWO_STAGE,
    )
    hidden = batch_for(tnmg, diego, [ana], [exam], **OFF, name="Hidden")
    for batch in (two_stage, hidden):
        submit(ana, slot(batch, ana, exam), ["SB"])
        reads = Annotation.objects.filter(assignment__batch=batch)
        assert reads.exists()
        assert all(read.suggestion_shown_at is not None for read in reads), batch.name
    # The two-stage batch keeps its step before its own suggestion, dated from the earlier sight (a
    # retest must not be told from its steps); a hidden batch has one read, the revised one.
    assert list(Annotation.objects.filter(assignment__batch=two_stage).values_list("stage", flat=True)) == [
        Annotation.Stage.BLIND,
        Annotation.Stage.REVISED,
    ]
    assert not Annotation.objects.filter(assignment__batch=hidden, stage=Annotation.Stage.BLIND).exists()


@pytest.mark.parametrize("mode", [ReviewBatch.SuggestionMode.TWO_STAGE, ReviewBatch.SuggestionMode.HIDDEN])
def test_a_blind_draft_continued_after_seeing_the_suggestion_elsewhere_is_not_stored_as_blind(
    ana, diego, tnmg, mode
):
    """The draft was started blind; then the reader opened the exam in a batch that shows the suggestion;
    then they submitted the draft. What they submitted was read with the suggestion seen, and is dated
    from that sight: in a hidden batch it is the revised read; in a two-stage batch it stays the step
    before this batch's suggestion, which is then revealed as for every read of the batch."""
    exam = ExamFactory()
    suggestion(exam, tnmg)
    blind_batch = batch_for(tnmg, diego, [ana], [exam], **OFF, name="Blind first", suggestion_mode=mode)
    shown = batch_for(
        tnmg, diego, [ana], [exam], **OFF, name="Shown", suggestion_mode=ReviewBatch.SuggestionMode.SHOWN
    )
    mine = slot(blind_batch, ana, exam)
    url = f"{READ}/{ref(mine)}"
    body = {"labels": [{"code": "SR"}], "comment": "", "time_on_task_ms": 1000}
    draft = client(ana).put(f"{url}/draft/", {**body, "revision": 0}, content_type="application/json")
    assert draft.status_code == 200 and draft.json()["stage"] == "blind"
    assert client(ana).get(f"{READ}/{ref(slot(shown, ana, exam))}/").json()["suggestion"] is not None
    seen = SuggestionExposure.objects.get(reader=ana, assignment__batch=shown)
    submitted = client(ana).post(f"{url}/submit/", {**body, "revision": 1}, content_type="application/json")
    assert submitted.status_code == 200, submitted.content
    two_stage = mode == ReviewBatch.SuggestionMode.TWO_STAGE
    assert submitted.json()["done"] is not two_stage
    assert bool(submitted.json().get("context", {}).get("suggestion")) is two_stage
    stage = Annotation.Stage.BLIND if two_stage else Annotation.Stage.REVISED
    read = Annotation.objects.get(assignment=mine, status=Annotation.Status.SUBMITTED)
    assert (read.stage, read.suggestion_shown_at) == (stage, seen.shown_at)
    audit = AuditEvent.objects.filter(action="annotation.submit", target_id=str(read.pk)).get()
    assert audit.after["stage"] == stage and audit.after["seen_after_start"] is True


def test_a_suggestion_seen_on_a_copy_of_the_ecg_makes_the_read_not_blind(ana, diego, tnmg):
    """The same waveform imported under another dataset is the same ECG: its suggestion seen under one
    id, a read of the other is not blind, whichever is the copy, begun before or after the sight."""
    first = ExamFactory()
    copy = ExamFactory(dataset=DatasetFactory(name="copies"), copy_of=first)
    for seen_on, read_on in ((first, copy), (copy, first)):
        suggestion(seen_on, tnmg)
        shown = batch_for(
            tnmg,
            diego,
            [ana],
            [seen_on],
            **OFF,
            name=f"Shown {seen_on.pk}",
            suggestion_mode=ReviewBatch.SuggestionMode.SHOWN,
        )
        hidden = batch_for(tnmg, diego, [ana], [read_on], **OFF, name=f"Hidden {read_on.pk}")
        assert client(ana).get(f"{READ}/{ref(slot(shown, ana, seen_on))}/").json()["suggestion"] is not None
        submit(ana, slot(hidden, ana, read_on), ["SB"])
        (read,) = Annotation.objects.filter(assignment__batch=hidden)
        assert read.stage == Annotation.Stage.REVISED and read.suggestion_shown_at is not None, seen_on
    # The designer counts both exams as ones whose suggestion ana saw.
    spec = {
        "name": "Again",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["copies"]},
    }
    preview = client(diego).post("/api/v1/batches/preview/", spec, content_type="application/json").json()
    assert preview["seen_elsewhere"][0]["suggestion"] == 1


def test_after_a_reassign_the_exposure_names_the_reader_who_saw_it(ana, bruno, diego, tnmg):
    exam = ExamFactory()
    suggestion(exam, tnmg)
    shown = batch_for(
        tnmg,
        diego,
        [ana, bruno],
        [exam],
        name="Shown",
        readers_per_exam=1,
        suggestion_mode=ReviewBatch.SuggestionMode.SHOWN,
    )
    first = Assignment.objects.get(batch=shown, exam=exam)
    first_reader, second_reader = (ana, bruno) if first.reader_id == ana.pk else (bruno, ana)
    assert client(first_reader).get(f"{READ}/{ref(first)}/").status_code == 200
    moved = client(diego).post(
        f"/batches/{shown.pk}/reassign/", {"from_reader": first_reader.pk, "to_reader": second_reader.pk}
    )
    assert moved.status_code == 302
    first.refresh_from_db()
    assert first.reader_id == second_reader.pk
    assert client(second_reader).get(f"{READ}/{ref(first)}/").status_code == 200
    submit(second_reader, first, ["SB"])
    exposures = SuggestionExposure.objects.filter(assignment=first)
    assert set(exposures.values_list("reader_id", flat=True)) == {first_reader.pk, second_reader.pk}
    mine = exposures.get(reader=second_reader)
    read = Annotation.objects.get(assignment=first)
    assert read.suggestion_shown_at == mine.shown_at


# --- What the browser receives never names the content -------------------------------------------------
def test_waveform_etags_are_per_assignment_and_never_the_content_hash(ana, diego, tnmg):
    exam = make_exam(dataset_get_or_create(name="etags"), "E1", seed=1)
    batches = [batch_for(tnmg, diego, [ana], [exam], **OFF, name=f"B{i}") for i in range(2)]
    reader = client(ana)
    etags = []
    for batch in batches:
        assignment = slot(batch, ana, exam)
        context = reader.get(f"{READ}/{ref(assignment)}/").json()
        response = reader.get(f"{READ}/{ref(assignment)}/waveform/")
        assert response.status_code == 200
        etag = response["ETag"]
        assert exam.waveform_sha256 not in etag
        assert exam.waveform_sha256 not in str(context)
        assert context["exam"]["waveform_etag"] in etag
        # A re-visit of the same assignment is still served from the browser's cache.
        again = reader.get(f"{READ}/{ref(assignment)}/waveform/", HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304
        etags.append(etag)
    assert etags[0] != etags[1]
    assert hashlib.sha256(b"").hexdigest() not in etags[0]


# --- Escalation reads do not announce themselves ------------------------------------------------------
def test_an_escalation_read_lands_among_the_readers_unread_exams_not_at_the_end(diego, tnmg):
    readers = [UserFactory(username=f"r{i}", roles=["reader"]) for i in range(3)]
    exams = [ExamFactory() for _ in range(12)]
    batch = batch_for(
        tnmg,
        diego,
        readers,
        exams,
        name="Escalating",
        readers_per_exam=2,
        seed=5,
        escalation={"mode": "add_reader", "cap": 1},
    )
    placed = []
    for exam in exams[:6]:
        first, second = Assignment.objects.filter(batch=batch, exam=exam).order_by("reader_id")
        newcomer = next(r for r in readers if r.pk not in (first.reader_id, second.reader_id))
        unread_before = list(
            Assignment.objects.filter(batch=batch, reader=newcomer, status="pending").values_list(
                "exam_id", flat=True
            )
        )
        submit(first.reader, first, ["SB"])
        submit(second.reader, second, ["ST"])
        extra = Assignment.objects.get(batch=batch, exam=exam, reader=newcomer)
        queue = list(
            Assignment.objects.filter(batch=batch, reader=newcomer, status="pending").order_by("position")
        )
        assert {a.exam_id for a in queue} == {*unread_before, exam.pk}  # nothing lost, nothing doubled
        placed.append(queue.index(extra) < len(queue) - 1)
    assert all(placed)


# --- Pseudonyms stay put --------------------------------------------------------------------------------
def test_adding_a_reader_keeps_every_readers_pseudonym(ana, bruno, carla, diego, tnmg):
    exams = [ExamFactory() for _ in range(6)]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Letters")
    exam = exams[0]
    submit(ana, slot(batch, ana, exam), ["SB"])
    submit(bruno, slot(batch, bruno, exam), ["ST"])
    batch_agreement_compute(batch.pk)

    def letters():
        case = client(carla).get(f"/api/v1/adjudication/{batch.pk}/{exam.pk}/").json()
        return {code["code"]: code["votes"] for code in case["disputed"]}

    before = letters()
    # A newcomer whose keyed draw comes before both readers': dealt afresh, he would take "Reader A".
    # The draw is keyed by the user's id: the id is chosen first, so the test cannot run out of users
    # when both readers happen to draw very early (64 random users failed about one run in thirty).
    first = min(_draw(batch.pk, ana.pk), _draw(batch.pk, bruno.pk))
    taken = get_user_model().objects.order_by("-pk").values_list("pk", flat=True).first()
    early = next(pk for pk in range(taken + 1, taken + 10**7) if _draw(batch.pk, pk) < first)
    newcomer = UserFactory(id=early, username="newcomer", roles=["reader"])
    assert (
        client(diego).post(f"/batches/{batch.pk}/add-readers/", {"readers": [newcomer.pk]}).status_code == 302
    )
    assert Assignment.objects.filter(batch=batch, reader=newcomer).exists()
    assert letters() == before


# --- The batch designer says who knows which exams, and can keep them apart ------------------------------
def test_the_designer_counts_exams_readers_know_from_elsewhere_and_can_keep_them_away(ana, diego, tnmg):
    dataset = DatasetFactory(name="known")
    exams = [ExamFactory(dataset=dataset) for _ in range(4)]
    read_before, suggested = exams[0], exams[1]
    batch_for(tnmg, diego, [ana], [read_before], name="Before")
    suggestion(suggested, tnmg)
    shown = batch_for(
        tnmg, diego, [ana], [suggested], name="Shown", suggestion_mode=ReviewBatch.SuggestionMode.SHOWN
    )
    assert client(ana).get(f"{READ}/{ref(slot(shown, ana, suggested))}/").status_code == 200
    fay = UserFactory(username="fay", roles=["reader"])
    spec = {
        "name": "Next",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk, fay.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["known"]},
    }
    coordinator = client(diego)
    preview = coordinator.post("/api/v1/batches/preview/", spec, content_type="application/json")
    assert preview.status_code == 200, preview.content
    rows = {row["reader"]: row for row in preview.json()["seen_elsewhere"]}
    assert rows["ana"] == {"reader": "ana", "read": 2, "skipped": 0, "suggestion": 1, "dispute": 0}
    assert rows["fay"] == {"reader": "fay", "read": 0, "skipped": 0, "suggestion": 0, "dispute": 0}
    created = coordinator.post(
        "/api/v1/batches/", {**spec, "exclude_seen": True}, content_type="application/json"
    )
    assert created.status_code == 201, created.content
    held = set(
        Assignment.objects.filter(batch_id=created.json()["id"], reader=ana).values_list("exam", flat=True)
    )
    assert held and held.isdisjoint({read_before.pk, suggested.pk})
    page = coordinator.post(
        "/batches/new/",
        {
            "name": "Page",
            "taxonomy": tnmg.pk,
            "suggestion_mode": "hidden",
            "readers": [ana.pk, fay.pk],
            "readers_per_exam": 1,
            "datasets": ["known"],
            "strata": 4,
            "gold_fraction": 0,
            "retest_fraction": 0,
            "min_pair_overlap": 0,
            "seed": 0,
            "action": "preview",
        },
    )
    assert page.status_code == 200
    assert (
        b'id="seen-elsewhere"' in page.content
        # ana now also holds two exams of the batch just created
        and b"<th>ana</th><td>4</td><td>1</td><td>0</td>" in page.content
    )


def test_the_suggestion_of_a_copy_of_the_ecg_is_the_one_revealed_and_shown_when_the_exam_has_none(
    ana, bruno, diego, tnmg
):
    """A copy's suggestion counts as seen for the same ECG, so it is also the one shown: a two-stage read of
    an exam whose own suggestion is not computed yet reveals the copy's (and records it as shown), and a
    "shown" batch shows it from the start, whichever of the two is the copy."""
    for reader, computed_on_copy in ((ana, True), (bruno, False)):
        first = ExamFactory()
        copy = ExamFactory(dataset=DatasetFactory(name=f"copies-{reader.pk}"), copy_of=first)
        computed_on, read_on = (copy, first) if computed_on_copy else (first, copy)
        made = suggestion(computed_on, tnmg)
        batches = {
            mode: batch_for(
                tnmg, diego, [reader], [read_on], **OFF, name=f"{mode} {reader.pk}", suggestion_mode=mode
            )
            for mode in (ReviewBatch.SuggestionMode.TWO_STAGE, ReviewBatch.SuggestionMode.SHOWN)
        }
        answer = submit(reader, slot(batches["two_stage"], reader, read_on), ["SB"])
        assert answer["done"] is False, computed_on_copy  # the suggestion is revealed: the revision follows
        assert [s["code"] for s in answer["context"]["suggestion"]["scores"]] == ["AF"]
        assert SuggestionExposure.objects.get(reader=reader).suggestion_id == made.pk
        opened = client(reader).get(f"{READ}/{ref(slot(batches['shown'], reader, read_on))}/").json()
        assert opened["suggestion"] is not None, computed_on_copy


def test_an_exam_left_unread_in_a_closed_batch_is_not_known_to_its_reader(ana, diego, tnmg):
    """A batch closed early and designed again on what it left unread: its never-opened slots were counted
    as "held in another batch", so with exclude_seen every reader was kept away from every exam they had
    never seen, and the preview counted them all. A draft of the closed batch still counts: it was seen."""
    from annotations.services.batches.lifecycle import batch_close

    drafted = ExamFactory(dataset=DatasetFactory(name="reopened"))
    unread = ExamFactory(dataset=DatasetFactory(name="reopened-unread"))
    early = batch_for(tnmg, diego, [ana], [drafted, unread], name="Closed early")
    draft = client(ana).put(
        f"{READ}/{ref(slot(early, ana, drafted))}/draft/",
        {"labels": [{"code": "SB"}], "comment": "", "time_on_task_ms": 1000, "revision": 0},
        content_type="application/json",
    )
    assert draft.status_code == 200, draft.content
    batch_close(batch=early, actor=diego)
    spec = {
        "name": "Again",
        "taxonomy_id": tnmg.pk,
        "reader_ids": [ana.pk],
        "readers_per_exam": 1,
        "criteria": {"datasets": ["reopened", "reopened-unread"]},
        "exclude_seen": True,
    }
    coordinator = client(diego)
    preview = coordinator.post("/api/v1/batches/preview/", spec, content_type="application/json")
    assert preview.status_code == 200, preview.content
    assert preview.json()["seen_elsewhere"] == [
        {"reader": "ana", "read": 1, "skipped": 0, "suggestion": 0, "dispute": 0}
    ]
    # What the closed batch left unread goes to its reader again (it was refused: "the only readers left
    # for them ... were kept away from them").
    again = {**spec, "name": "Again 2", "criteria": {"datasets": ["reopened-unread"]}}
    created = coordinator.post("/api/v1/batches/", again, content_type="application/json")
    assert created.status_code == 201, created.content
    held = set(
        Assignment.objects.filter(batch_id=created.json()["id"], reader=ana).values_list("exam", flat=True)
    )
    assert held == {unread.pk}
