"""Simulated reader studies with a known truth, to check consensus rules and intervals against it.

Pure numpy, seeded. A study has exams whose true labels obey a taxonomy's exclusive sets (one rhythm
at most, one of RBBB/IRBBB at most, "normal ECG" only when nothing else is present), and readers of
stated skill who read them: each reader answers every exclusive set with one member or none (as the
reading service enforces), marks the other classes with their own sensitivity and specificity, and
marks NORM exactly when they marked nothing else. Used by tests and by ``bench/consensus.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .consensus import ExclusiveSet
from .reads import MISSING, Reads

#: Classes of the simulated taxonomy, with the prevalence of the independent ones.
RHYTHM = ("SB", "ST", "AF")
BUNDLE = ("RBBB", "IRBBB")
INDEPENDENT = {"1dAVb": 0.08, "LVH": 0.15, "RARE1": 0.01, "RARE2": 0.004}
RARE = ("RARE1", "RARE2")
CODES: tuple[str, ...] = (*RHYTHM, *BUNDLE, *INDEPENDENT, "NORM")
RHYTHM_PRIOR = (0.12, 0.10, 0.06)  # SB, ST, AF; the rest is sinus rhythm (none of them)
BUNDLE_PRIOR = (0.05, 0.07)


def exclusive_sets() -> list[ExclusiveSet]:
    """The simulated taxonomy's sets: the rhythms, the bundle branch blocks, and NORM vs any diagnosis."""
    index = {code: i for i, code in enumerate(CODES)}
    norm = index["NORM"]
    return [
        ExclusiveSet(tuple(index[c] for c in RHYTHM)),
        ExclusiveSet(tuple(index[c] for c in BUNDLE)),
        ExclusiveSet((norm,), tuple(i for i in range(len(CODES)) if i != norm)),
    ]


@dataclass(frozen=True)
class ReaderSkill:
    """How one reader reads.

    ``sensitivity``/``specificity`` for the independent classes (``rare_sensitivity`` instead on the
    rare ones when given); in an exclusive set, a present member is answered correctly with probability
    ``set_sensitivity`` and otherwise missed, except that ST is taken for SB (and IRBBB for RBBB) with
    probability ``swap``, the confusion a hurried reader makes; an absent set is answered with a random
    member with probability ``1 - specificity``.
    """

    sensitivity: float
    specificity: float
    set_sensitivity: float
    swap: float = 0.0
    rare_sensitivity: float | None = None


GOOD = ReaderSkill(0.92, 0.97, 0.93, 0.03)
FAIR = ReaderSkill(0.82, 0.93, 0.8, 0.1)
POOR = ReaderSkill(0.6, 0.85, 0.5, 0.3, rare_sensitivity=0.05)
CONFUSER = ReaderSkill(0.85, 0.95, 0.3, 0.7)  # takes ST for SB 70% of the time
ADVERSARIAL = ReaderSkill(0.25, 0.6, 0.15, 0.6, rare_sensitivity=0.1)


@dataclass(frozen=True)
class Study:
    reads: Reads  # readers x exams x classes
    truth: npt.NDArray[np.int8]  # exams x classes
    sets: list[ExclusiveSet] = field(default_factory=exclusive_sets)
    codes: tuple[str, ...] = CODES


def _truth(rng: np.random.Generator, n_exams: int) -> npt.NDArray[np.int8]:
    truth = np.zeros((n_exams, len(CODES)), dtype=np.int8)
    for members, prior in ((RHYTHM, RHYTHM_PRIOR), (BUNDLE, BUNDLE_PRIOR)):
        p = np.array([*prior, 1.0 - sum(prior)])
        category = rng.choice(len(p), size=n_exams, p=p)
        for i, code in enumerate(members):
            truth[:, CODES.index(code)] = category == i
    for code, prevalence in INDEPENDENT.items():
        truth[:, CODES.index(code)] = rng.random(n_exams) < prevalence
    norm = CODES.index("NORM")
    truth[:, norm] = truth.sum(axis=1) == 0
    return truth


def _read_set(
    rng: np.random.Generator, truth: npt.NDArray[np.int8], members: tuple[str, ...], skill: ReaderSkill
) -> npt.NDArray[np.int8]:
    """One reader's answers to one exclusive set: the chosen member's position, len(members) for none."""
    columns = [CODES.index(code) for code in members]
    k = len(members)
    present = truth[:, columns]
    category = np.where(present.any(axis=1), present.argmax(axis=1), k)
    u = rng.random(len(truth))
    confusable = category == 1  # ST (taken for SB), IRBBB (taken for RBBB)
    swapped = confusable & (u < skill.swap)
    kept = np.where(
        confusable, (u >= skill.swap) & (u < skill.swap + skill.set_sensitivity), u < skill.set_sensitivity
    )
    answer = np.where(swapped, 0, np.where(kept, category, k))
    false_alarm = rng.random(len(truth)) < 1.0 - skill.specificity
    return np.where(category == k, np.where(false_alarm, rng.integers(0, k, len(truth)), k), answer)


def simulate_study(
    seed: int,
    readers: list[ReaderSkill],
    *,
    n_exams: int = 2000,
    reads_per_exam: int | None = None,
    skip_rate: float = 0.0,
) -> Study:
    """A study: every reader reads every exam, or ``reads_per_exam`` readers drawn per exam; each read
    is then lost (skipped) with probability ``skip_rate``."""
    rng = np.random.default_rng(seed)
    truth = _truth(rng, n_exams)
    reads = np.zeros((len(readers), n_exams, len(CODES)), dtype=np.int8)
    for r, skill in enumerate(readers):
        for members in (RHYTHM, BUNDLE):
            answer = _read_set(rng, truth, members, skill)
            for i, code in enumerate(members):
                reads[r, :, CODES.index(code)] = answer == i
        for code in INDEPENDENT:
            c = CODES.index(code)
            se = (
                skill.rare_sensitivity
                if code in RARE and skill.rare_sensitivity is not None
                else skill.sensitivity
            )
            p = np.where(truth[:, c] == 1, se, 1.0 - skill.specificity)
            reads[r, :, c] = rng.random(n_exams) < p
        norm = CODES.index("NORM")
        reads[r, :, norm] = reads[r].sum(axis=1) == 0
    if reads_per_exam is not None and reads_per_exam < len(readers):
        for e in range(n_exams):
            absent = rng.choice(len(readers), size=len(readers) - reads_per_exam, replace=False)
            reads[absent, e, :] = MISSING
    if skip_rate:
        skipped = rng.random((len(readers), n_exams)) < skip_rate
        reads[skipped, :] = MISSING
    return Study(reads=reads, truth=truth)
