"""A release built while disputes are open leaves their cells empty; its page, its API and its dataset card
say how many exams and cells that is, so a coordinator does not publish holes unknowingly, and a release
built after the adjudication says none."""

from __future__ import annotations

import json

import pytest

from annotations.services.adjudication import Decision, adjudication_decide
from tests.disputes import tied_batch
from tests.factories import batch_for, release_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def tied(diego, tnmg):
    """Three exams; on two of them the two readers tie on 1dAVb."""
    made = tied_batch(coordinator=diego, taxonomy=tnmg, exams=3, tied=2, name="Ties")
    return made.batch, made.exams


def built(diego, batch):
    return release_of(actor=diego, batches=[batch])


def card_text(client, release, name: str) -> str:
    return b"".join(client.get(f"/releases/{release.pk}/files/{name}").streaming_content).decode()


def test_a_release_with_open_disputes_says_how_many_exams_it_leaves_undecided(client_for, diego, carla, tied):
    batch, exams = tied
    client = client_for(diego)
    release = built(diego, batch)
    page = client.get(f"/releases/{release.pk}/").content.decode()
    warning = page.split('id="release-undecided"', 1)[1].split("</p>", 1)[0]
    assert "2 exams" in warning and "2 cells" in warning
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["undecided"] == {"exams": 2, "cells": 2}
    card = json.loads(card_text(client, release, "dataset_card.json"))
    assert (card["counts"]["undecided_exams"], card["counts"]["undecided_cells"]) == (2, 2)
    assert "Exams with undecided classes (left empty): 2 (2 cells)" in card_text(
        client, release, "dataset_card.md"
    )

    for exam in exams[:2]:
        adjudication_decide(
            actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("1dAVb", True)], version=0
        )
    settled = built(diego, batch)
    assert 'id="release-undecided"' not in client.get(f"/releases/{settled.pk}/").content.decode()
    assert client.get(f"/api/v1/releases/{settled.pk}/").json()["undecided"] == {"exams": 0, "cells": 0}


def test_an_escalated_class_nobody_adjudicated_yet_is_left_empty_not_given_the_majority(
    client_for, ana, bruno, carla, diego, tnmg
):
    """The batch sends disagreements to an adjudicator. Three reads split 1 to 2 on first-degree AV block:
    the majority says absent, but the dispute is open. The release leaves the cell empty and lists it
    undecided, as the dashboard and the adjudication queue count it; after the decision it is decided."""
    from annotations.models import DisputedLabel
    from annotations.services.agreement.compute import batch_agreement_compute
    from annotations.services.reading import LabelInput, annotation_submit
    from tests.factories import ExamFactory, UserFactory

    exam = ExamFactory()
    eve = UserFactory(username="eve-reader", roles=["reader"])
    batch = batch_for(
        tnmg, diego, [ana, bruno, eve], [exam], name="Escalating", escalation={"mode": "adjudicate"}
    )
    for reader, codes in ((ana, ["SR", "1dAVb"]), (bruno, ["SR"]), (eve, ["SR"])):
        slot = batch.assignments.get(reader=reader, exam=exam)
        annotation_submit(actor=reader, assignment=slot, labels=[LabelInput(c) for c in codes], revision=0)
    batch_agreement_compute(batch.pk)
    assert DisputedLabel.objects.filter(
        batch=batch, reason="escalated", diagnostic_class__code="1dAVb"
    ).exists()
    client = client_for(diego)
    release = built(diego, batch)
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["undecided"] == {"exams": 1, "cells": 1}
    rows = card_text(client, release, "consensus.csv").splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    assert row[header.index("1dAVb")] == "" and row[header.index("SR")] == "1"
    detail = json.loads(card_text(client, release, "consensus.jsonl").splitlines()[0])
    assert [cell["code"] for cell in detail["undecided"]] == ["1dAVb"]
    assert detail["undecided"][0]["reason"] == "escalated"
    assert "1dAVb" not in {cell["code"] for cell in detail["labels"]}
    # The counts of how cells were decided are of the cells the files give: the majority waits.
    card = json.loads(card_text(client, release, "dataset_card.json"))
    assert card["consensus_methods"] == {"unanimous": 1}
    assert "sent to adjudication by the batch's escalation rule" in card_text(
        client, release, "dataset_card.md"
    )
    agreement = client.get(f"/api/v1/batches/{batch.pk}/agreement/").json()
    assert (agreement["consensus"], agreement["consensus_awaiting_adjudication"]) == ({"unanimous": 1}, 1)
    page = client.get(f"/batches/{batch.pk}/agreement/").content.decode()
    assert '<span class="tag">majority' not in page.split('id="consensus-methods"', 1)[1].split("</p>", 1)[0]
    assert "1 cell decided by the batch's rule waits for an adjudicator" in page

    adjudication_decide(
        actor=carla, batch=batch, exam_id=exam.pk, decisions=[Decision("1dAVb", True)], version=0
    )
    settled = built(diego, batch)
    rows = card_text(client, settled, "consensus.csv").splitlines()
    assert rows[1].split(",")[header.index("1dAVb")] == "1"
    assert client.get(f"/api/v1/releases/{settled.pk}/").json()["undecided"] == {"exams": 0, "cells": 0}
    card = json.loads(card_text(client, settled, "dataset_card.json"))
    assert card["consensus_methods"] == {"adjudicated": 1, "unanimous": 1}
    agreement = client.get(f"/api/v1/batches/{batch.pk}/agreement/").json()
    assert (agreement["consensus"], agreement["consensus_awaiting_adjudication"]) == (
        {"adjudicated": 1, "unanimous": 1},
        0,
    )


