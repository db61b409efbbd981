"""A batch whose two readers tie on 1dAVb on some of its exams: the disputes that adjudication, the
coordinator's counts and the releases' undecided cells are tested on."""

from __future__ import annotations

from dataclasses import dataclass

from tests.factories import UserFactory, batch_with_reads, exams_of


@dataclass
class Tied:
    batch: object
    exams: list
    readers: tuple  # (the reader who marked 1dAVb, the other)


def tied_batch(*, coordinator, taxonomy, exams: int, tied: int, name: str = "Disputes") -> Tied:
    """`exams` exams read by two new readers, who agree on SB everywhere and tie on 1dAVb on the first
    `tied`; agreement computed, so the ties are open disputes."""
    one, two = (UserFactory(username=f"{name.lower()}-{n}", roles=["reader"]) for n in ("one", "two"))
    reads = [[["SB", "1dAVb"] if index < tied else ["SB"], ["SB"]] for index in range(exams)]
    batch = batch_with_reads(taxonomy=taxonomy, actor=coordinator, readers=[one, two], reads=reads, name=name)
    return Tied(batch=batch, exams=exams_of(batch), readers=(one, two))
