"""Designing who reads what: a pure module (no Django), so a design can be checked before it is stored.

The design gives every exam exactly k distinct readers, keeps every reader's load within one exam of
every other's, and spreads the exams so that each pair of readers shares as many exams as the design
allows (pairwise agreement needs shared exams). Gold exams go to every reader, so each reader is scored
on the same known answers; test-retest re-reads come back later in the same reader's queue.

Why not a library: balanced incomplete block designs exist only for special (v, k, lambda) triples;
a coordinator's numbers are arbitrary, so we build a greedy near-balanced design and report the
pair overlap it achieves.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

# A retest comes at least this many of the reader's exams after its first read, so that it is not
# re-read from memory.
RETEST_MIN_GAP = 10


@dataclass(frozen=True)
class DesignRequest:
    exam_ids: list[int]
    reader_ids: list[int]
    readers_per_exam: int
    seed: int = 0
    gold_exam_ids: list[int] = field(default_factory=list)
    retest_fraction: float = 0.0
    min_pair_overlap: int = 0
    # A retest comes back at least this far down the queue (or at the end of a short queue).
    retest_min_gap: int = RETEST_MIN_GAP
    # Reads each reader already has (exams added to a running batch continue from these loads).
    existing_loads: dict[int, int] = field(default_factory=dict)
    # reader -> exams that reader must not be handed (a dispute they saw, an exam they chose to keep
    # away from them); the exam goes to other readers, and a shortfall is listed as a problem.
    excluded: dict[int, set[int]] = field(default_factory=dict)


class Slot(NamedTuple):
    """One read in one reader's queue (a tuple: a 100,000-exam batch makes 300,000 of them)."""

    reader_id: int
    exam_id: int
    read_round: int
    position: int
    is_gold: bool


# Each problem and refusal below, in English, by key. The interface says them in the coordinator's
# language by the same key and named values (selectors.batches.wording), which is why they are kept as
# data rather than written out where they arise.
PROBLEM_TEXTS = {
    "reader_twice": "a reader is listed twice",
    "exam_twice": "an exam is listed twice",
    "readers_per_exam_below_one": "readers per exam must be at least 1",
    "readers_per_exam_above_readers": (
        "{readers_per_exam} readers per exam were asked for but only {readers} readers chosen"
    ),
    "no_exam": "a batch needs at least one exam",
    "retest_fraction_range": "the retest fraction must lie between 0 and 0.5",
    "gold_outside_batch": "gold exams not in the batch: {exam_ids}",
    "no_stratum": "at least one stratum is needed",
    "short_of_readers": (
        "{exams} exams cannot get their readers: the only readers left for them saw their dispute or were "
        "kept away from them (exam ids {exam_ids})"
    ),
    "pair_overlap": (
        "every reader pair should share at least {wanted} exams but the least-shared pair shares "
        "{achieved}: with {exams} exams, {readers} readers and {readers_per_exam} readers per exam a pair "
        "shares {mean:.1f} exams on average; about {needed} non-gold exams would be needed, or more "
        "readers per exam, or fewer readers"
    ),
    "pair_overlap_one_reader": (
        "every reader pair should share at least {wanted} exams but the least-shared pair shares "
        "{achieved}: with {exams} exams, {readers} readers and {readers_per_exam} readers per exam a pair "
        "shares {mean:.1f} exams on average; with one reader per exam no pair shares an exam unless it is "
        "gold, or more readers per exam, or fewer readers"
    ),
}


@dataclass(frozen=True)
class Problem:
    """A goal a design misses, or why a request cannot be designed: its kind (a key of PROBLEM_TEXTS)
    and the figures it names. str() is the English sentence."""

    key: str
    values: dict[str, int | float | str] = field(default_factory=dict)

    def __str__(self) -> str:
        return PROBLEM_TEXTS[self.key].format(**self.values)


def _listed(ids: list[int], most: int = 10) -> str:
    """Exam ids as a problem names them: the first `most`, then an ellipsis."""
    return f"{ids[:most]}{'...' if len(ids) > most else ''}"


