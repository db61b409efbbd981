"""The consensus of every cell: decided by majority vote or latent truth, or left to a human, and why.

Pure numpy; ``reads[r, e, c]`` as in :mod:`.reads`. Consensus labels use the same encoding (1, 0, and
:data:`.reads.MISSING` where there is no decision: no reads, too few reads, or a tie).

Majority vote and unanimity are in :mod:`.majority`, the Dawid-Skene models in :mod:`.latent`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .latent import DawidSkene, dawid_skene, dawid_skene_multiclass, set_answers
from .majority import MajorityVote, majority_vote
from .reads import MISSING, BoolArray, FloatArray, JsonMixin, Reads, _jsonable, _ratio, as_reads

# --- Deciding the consensus of every cell ----------------------------------------------------------------
#: How a cell was decided; these strings are the stored Consensus methods.
DECIDED_UNANIMOUS = "unanimous"
DECIDED_MAJORITY = "majority"
DECIDED_LATENT = "latent"
DECIDED_SINGLE = "single"
#: Why a cell was left to a human; these strings are the stored DisputedLabel reasons.
DISPUTE_TIE = "tie"
DISPUTE_UNCERTAIN = "uncertain"
DISPUTE_OVERRULED = "overruled"
DISPUTE_EXCLUSIVE = "exclusive"
#: A reason only a caller gives (:meth:`ConsensusDecision.dispute`): the exam was escalated to a human.
DISPUTE_ESCALATED = "escalated"
#: A cell's method and reason are held as their place in these tuples (0: none), one byte per cell: as
#: strings a 100,000-exam batch of 74 classes held 266 MB per array.
METHODS = ("", DECIDED_UNANIMOUS, DECIDED_MAJORITY, DECIDED_LATENT, DECIDED_SINGLE)
REASONS = ("", DISPUTE_TIE, DISPUTE_UNCERTAIN, DISPUTE_OVERRULED, DISPUTE_EXCLUSIVE, DISPUTE_ESCALATED)
#: Shares are k/n for small integers: a share this close to the threshold is the threshold (a tie).
_TOLERANCE = 1e-9
#: The latent model needs at least this many reads of an exam to be used on it: with two readers it is
#: not identifiable (a 1-1 split says nothing about who is right that the fitted rates did not assume).
MIN_LATENT_READS = 3
#: ... and a class needs at least this many exams (each read MIN_LATENT_READS times or more) with a positive
#: read for the latent estimate to decide its split cells. With fewer, each reader's sensitivity rests on a
#: handful of exams and the prior. In simulated 3-reader studies of 10-200 exams (bench/latent_minimum.py)
#: the latent estimate was wrong on 1.6-2.9x as many split cells as the majority where a class had 0-4
#: such exams, on up to 2.3x (5-9) and 1.16x (10-19) as many at some batch size, and from 20 on never on
#: more, at any batch size. Below it the majority decides.
MIN_LATENT_POSITIVE_EXAMS = 20


@dataclass(frozen=True)
class ExclusiveSet:
    """Class positions that must not be positive together on one exam.

    ``named`` are the statements the set names; ``others`` those it covers through a token such as
    '*diagnostic*' (every statement of that kind not named). Two named members conflict; a named member
    conflicts with any of ``others``; two of ``others`` do not conflict with each other.
    """

    named: tuple[int, ...]
    others: tuple[int, ...] = ()


def exclusive_violations(labels: npt.ArrayLike, sets: list[ExclusiveSet]) -> BoolArray:
    """``[e, c]``: cell c of exam e is positive together with another positive the sets forbid."""
    labels = np.asarray(labels)
    positive = labels == 1
    out = np.zeros(positive.shape, dtype=bool)
    for members in sets:
        named = np.asarray(members.named, dtype=np.intp)
        others = np.asarray(members.others, dtype=np.intp)
        n_named = positive[:, named].sum(axis=1) if named.size else np.zeros(len(positive), int)
        n_others = positive[:, others].sum(axis=1) if others.size else np.zeros(len(positive), int)
        # A named positive conflicts if any other member is positive; a token-covered one only if a
        # named member is.
        named_bad = (n_named + n_others) > 1
        others_bad = n_named > 0
        if named.size:
            out[:, named] |= positive[:, named] & named_bad[:, None]
        if others.size:
            out[:, others] |= positive[:, others] & others_bad[:, None]
    return out


@dataclass(frozen=True)
class ConsensusDecision(JsonMixin):
    """The consensus of every (exam, class) cell and how it was reached.

    ``value`` is 1, 0 or MISSING (no decision: disputed, or the exam is ``insufficient``); ``method``
    the rule that decided the cell (:data:`DECIDED_UNANIMOUS` ...) or "" where none did; ``reason`` why
    a cell is disputed ("" where it is not); ``probability`` the latent estimate under the latent rule,
    else the share of positive reads; ``insufficient[e]`` marks exams read fewer than
    ``min_reads`` times, which get no consensus at all; ``latent_used[e]`` exams the latent rule
    decided (enough reads) and ``latent_classes[c]`` the classes it decided (enough exams with a positive
    read); a split cell is the latent estimate's where both hold. ``latent`` describes the fitted models
    (convergence, iterations, prior, and each class's count of such exams).

    Methods and reasons are kept as codes (``method_code``, ``reason_code``: places in :data:`METHODS`
    and :data:`REASONS`); ``method`` and ``reason`` decode them into string arrays on each access, and
    :meth:`methods_at` / :meth:`reasons_at` decode only the cells asked for.
    """

    value: Reads
    method_code: npt.NDArray[np.uint8]
    reason_code: npt.NDArray[np.uint8]
    probability: FloatArray
    n_reads: npt.NDArray[np.int32]
    positive_votes: npt.NDArray[np.int32]
    insufficient: BoolArray
    latent_used: BoolArray
    latent_classes: BoolArray
    latent: dict[str, Any]

    @property
    def method(self) -> npt.NDArray[np.str_]:
        return np.asarray(METHODS)[self.method_code]

    @property
    def reason(self) -> npt.NDArray[np.str_]:
        return np.asarray(REASONS)[self.reason_code]

    def dispute(self, where: BoolArray, why: str) -> None:
        """Send the cells at ``where`` to a human for ``why`` (one of :data:`REASONS`) unless they already
        are for another reason; what the rule decided stays (an escalated exam keeps its decision)."""
        code = REASONS.index(why)
        self.reason_code[where & (self.reason_code == 0)] = code

    @property
    def disputed(self) -> BoolArray:
        disputed: BoolArray = self.reason_code != 0
        return disputed

    def to_dict(self) -> dict[str, Any]:
        """As JSON, methods and reasons by name."""
        named = {"method_code": "method", "reason_code": "reason"}
        return {
            named.get(f.name, f.name): _jsonable(getattr(self, named.get(f.name, f.name)))
            for f in dataclasses.fields(self)
        }

    @property
    def stored(self) -> BoolArray:
        """Cells that need a stored row: every decided cell except those agreed absent by every read
        (unanimously, or by the one reader), which a store may leave implicit."""
        decided = self.value != MISSING
        implicit = (self.value == 0) & (self.positive_votes == 0)
        stored: BoolArray = decided & ~implicit
        return stored

    def exported(self) -> Reads:
        """What a release shows: the decision, 0 for implicit absent cells, MISSING where undecided."""
        return self.value.copy()


def latent_estimate(
    reads: Reads, sets: list[ExclusiveSet], *, pseudo_count: float = 1.0, binary: DawidSkene | None = None
) -> tuple[FloatArray, dict[str, Any]]:
    """P(present) per cell: binary Dawid-Skene per class, replaced for the named members of each
    exclusive set (two or more) by the joint model's marginals, so that at most one member of a set can
    exceed 0.5. A class named in several sets takes its estimate from the first. Returns the estimates
    and a JSON-ready description of the fits. ``binary`` reuses a per-class fit of these reads."""
    if binary is None:
        binary = dawid_skene(reads, pseudo_count=pseudo_count)
    posterior = binary.posterior.copy()
    fits = []
    done: set[int] = set()
    for members in sets:
        named = [c for c in members.named if c not in done]
        # A set nobody chose a member of needs no joint fit: every member is absent by every read.
        if len(named) < 2 or reads.shape[0] < 2 or not (reads[:, :, named] == 1).any():
            continue
        joint = dawid_skene_multiclass(set_answers(reads, named), len(named) + 1, pseudo_count=pseudo_count)
        posterior[:, named] = joint.posterior[:, : len(named)]
        done.update(named)
        fits.append(
            {
                "classes": named,
                "converged": joint.converged,
                "iterations": joint.n_iterations,
                "prior": joint.prior.tolist(),
                "log_likelihood": joint.log_likelihood,
            }
        )
    described = {
        "model": "Dawid-Skene EM: binary per class; multi-class (members + none) per exclusive set",
        "prior": f"Dirichlet(1 + a), a = {pseudo_count:g}, on prevalence and each reader's error rates (MAP)",
        "start": "soft majority vote",
        "tolerance": 1e-7,
        "max_iterations": 500,
        "converged": bool(binary.converged.all() and all(f["converged"] for f in fits)),
        "classes": {
            "converged": binary.converged.tolist(),
            "iterations": binary.n_iterations.tolist(),
        },
        "sets": fits,
    }
    return posterior, described


# Over 50 lines only through its docstring, which states the whole decision rule in one place.
def consensus_decide(
    reads: npt.ArrayLike,
    *,
    method: str = DECIDED_MAJORITY,
    threshold: float = 0.5,
    latent_margin: float = 0.1,
    min_reads: int = 2,
    min_positive_exams: int = MIN_LATENT_POSITIVE_EXAMS,
    exclusive_sets: list[ExclusiveSet] | None = None,
    pseudo_count: float = 1.0,
    binary_fit: DawidSkene | None = None,
    exam_chunk: int = 4096,
    adjudicated: npt.ArrayLike | None = None,
) -> ConsensusDecision:
    """Decide every cell by the batch's rule, leaving to a human what the rule cannot settle honestly.

    In order, per exam and class (``n`` reads, ``k`` positive):

    1. ``n < min_reads`` (exam read too few times): no consensus; the exam is ``insufficient``.
    2. ``n = 1`` (only when ``min_reads`` is 1): the reader's answer, method "single".
    3. every reader agrees (``k = 0`` or ``k = n``): their answer, method "unanimous"; under the latent
       rule, if the latent estimate says otherwise the cell is disputed ("overruled"), never flipped.
    4. readers disagree: under the majority rule, or the latent rule with fewer than
       :data:`MIN_LATENT_READS` reads, or on a class with fewer than :data:`MIN_LATENT_POSITIVE_EXAMS`
       exams that have that many reads and a positive one (``min_positive_exams``; the default is what
       the service uses), the majority at ``threshold`` decides
       ("majority"), an exact tie is disputed ("tie"); otherwise under the latent rule the latent estimate
       decides ("latent"), one within ``latent_margin`` of 0.5 is disputed ("uncertain"). Step 3's
       "overruled" check holds on the same cells only.
    5. any decided positives that an exclusive set forbids together are all disputed ("exclusive"),
       counting the human decisions in ``adjudicated`` (``[e, c]``: 1, 0, or MISSING where no human
       decided) in place of the rule's: a later read can make a majority against what an adjudicator
       signed, and the released labels hold the human value beside the rule's.
    6. where the readers put an exam in an exclusive set of named members (one sinus rate: SR, SB or
       ST) but split on which member, so that none is decided present, the members they named are
       disputed too ("exclusive"): deciding each absent would release "none of them", which no reader
       said. Under the majority rule, when the share of reads naming some member reaches ``threshold``
       (a tie included, as in step 4); under the latent rule, when every read named one (step 3: the
       estimate never overturns what every reader said). Again a human's decision counts in place of
       the rule's.

    ``binary_fit`` may pass :func:`dawid_skene` of the same reads (and ``pseudo_count``), already fitted
    for another purpose, so that it is not fitted twice. Steps 1-5 go ``exam_chunk`` exams at a time
    (the decision is the same for any chunk).
    """
    reads = as_reads(reads)
    if method not in (DECIDED_MAJORITY, DECIDED_LATENT):
        raise ValueError(f"unknown consensus method {method!r}")
    if min_reads < 1:
        raise ValueError("min_reads must be at least 1")
    n = (reads != MISSING).sum(axis=0, dtype=np.int32)
    k = (reads == 1).sum(axis=0, dtype=np.int32)
    n_exam = n.max(axis=1, initial=0) if n.size else np.zeros(reads.shape[1], np.int32)
    latent = method == DECIDED_LATENT and reads.shape[0] >= 2 and reads.shape[1] > 0
    sets = list(exclusive_sets or [])
    human = None if adjudicated is None else np.asarray(adjudicated, dtype=np.int8)
    if human is not None and human.shape != n.shape:
        raise ValueError(f"adjudicated has shape {human.shape}; the reads give {n.shape}")
    posterior, described = _probability(reads, n, k, latent, sets, pseudo_count, binary_fit, exam_chunk)
    latent_used = (n_exam >= MIN_LATENT_READS) & latent
    positive_exams = ((k > 0) & latent_used[:, None]).sum(axis=0)
    latent_classes = positive_exams >= min_positive_exams
    insufficient = n_exam < min_reads
    value = np.full(n.shape, MISSING, dtype=np.int8)
    how = np.zeros(n.shape, dtype=np.uint8)
    reason = np.zeros(n.shape, dtype=np.uint8)
    # Every step but the latent fit is about one exam at a time: deciding a chunk of exams at a time keeps
    # the vote's and the rule's temporaries (tens of bytes a cell) to the chunk, not the batch.
    for start in range(0, reads.shape[1], exam_chunk):
        part = slice(start, start + exam_chunk)
        vote = majority_vote(reads[:, part], threshold=threshold)
        by_latent = latent_used[part, None] & latent_classes
        decided = _decide_cells(n[part], k[part], vote, posterior[part], latent, by_latent, latent_margin)
        signed = None if human is None else human[part]
        _withhold(*decided, insufficient[part], sets, signed)
        _split_sets(*decided, reads[:, part], sets, 1.0 if latent else threshold, signed, insufficient[part])
        value[part], how[part], reason[part] = decided
    return ConsensusDecision(
        value=value,
        method_code=how,
        reason_code=reason,
        probability=np.asarray(posterior, dtype=float),
        n_reads=n,
        positive_votes=k,
        insufficient=insufficient,
        latent_used=latent_used,
        latent_classes=latent_classes & latent,
        latent={
            **described,
            "min_latent_reads": MIN_LATENT_READS,
            "min_positive_exams": min_positive_exams,
            "positive_exams": positive_exams.tolist(),
            "used": bool(latent),
        },
    )


def _probability(
    reads: Reads,
    n: npt.NDArray[np.int32],
    k: npt.NDArray[np.int32],
    latent: bool,
    sets: list[ExclusiveSet],
    pseudo_count: float,
    binary_fit: DawidSkene | None,
    exam_chunk: int,
) -> tuple[FloatArray, dict[str, Any]]:
    """P(present) per cell and the description of how it was estimated."""
    if latent:
        return latent_estimate(reads, sets, pseudo_count=pseudo_count, binary=binary_fit)
    # No latent model under the majority rule (or with one reader): the probability is the vote share,
    # divided a chunk of exams at a time (the float copies of the whole counts were 120 MB at 100k exams).
    share = np.empty(n.shape)
    for start in range(0, n.shape[0], exam_chunk):
        part = slice(start, start + exam_chunk)
        share[part] = _ratio(k[part], n[part])
    return share, {"converged": None, "classes": {}, "sets": []}


def _decide_cells(
    n: npt.NDArray[np.int32],
    k: npt.NDArray[np.int32],
    vote: MajorityVote,
    posterior: FloatArray,
    latent: bool,
    latent_cells: BoolArray,
    latent_margin: float,
) -> tuple[Reads, npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
    """Steps 2-4 of :func:`consensus_decide` on every cell: value, method and dispute reason.
    ``latent_cells``: the cells (exams x classes) the latent estimate may decide."""
    shape = n.shape
    value = np.full(shape, MISSING, dtype=np.int8)
    how = np.zeros(shape, dtype=np.uint8)
    reason = np.zeros(shape, dtype=np.uint8)
    single = n == 1
    agreed = (n >= 2) & ((k == 0) | (k == n))
    split = (n >= 2) & ~agreed
    by_latent = split & latent_cells
    by_vote = split & ~latent_cells
    # 2-3: single reads and unanimous cells keep what the readers said.
    value[single | agreed] = (k > 0)[single | agreed]
    how[single] = METHODS.index(DECIDED_SINGLE)
    how[agreed] = METHODS.index(DECIDED_UNANIMOUS)
    if latent:
        contradicts = agreed & latent_cells & ((posterior > 0.5) != (k > 0))
        _dispute(value, how, reason, contradicts, DISPUTE_OVERRULED)
    # 4: disagreement.
    value[by_vote] = vote.labels[by_vote]
    how[by_vote] = METHODS.index(DECIDED_MAJORITY)
    _dispute(value, how, reason, by_vote & vote.tied, DISPUTE_TIE)
    value[by_latent] = (posterior > 0.5)[by_latent]
    how[by_latent] = METHODS.index(DECIDED_LATENT)
    _dispute(value, how, reason, by_latent & (np.abs(posterior - 0.5) < latent_margin), DISPUTE_UNCERTAIN)
    return value, how, reason


def _withhold(
    value: Reads,
    how: npt.NDArray[np.uint8],
    reason: npt.NDArray[np.uint8],
    insufficient: BoolArray,
    sets: list[ExclusiveSet],
    human: Reads | None = None,
) -> None:
    """Steps 1 and 5 of :func:`consensus_decide`, in place, after the cells were decided."""
    # 1: too few reads: nothing at all.
    value[insufficient] = MISSING
    how[insufficient] = 0
    reason[insufficient] = 0
    # 5: exclusive sets hold in whatever is released, which takes a human decision over the rule's.
    released = value if human is None else np.where(human != MISSING, human, value)
    _dispute(value, how, reason, exclusive_violations(released, sets), DISPUTE_EXCLUSIVE)


def _split_sets(
    value: Reads,
    how: npt.NDArray[np.uint8],
    reason: npt.NDArray[np.uint8],
    reads: Reads,
    sets: list[ExclusiveSet],
    share: float,
    human: Reads | None,
    insufficient: BoolArray,
) -> None:
    """Step 6 of :func:`consensus_decide`, in place: the members the readers named of a set they put the
    exam in (at least ``share`` of the reads name one) are disputed where none is decided present. A set
    that covers others through a token asks no such question: "normal, or some diagnosis" is no finding."""
    released = value if human is None else np.where(human != MISSING, human, value)
    for members in sets:
        named = np.asarray(members.named, dtype=np.intp)
        if members.others or named.size < 2:
            continue
        part = reads[:, :, named]
        read = (part != MISSING).any(axis=2)
        naming = (part == 1).any(axis=2)
        n, k = read.sum(axis=0), naming.sum(axis=0)
        present = (k > 0) & (k >= share * n - _TOLERANCE * np.maximum(n, 1))
        unsettled = present & ~insufficient & ~(released[:, named] == 1).any(axis=1)
        voted = (part == 1).any(axis=0) & unsettled[:, None]
        where = np.zeros(value.shape, dtype=bool)
        where[:, named] = voted
        _dispute(value, how, reason, where, DISPUTE_EXCLUSIVE)


def _dispute(
    value: Reads, how: npt.NDArray[np.uint8], reason: npt.NDArray[np.uint8], where: BoolArray, why: str
) -> None:
    value[where] = MISSING
    how[where] = 0
    reason[where & (reason == 0)] = REASONS.index(why)
