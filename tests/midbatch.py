"""A batch caught half-way through by an escalation and a reassignment, for the security walks (access
matrix, blinding crawler) to run against slots that moved after the design.

ana, bruno and fern each hold two of three exams. The exam ana lacks is disputed by bruno and fern and
escalated to her: its extra read stays open in her queue. fern drafts the exam bruno lacks, then leaves the
study, and the coordinator hands her exams to bruno: the draft becomes a new, empty read of his.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from annotations.models import Assignment, ReviewBatch
from annotations.roles import Role
from annotations.services.batches.queues import batch_reassign
from annotations.services.users import user_set_active
from tests.factories import UserFactory, batch_for, make_exam

Read = Callable[[object, Assignment, list[str]], None]


@dataclass
class MidBatch:
    batch: ReviewBatch
    escalated: Assignment  # ana's open extra read of the exam bruno and fern disputed
    handed_on: Assignment  # bruno's new read of the exam fern drafted before she left
    fern: object


def mid_batch(
    *, ana, bruno, diego, taxonomy, dataset, codes: dict[str, list[str]], submit: Read, draft: Read
) -> MidBatch:
    """`submit` and `draft` make a read of the codes given (the crawler marks its comments); `codes`: the
    statements bruno and fern dispute with, and fern's draft ("fern_draft")."""
    fern = UserFactory(username="fern", roles=[Role.READER])
    readers = {"ana": ana, "bruno": bruno, "fern": fern}
    exams = [make_exam(dataset, f"M{i}", seed=20 + i, age=60 + i, sex="M") for i in range(3)]
    batch = batch_for(
        taxonomy,
        diego,
        list(readers.values()),
        exams,
        name="Mid-batch study",
        readers_per_exam=2,
        seed=13,
        escalation={"mode": "add_reader", "cap": 1},
    )

    def slot(exam, name: str) -> Assignment:
        return Assignment.objects.get(batch=batch, exam=exam, reader=readers[name], read_round=1)

    def lacking(name: str):
        return next(
            e for e in exams if not Assignment.objects.filter(batch=batch, exam=e, reader=readers[name])
        )

    disputed, drafted = lacking("ana"), lacking("bruno")
    for name in ("bruno", "fern"):
        submit(readers[name], slot(disputed, name), codes[name])
    escalated = slot(disputed, "ana")
    assert escalated.status == Assignment.Status.PENDING, "the dispute must bring ana in"
    draft(fern, slot(drafted, "fern"), codes["fern_draft"])
    user_set_active(user=fern, active=False, actor=diego)
    batch_reassign(batch=batch, from_reader=fern, to_reader=bruno, actor=diego)
    handed_on = slot(drafted, "bruno")
    assert handed_on.status == Assignment.Status.PENDING and not handed_on.annotations.exists()
    return MidBatch(batch=batch, escalated=escalated, handed_on=handed_on, fern=fern)