@dataclass
class Design:
    slots: list[Slot]
    reader_ids: list[int]
    pair_overlap: np.ndarray  # readers x readers, shared first-round exams (gold included)
    loads: dict[int, int]
    problems: list[Problem]
    # Exams that got fewer readers than asked because readers were excluded from them.
    short_exam_ids: list[int] = field(default_factory=list)
    # Retests: asked for (the fraction of each queue, rounded), and of those how many no queue could
    # place the gap after their first read. Fewer retests than asked is for the coordinator to weigh, not a
    # reason to refuse the design: the ones that fit are placed.
    retests_asked: int = 0
    retests_unplaced: int = 0
    # The smallest fraction that gives every reader at least one retest, where the one asked rounds to
    # none (None when it does not, or none was asked).
    retest_fraction_for_one: float | None = None

    @property
    def min_pair_overlap(self) -> int:
        if len(self.reader_ids) < 2:
            return 0
        upper = self.pair_overlap[np.triu_indices(len(self.reader_ids), 1)]
        return int(upper.min())


class DesignError(ValueError):
    """The request cannot be designed at all (as opposed to a design that misses a goal); str() is the
    English sentence, `problem` what it says."""

    def __init__(self, key: str, **values: int | float | str) -> None:
        self.problem = Problem(key, values)
        super().__init__(str(self.problem))


def expected_pair_overlap(n_exams: int, n_readers: int, k: int) -> float:
    """Mean number of exams a reader pair shares when n exams each get k of R readers."""
    if n_readers < 2:
        return 0.0
    return n_exams * k * (k - 1) / (n_readers * (n_readers - 1))


def exams_needed_for_overlap(min_overlap: int, n_readers: int, k: int) -> int:
    if k < 2:
        return math.inf  # type: ignore[return-value]
    return math.ceil(min_overlap * n_readers * (n_readers - 1) / (k * (k - 1)))


def _validate(request: DesignRequest) -> None:
    readers, k = request.reader_ids, request.readers_per_exam
    if len(set(readers)) != len(readers):
        raise DesignError("reader_twice")
    if len(set(request.exam_ids)) != len(request.exam_ids):
        raise DesignError("exam_twice")
    if k < 1:
        raise DesignError("readers_per_exam_below_one")
    if k > len(readers):
        raise DesignError("readers_per_exam_above_readers", readers_per_exam=k, readers=len(readers))
    if not request.exam_ids:
        raise DesignError("no_exam")
    if not 0.0 <= request.retest_fraction <= 0.5:
        raise DesignError("retest_fraction_range")
    unknown_gold = set(request.gold_exam_ids) - set(request.exam_ids)
    if unknown_gold:
        raise DesignError("gold_outside_batch", exam_ids=str(sorted(unknown_gold)))


def _choose_readers(
    load: dict[int, int],
    pairs: list[list[int]],
    index: dict[int, int],
    k: int,
    rng: random.Random,
    candidates: list[int],
) -> list[int]:
    """k readers of lowest load; among equal loads, those sharing the fewest exams with the chosen.
    `candidates` (shuffled here, so ties fall at random) holds the readers allowed for this exam; fewer
    than k come back when too few are left."""
    chosen: list[int] = []
    rng.shuffle(candidates)
    for _ in range(min(k, len(candidates))):
        lowest = min(load[r] for r in candidates)
        tied = [r for r in candidates if load[r] == lowest]
        if len(tied) > 1 and chosen:
            rows = [pairs[index[c]] for c in chosen]
            best = min(tied, key=lambda r: sum(row[index[r]] for row in rows))
        else:
            best = tied[0]
        chosen.append(best)
        candidates.remove(best)
    return chosen


def _barred_by_exam(excluded: dict[int, set[int]]) -> dict[int, set[int]]:
    by_exam: dict[int, set[int]] = {}
    for reader, exams in excluded.items():
        for exam in exams:
            by_exam.setdefault(exam, set()).add(reader)
    return by_exam


