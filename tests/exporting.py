"""A labelled study for the export tests, built through the real services.

Three readers (ana, bruno, carol) read a dataset of five real synthetic exams; agreement is computed by
the agreement service; carla adjudicates one tie. The reads, chosen so every consensus case appears:

    E001  ana RBBB+SB  bruno RBBB        carol RBBB   -> RBBB unanimous 1, SB majority 0 (1 of 3)
    E002  ana AF       bruno AF (unsure) carol NORM   -> AF majority 1 (2 of 3), NORM majority 0
    E003  ana 1dAVb    bruno NORM        carol NORM   -> NORM majority 1, 1dAVb majority 0
    E004  ana ST       bruno SB          (carol skips)-> ST tied, adjudicated 1; SB tied, undecided
    E005  nobody reads it                             -> not exported
"""

from __future__ import annotations

from dataclasses import dataclass

from annotations.models import Assignment, Exam, ReviewBatch
from annotations.services.adjudication import Decision, adjudication_decide
from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.exams.create import dataset_get_or_create
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit, assignment_skip
from tests.factories import batch_for, make_exam

READS = {
    "E001": {"ana": ["RBBB", "SB"], "bruno": ["RBBB"], "carol": ["RBBB"]},
    "E002": {"ana": ["AF"], "bruno": ["AF?"], "carol": ["NORM"]},
    "E003": {"ana": ["1dAVb"], "bruno": ["NORM"], "carol": ["NORM"]},
    "E004": {"ana": ["ST"], "bruno": ["SB"]},
}


@dataclass
class Study:
    batch: ReviewBatch
    exams: dict[str, Exam]
    readers: list


def read(reader, batch, exam, codes, time_on_task_ms=4321):
    assignment = Assignment.objects.get(batch=batch, exam=exam, reader=reader, read_round=1)
    draft = annotation_save_draft(actor=reader, assignment=assignment, labels=[], revision=0)
    labels = [LabelInput(code.rstrip("?"), uncertain=code.endswith("?")) for code in codes]
    annotation_submit(
        actor=reader,
        assignment=assignment,
        labels=labels,
        revision=draft.revision,
        time_on_task_ms=time_on_task_ms,
    )


def labelled_study(
    *, readers, coordinator, adjudicator, taxonomy, dataset="export-study", name="Export study"
):
    dataset_row = dataset_get_or_create(name=dataset)
    exams = {
        f"E00{i}": make_exam(dataset_row, f"E00{i}", seed=i, age=40 + i, sex="M" if i % 2 else "F")
        for i in range(1, 6)
    }
    batch = batch_for(taxonomy, coordinator, readers, list(exams.values()), name=name, seed=3)
    by_name = {reader.username: reader for reader in readers}
    for external_id, reads in READS.items():
        for username, codes in reads.items():
            read(by_name[username], batch, exams[external_id], codes)
    assignment_skip(
        actor=by_name["carol"],
        assignment=Assignment.objects.get(batch=batch, exam=exams["E004"], reader=by_name["carol"]),
        reason="noisy",
    )
    batch_agreement_compute(batch.pk)
    adjudication_decide(
        actor=adjudicator,
        batch=batch,
        exam_id=exams["E004"].pk,
        decisions=[Decision("ST", True)],
        rationale="clear sinus tachycardia",
        version=0,
    )
    return Study(batch=batch, exams=exams, readers=readers)
