"""A batch whose two readers tie on 1dAVb on some of its exams: the disputes that adjudication, the
coordinator's counts and the releases' undecided cells are tested on."""

from __future__ import annotations

from dataclasses import dataclass

from annotations.services.agreement.compute import batch_agreement_compute
from annotations.services.batches.lifecycle import batch_create
from tests.adjudication.test_adjudication import read
from tests.factories import UserFactory, make_exam


@dataclass
class Tied:
    batch: object
    exams: list
    readers: tuple  # (the reader who marked 1dAVb, the other)


def tied_batch(
    *, coordinator, taxonomy, exams: int, tied: int, name: str = "Disputes", seed: int = 0
) -> Tied:
    """`exams` exams read by two new readers, who agree on SB everywhere and tie on 1dAVb on the first
    `tied`; agreement computed, so the ties are open disputes."""
    one, two = (UserFactory(username=f"{name.lower()}-{n}", roles=["reader"]) for n in ("one", "two"))
    made = [make_exam(seed=seed + i) for i in range(exams)]
    batch = batch_create(
        name=name, taxonomy=taxonomy, exams=made, readers=[one, two], readers_per_exam=2, actor=coordinator
    )
    for index, exam in enumerate(made):
        read(one, batch, exam, ["SB", "1dAVb"] if index < tied else ["SB"])
        read(two, batch, exam, ["SB"])
    batch_agreement_compute(batch.pk)
    return Tied(batch=batch, exams=made, readers=(one, two))