def _spread(
    exam_ids: list[int],
    reader_ids: list[int],
    k: int,
    rng: random.Random,
    existing_loads: dict[int, int] | None = None,
    excluded: dict[int, set[int]] | None = None,
) -> dict[int, list[int]]:
    index = {reader: i for i, reader in enumerate(reader_ids)}
    load = {reader: (existing_loads or {}).get(reader, 0) for reader in reader_ids}
    # Lists, not a numpy array: this loop reads single cells, where numpy's per-element cost is ~5x a
    # list's (a 100,000-exam batch is 300,000 choices).
    pairs = [[0] * len(reader_ids) for _ in reader_ids]
    plan: dict[int, list[int]] = {reader: [] for reader in reader_ids}
    barred = _barred_by_exam(excluded or {})
    # The exams some readers are kept away from go first, the most restricted first (a stable sort keeps
    # the shuffled order within each group): handed out last, they found the readers who may read them
    # already full, and the loads ended several exams apart. The free exams then even the loads out.
    if barred:
        exam_ids = sorted(exam_ids, key=lambda exam: -len(barred.get(exam, ())))
    for exam_id in exam_ids:
        kept_away = barred.get(exam_id)
        candidates = [r for r in load if r not in kept_away] if kept_away else list(load)
        chosen = _choose_readers(load, pairs, index, k, rng, candidates)
        for reader in chosen:
            load[reader] += 1
            plan[reader].append(exam_id)
        for a, b in itertools.combinations(chosen, 2):
            pairs[index[a]][index[b]] += 1
            pairs[index[b]][index[a]] += 1
    return plan


def _queue(
    first_reads: list[int], retestable: set[int], n_retests: int, gap: int, rng: random.Random
) -> list[tuple[int, int]]:
    """A shuffled queue of (exam, round) with n retests, each at least `gap` after its first read.

    Retests are drawn only from exams whose first read leaves room for the gap, so a short queue gets
    fewer retests rather than ones that come back too soon to test memory-free re-reading. Each retest
    goes right after a first read drawn at random from those `gap` or more places after its own, several
    after the same one in random order: one pass, where inserting into the list was quadratic (minutes
    for a 100,000-exam batch).
    """
    order = [(exam, 1) for exam in first_reads]
    rng.shuffle(order)
    if n_retests <= 0:
        return order
    place = {exam: i for i, (exam, _) in enumerate(order)}
    eligible = [exam for exam, _ in order[: max(0, len(order) - gap - 1)] if exam in retestable]
    after: dict[int, list[tuple[int, int]]] = {}
    for exam in rng.sample(eligible, min(n_retests, len(eligible))):
        after.setdefault(rng.randint(place[exam] + gap, len(order) - 1), []).append((exam, 2))
    queue: list[tuple[int, int]] = []
    for i, item in enumerate(order):
        queue.append(item)
        retests = after.get(i)
        if retests:
            rng.shuffle(retests)
            queue.extend(retests)
    return queue


def design_batch(request: DesignRequest) -> Design:
    """Build a design; problems lists each goal it could not meet, in words a coordinator can act on."""
    _validate(request)
    rng = random.Random(request.seed)
    readers = list(request.reader_ids)
    gold = set(request.gold_exam_ids)
    regular = [exam for exam in request.exam_ids if exam not in gold]
    rng.shuffle(regular)
    plan = _spread(regular, readers, request.readers_per_exam, rng, request.existing_loads, request.excluded)
    slots: list[Slot] = []
    asked = short_of_retests = 0
    for reader in readers:
        own = plan[reader]
        n_retests = round(request.retest_fraction * len(own))
        own_gold = sorted(gold - set(request.excluded.get(reader, ())))
        queue = _queue(own + own_gold, set(own), n_retests, request.retest_min_gap, rng)
        slots.extend(
            Slot(reader, exam, read_round, position, exam in gold)
            for position, (exam, read_round) in enumerate(queue)
        )
        asked += n_retests
        short_of_retests += n_retests - sum(1 for _, read_round in queue if read_round == 2)
    design = _summarise(request, slots, readers)
    design.retests_asked, design.retests_unplaced = asked, short_of_retests
    shortest = min((len(plan[reader]) for reader in readers if plan[reader]), default=0)
    if request.retest_fraction > 0 and not asked and shortest:
        design.retest_fraction_for_one = 1.0 / shortest
    short = design.short_exam_ids = _short_of_readers(request, slots)
    if short:
        design.problems.append(Problem("short_of_readers", {"exams": len(short), "exam_ids": _listed(short)}))
    return design


def _short_of_readers(request: DesignRequest, slots: list[Slot]) -> list[int]:
    """Exams that got fewer first reads than asked because readers were excluded from them."""
    if not request.excluded:
        return []
    got: dict[int, int] = {}
    for slot in slots:
        if slot.read_round == 1:
            got[slot.exam_id] = got.get(slot.exam_id, 0) + 1
    gold = set(request.gold_exam_ids)
    wanted = {e: len(request.reader_ids) if e in gold else request.readers_per_exam for e in request.exam_ids}
    return sorted(e for e, n in wanted.items() if got.get(e, 0) < n)


