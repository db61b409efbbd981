"""A finished, adjudicated study to audit (tests.exporting's five exams: E001-E004 have a consensus, E005
was never read) and the auditors: dora reads, flor reads and adjudicates."""

from __future__ import annotations

from annotations.models import Assignment
from annotations.roles import Role
from annotations.services.batches.lifecycle import batch_close
from tests.exporting import Study, labelled_study, read
from tests.factories import UserFactory


def finished_study(ana, bruno, carla, diego, tnmg, *, close: bool = True) -> Study:
    carol = UserFactory(username="carol", roles=[Role.READER])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    if close:
        batch_close(batch=study.batch, actor=diego)
    return study


def auditors() -> tuple:
    dora = UserFactory(username="dora", roles=[Role.READER])
    flor = UserFactory(username="flor", roles=[Role.READER, Role.ADJUDICATOR])
    return dora, flor


def audit_body(study: Study, auditor_ids: list[int], **extra) -> dict:
    return {"name": "Audit", "audit_of": [study.batch.pk], "auditor_ids": auditor_ids, "seed": 7, **extra}


def read_all(audit, reader, codes_by_exam: dict[int, list[str]]) -> None:
    for slot in Assignment.objects.filter(batch=audit, reader=reader).order_by("position"):
        read(reader, audit, slot.exam, codes_by_exam[slot.exam_id])