def test_exams_of_the_batch_nobody_has_read_yet_are_counted_and_listed_by_the_release(
    client_for, ana, bruno, diego, tnmg
):
    """A release has a row for each exam with a submitted read; one added to a running batch and not read
    yet has none, and the release says so (page, API, card), naming it: the card used to count one exam
    fewer than the batch holds with no word why."""
    from annotations.services.agreement.compute import batch_agreement_compute
    from annotations.services.batches.queues import batch_add_exams
    from annotations.services.reading import LabelInput, annotation_submit
    from tests.factories import ExamFactory

    read_exam, unread = ExamFactory(), ExamFactory()
    batch = batch_for(tnmg, diego, [ana, bruno], [read_exam], name="Growing")
    for reader in (ana, bruno):
        slot = batch.assignments.get(reader=reader, exam=read_exam)
        annotation_submit(actor=reader, assignment=slot, labels=[LabelInput("SR")], revision=0)
    batch_add_exams(batch=batch, exams=[unread], actor=diego)
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    release = built(diego, batch)
    table = card_text(client, release, "consensus.csv").splitlines()
    assert len(table) == 2 and read_exam.external_id in table[1]  # the read exam's row alone
    card = json.loads(card_text(client, release, "dataset_card.json"))
    assert card["counts"]["exams"] == 1 and card["counts"]["not_read"] == 1
    assert card["not_read"] == [
        {"dataset": unread.dataset.name, "exam_id": unread.external_id, "batch": batch.pk}
    ]
    markdown = card_text(client, release, "dataset_card.md")
    assert "Exams of the batches with no submitted read (no row in this release): 1; " in markdown
    assert f"{unread.dataset.name}/{unread.external_id}" in markdown
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["not_read"] == 1
    page = client.get(f"/releases/{release.pk}/").content.decode()
    warning = page.split('id="release-not-read"', 1)[1].split("</p>", 1)[0]
    assert "1 exam of its batches had no submitted read" in warning

    for reader in (ana, bruno):
        slot = batch.assignments.get(reader=reader, exam=unread)
        annotation_submit(actor=reader, assignment=slot, labels=[LabelInput("SR")], revision=0)
    complete = built(diego, batch)
    assert client.get(f"/api/v1/releases/{complete.pk}/").json()["not_read"] == 0
    assert 'id="release-not-read"' not in client.get(f"/releases/{complete.pk}/").content.decode()


def test_a_release_of_exams_with_too_few_reads_says_so_on_its_page_and_api(
    client_for, ana, bruno, diego, tnmg
):
    """Every exam read once where the batch's consensus needs two: every class cell of consensus.csv is
    empty, yet the page and API said nothing was undecided (an operator's walk); only the card listed them."""
    from annotations.services.agreement.compute import batch_agreement_compute
    from annotations.services.reading import LabelInput, annotation_submit
    from tests.factories import ExamFactory

    exams = [ExamFactory(), ExamFactory()]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Thin")
    for exam in exams:
        slot = batch.assignments.get(reader=ana, exam=exam)
        annotation_submit(actor=ana, assignment=slot, labels=[LabelInput("SR")], revision=0)
    batch_agreement_compute(batch.pk)
    client = client_for(diego)
    release = built(diego, batch)
    assert client.get(f"/api/v1/releases/{release.pk}/").json()["insufficient_reads"] == 2
    page = client.get(f"/releases/{release.pk}/").content.decode()
    warning = page.split('id="release-insufficient"', 1)[1].split("</p>", 1)[0]
    assert "2 exams had fewer reads than their batch's consensus needs" in warning, warning
    for exam in exams:
        slot = batch.assignments.get(reader=bruno, exam=exam)
        annotation_submit(actor=bruno, assignment=slot, labels=[LabelInput("SR")], revision=0)
    batch_agreement_compute(batch.pk)
    complete = built(diego, batch)
    assert client.get(f"/api/v1/releases/{complete.pk}/").json()["insufficient_reads"] == 0
    assert 'id="release-insufficient"' not in client.get(f"/releases/{complete.pk}/").content.decode()