def _summarise(request: DesignRequest, slots: list[Slot], readers: list[int]) -> Design:
    index = {reader: i for i, reader in enumerate(readers)}
    by_exam: dict[int, list[int]] = {}
    for slot in slots:
        if slot.read_round == 1:
            by_exam.setdefault(slot.exam_id, []).append(slot.reader_id)
    overlap = np.zeros((len(readers), len(readers)), dtype=np.int64)
    for exam_readers in by_exam.values():
        for a, b in itertools.combinations(exam_readers, 2):
            overlap[index[a], index[b]] += 1
            overlap[index[b], index[a]] += 1
    first_reads = Counter(s.reader_id for s in slots if s.read_round == 1)
    np.fill_diagonal(overlap, [first_reads[r] for r in readers])
    loads = {reader: int(overlap[index[reader], index[reader]]) for reader in readers}
    design = Design(slots=slots, reader_ids=readers, pair_overlap=overlap, loads=loads, problems=[])
    if request.min_pair_overlap and design.min_pair_overlap < request.min_pair_overlap:
        design.problems.append(_overlap_problem(request, design.min_pair_overlap))
    return design


def _overlap_problem(request: DesignRequest, achieved: int) -> Problem:
    n_regular = len(set(request.exam_ids) - set(request.gold_exam_ids))
    readers, k = len(request.reader_ids), request.readers_per_exam
    values: dict[str, int | float | str] = {
        "wanted": request.min_pair_overlap,
        "achieved": achieved,
        "exams": n_regular,
        "readers": readers,
        "readers_per_exam": k,
        "mean": expected_pair_overlap(n_regular, readers, k),
    }
    if k < 2:
        return Problem("pair_overlap_one_reader", values)
    values["needed"] = exams_needed_for_overlap(
        max(0, request.min_pair_overlap - len(request.gold_exam_ids)), readers, k
    )
    return Problem("pair_overlap", values)


# --- Choosing the exams -----------------------------------------------------------------------------
def sample_positions(size: int, n: int, seed: int) -> list[int]:
    """The places (0-based, ascending) in a pool of `size` exams sorted by id that sample_random draws.

    random.sample only counts and indexes its population, so drawing from range(size) picks the same
    places as drawing from the pool itself: the database keeps a pool of millions and hands back only
    the exams at these places, and a seed draws the same exams it always drew.
    """
    if n >= size:
        return list(range(size))
    drawn = rejection_draws(size, n, seed)
    return drawn.tolist() if drawn is not None else sorted(random.Random(seed).sample(range(size), n))


def rejection_draws(size: int, n: int, seed: int) -> np.ndarray | None:
    """sorted(random.Random(seed).sample(range(size), n)) computed in numpy, where random.sample draws by
    rejection (a population larger than its table of draws): Python's loop took 0.12 s for a sample of
    100,000 from 2.7M. None where random.sample walks a list instead, or would draw more than 32 bits.

    The same Mersenne Twister words in the same order: numpy's MT19937 started from random.Random(seed)'s
    state. random.sample takes each draw as the top bits of one word (getrandbits of the size's bit
    length), rejects those past the size and those drawn before, and stops at n: the first n distinct
    places of that stream."""
    table = 21 + (4 ** math.ceil(math.log(n * 3, 4)) if n > 5 else 0)  # random.sample's own choice
    bits = size.bit_length()
    if size <= table or bits > 32 or not 0 < n < size:
        return None
    generator = np.random.MT19937()
    words = random.Random(seed).getstate()[1]
    generator.state = {
        "bit_generator": "MT19937",
        "state": {"key": np.array(words[:-1], dtype=np.uint32), "pos": words[-1]},
    }
    stream, found = np.empty(0, dtype=np.int64), 0
    while found < n:  # words enough for the draws still missing, a tenth more for the repeats
        wanted = int((n - found) * (2**bits / size) * 1.1) + 64
        places = (generator.random_raw(wanted) >> np.uint64(32 - bits)).astype(np.int64)
        stream = np.concatenate([stream, places[places < size]])
        distinct, first = np.unique(stream, return_index=True)
        found = len(distinct)
    return np.sort(stream[np.sort(first)[:n]])


def sample_random(exam_ids: list[int], n: int, seed: int) -> list[int]:
    """n exams drawn uniformly without replacement; the same seed and pool give the same sample."""
    pool = sorted(exam_ids)
    return [pool[i] for i in sample_positions(len(pool), n, seed)]


@dataclass(frozen=True)
class StratifiedSample:
    exam_ids: list[int]
    edges: list[float]  # stratum boundaries on the score, lowest first
    available: list[int]  # exams in each stratum
    taken: list[int]  # exams sampled from each stratum


def sample_stratified(scores: dict[int, float], n: int, seed: int, strata: int = 4) -> StratifiedSample:
    """n exams spread as evenly as possible over equal-width score strata.

    A rare class's positives sit in the high-score strata; taking the same number from every stratum
    enriches them far above their prevalence, which is what makes its agreement estimable. A stratum
    with too few exams gives all it has and the rest is shared among the others.
    """
    if strata < 1:
        raise DesignError("no_stratum")
    bins: list[list[int]] = [[] for _ in range(strata)]
    for exam_id in sorted(scores):
        bins[stratum_of(scores[exam_id], strata)].append(exam_id)
    quota, places = stratified_positions([len(b) for b in bins], n, seed)
    chosen = [members[i] for members, chosen in zip(bins, places, strict=True) for i in chosen]
    return StratifiedSample(sorted(chosen), stratum_edges(strata), [len(b) for b in bins], quota)


def stratum_edges(strata: int) -> list[float]:
    return [i / strata for i in range(strata + 1)]


def stratum_of(score: float, strata: int) -> int:
    """The equal-width stratum of a score (clipped to [0, 1]; 1.0 falls in the top stratum)."""
    return min(int(min(max(score, 0.0), 1.0) * strata), strata - 1)


def lowest_stratum_bound(strata: int) -> float:
    """A score under this bound is in the lowest stratum (stratum_of), whatever the rounding of its product
    with `strata`: the bound sits a millionth of a stratum's width below the first edge, far wider than any
    float's rounding, and a score between it and the edge is simply read and placed as usual."""
    return (1.0 - 1e-6) / strata if strata > 1 else 1.0


def stratified_positions(available: list[int], n: int, seed: int) -> tuple[list[int], list[list[int]]]:
    """How many exams each stratum gives, and their places (ascending) among the stratum's exams sorted
    by id: the draw sample_stratified makes, from the strata's sizes alone (see sample_positions)."""
    quota = _quotas(available, n)
    rng = random.Random(seed)
    places = [sorted(rng.sample(range(size), take)) for size, take in zip(available, quota, strict=True)]
    return quota, places


def _quotas(available: list[int], n: int) -> list[int]:
    """Water-filling: equal shares, capped by what each stratum has, leftovers to the others."""
    quota = [0] * len(available)
    remaining = min(n, sum(available))
    open_bins = [i for i, size in enumerate(available) if size]
    while remaining and open_bins:
        share = max(1, remaining // len(open_bins))
        for i in list(open_bins):
            take = min(share, available[i] - quota[i], remaining)
            quota[i] += take
            remaining -= take
            if quota[i] == available[i]:
                open_bins.remove(i)
            if not remaining:
                break
    return quota


# --- Previewing ---------------------------------------------------------------------------------------
def design_outline(request: DesignRequest) -> Design | None:
    """The design's figures (pair overlap, loads, problems) without its slots, when they do not depend
    on the draw: every reader reads every exam, nobody is kept away from one and no retest is asked.
    None otherwise (design_batch must draw it). A preview shows figures, and drawing 300,000 slots of a
    100,000-exam batch only to count them took seconds; the batch itself is still designed in full."""
    _validate(request)
    readers = list(request.reader_ids)
    if (
        request.readers_per_exam != len(readers)
        or request.retest_fraction
        or request.existing_loads
        or any(request.excluded.values())
    ):
        return None
    n = len(request.exam_ids)
    overlap = np.full((len(readers), len(readers)), n, dtype=np.int64)
    design = Design(
        slots=[], reader_ids=readers, pair_overlap=overlap, loads=dict.fromkeys(readers, n), problems=[]
    )
    if request.min_pair_overlap and design.min_pair_overlap < request.min_pair_overlap:
        design.problems.append(_overlap_problem(request, design.min_pair_overlap))
    return design
