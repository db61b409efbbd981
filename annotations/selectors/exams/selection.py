"""Choosing the exams of a new batch: declared criteria only, never ORM lookups from a request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet, Value
from django.db.models.functions import StrIndex
from django.db.models.lookups import GreaterThan
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, Invalid
from annotations.lib.ecg.quality import EXAM_FLAGS as _FLAG_ORDER
from annotations.lib.reference_codes import OVERFLOW, reference_code_needle
from annotations.models import (
    DiagnosticClass,
    Exam,
    LatestSuggestionScore,
    ReferenceLabel,
)
from annotations.roles import Role, has_role
from annotations.selectors.exams.arrays import parallel_aggregates, query_array_in_parts, query_arrays
from annotations.selectors.exams.browse import dataset_ids_named
from annotations.selectors.taxonomy import statement_name

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# A pool up to this size has its scores read by its own ids (one parameter each); a larger one reads
# every score at or above the stratum bound and keeps its own (matching_scores).
FEW_EXAMS = 20_000
# The pool is read in ranges of exam ids, this many per process PostgreSQL may give the query. Each range
# is read from the covering index (exam_design_pool_codes_idx) in id order and filtered there, whatever
# the criteria, so ranges of equal width cost about alike even where the matching exams crowd into part of
# the ids (a dataset imported in one go). More ranges than processes only added their own cost: at 2.7M
# exams on 2 cores (3 processes), two per process against one, runs alternated, the stratified preview
# 785-823 against 684-720 ms p50 (bench/scale.py, docs/scaling.md).
RANGES_PER_PROCESS = 1
# No range spans fewer ids than this: below it, a range's query costs more to plan than it saves.
IDS_PER_RANGE = 50_000


@dataclass(frozen=True)
class ExamCriteria:
    datasets: list[str] = field(default_factory=list)
    imported_from: date | None = None
    imported_to: date | None = None
    acquired_from: date | None = None
    acquired_to: date | None = None
    age_min: int | None = None
    age_max: int | None = None
    sex: str | None = None
    # Reference labels as "system:code" (e.g. "code15:RBBB", "snomed:426177001"); any of them matches.
    reference_labels: list[str] = field(default_factory=list)
    # A suggestion score window for one class: provider name, class code, minimum and maximum score
    # (inclusive, either open). It holds the exams whose newest OK score from the provider (the one the
    # stratified sampling reads) lies in it; exams the provider never scored for the class lie in none.
    suggestion_provider: str | None = None
    suggestion_code: str | None = None
    suggestion_min: float | None = None
    suggestion_max: float | None = None
    # Signal quality stored at import: any of these grades ("" for exams without a report yet), and
    # none of these flags (annotations.lib.ecg.quality.EXAM_FLAGS).
    quality_grades: list[str] = field(default_factory=list)
    quality_without: list[str] = field(default_factory=list)


# The grades a batch takes when the coordinator ticks none. An exam graded poor (limb leads that contradict
# each other, no lead with signal, or four or more flagged leads: lib.ecg.quality) would hand a reader a
# sheet of noise or of unplugged chest leads to read or skip; it goes into a batch only when asked for.
GRADES_WITHOUT_CHOICE = ("", "good", "acceptable")


def batch_criteria(criteria: ExamCriteria) -> ExamCriteria:
    """The criteria a batch chooses its exams by: with no grade ticked, every grade but poor."""
    if criteria.quality_grades:
        return criteria
    return replace(criteria, quality_grades=list(GRADES_WITHOUT_CHOICE))


@dataclass(frozen=True)
class PoorLeftOut:
    """Exams the criteria match that a batch leaves out for their poor grade, and their flags (an exam
    counts under each flag it carries; lib.ecg.quality.EXAM_FLAGS)."""

    exams: int = 0
    flags: dict[str, int] = field(default_factory=dict)


def poor_left_out(user: User, criteria: ExamCriteria, *, outside: QuerySet[Any] | None = None) -> PoorLeftOut:
    """What batch_criteria leaves out of `criteria`'s exams (none when a grade is ticked); `outside`:
    exam ids that do not count (those a running batch holds already)."""
    _require_coordinator(user)
    if criteria.quality_grades:
        return PoorLeftOut()
    poor = _pool(replace(criteria, quality_grades=["poor"])).within().order_by()
    if outside is not None:
        poor = poor.exclude(pk__in=outside)
    counted: dict[str, int] = {}
    total = 0
    # One row per combination of flags (a handful), not per exam.
    for flags, n in poor.values_list("quality_flags").annotate(n=Count("pk")).order_by():
        total += n
        for flag in filter(None, flags.split(",")):
            counted[flag] = counted.get(flag, 0) + n
    return PoorLeftOut(total, {flag: counted[flag] for flag in _FLAG_ORDER if flag in counted})


def _require_coordinator(user: User) -> None:
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden


def exams_matching(user: User, criteria: ExamCriteria) -> QuerySet[Exam]:
    _require_coordinator(user)
    return _pool(criteria).within()


@dataclass(frozen=True)
class _Pool:
    """The criteria as queries: on the exams' own columns, and the score window's rows (None without one)."""

    exams: QuerySet[Exam]
    window: QuerySet[LatestSuggestionScore] | None

    def within(self, ids: tuple[int, int] | None = None) -> QuerySet[Exam]:
        """The matching exams, or those of them with ids in [low, high)."""
        exams = self.exams if ids is None else self.exams.filter(pk__gte=ids[0], pk__lt=ids[1])
        if self.window is not None:
            exams = exams.filter(pk__in=self.window.values("exam_id"))
        return exams.order_by("pk")


def _pool(criteria: ExamCriteria) -> _Pool:
    exams = Exam.objects.all()
    if criteria.datasets:
        # The datasets' ids first (named in any case): joined by name, PostgreSQL hashed the dataset
        # table against every candidate exam (0.1 s of a CODE-II pool). None of them known: by name all
        # the same, as an empty list of ids is a query the ORM refuses to compile.
        datasets = dataset_ids_named(criteria.datasets)
        exams = (
            exams.filter(dataset_id__in=datasets)
            if datasets
            else exams.filter(dataset__name__in=criteria.datasets)
        )
    for name, lookup in (
        ("imported_from", "imported_at__date__gte"),
        ("imported_to", "imported_at__date__lte"),
        ("acquired_from", "acquired_at__date__gte"),
        ("acquired_to", "acquired_at__date__lte"),
        ("age_min", "age__gte"),
        ("age_max", "age__lte"),
        ("sex", "sex"),
    ):
        value = getattr(criteria, name)
        if value is not None and value != "":
            exams = exams.filter(**{lookup: value})
    if criteria.reference_labels:
        exams = exams.filter(_with_reference_codes(criteria.reference_labels))
    if criteria.quality_grades:
        exams = exams.filter(quality_grade__in=criteria.quality_grades)
    for flag in criteria.quality_without:
        exams = exams.exclude(quality_flags__contains=f",{flag},")
    window = None
    if criteria.suggestion_provider and criteria.suggestion_code:
        window = _newest_in_window(
            criteria.suggestion_provider,
            criteria.suggestion_code,
            criteria.suggestion_min,
            criteria.suggestion_max,
        )
    return _Pool(exams, window)


def _with_reference_codes(labels: list[str]) -> Q:
    """Exams with any of `labels` ("system:code"), told from the codes kept on the exam row (a substring
    test per row of the designer's covering index, case-sensitive on both databases as the label table's
    equality is: StrIndex is strpos/instr, where SQLite's LIKE ignores case). The exams whose codes did
    not fit their row are asked of the label table, and only when there are any: an EXISTS in the pool's
    plan, even one never reached, invites PostgreSQL to hash every matching label first."""
    pairs = list(dict.fromkeys(_stored_spellings(_label_pairs(labels))))
    condition = Q()
    for system, code in pairs:
        needle = Value(reference_code_needle(system, code))
        condition |= Q(GreaterThan(StrIndex("reference_codes", needle), 0))
    if Exam.objects.filter(reference_codes=OVERFLOW).exists():
        condition |= Q(reference_codes=OVERFLOW) & Q(Exists(_with_reference_labels(pairs)))
    return condition


def _stored_spellings(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each (system, code) as the labels store it. A code stored as given is taken in its own case (a
    source may keep "af" beside "AF"); one stored only in another case ("CODE15:rbbb" for code15's "RBBB")
    is taken as stored, since the codes kept on the exam row are compared exactly. Only the spellings
    are read (the label table's index on UPPER(code)), never the exams."""
    spelt = []
    for system, code in pairs:
        if ReferenceLabel.objects.filter(code=code, code_system=system).exists():
            spelt.append((system, code))
            continue
        stored = ReferenceLabel.objects.filter(code__iexact=code, code_system__iexact=system)
        spelt.extend(stored.order_by().values_list("code_system", "code").distinct()[:20] or [(system, code)])
    return spelt


def _label_pairs(labels: list[str]) -> list[tuple[str, str]]:
    return [(system, code) for system, _, code in (label.partition(":") for label in labels)]


def _with_reference_labels(pairs: list[tuple[str, str]]) -> QuerySet[ReferenceLabel]:
    """The exam's reference labels among `pairs`, for EXISTS: one code list per code system, which the
    (code, code_system, exam) index answers without reading the table; a (system, code) pair per label
    was answered by scanning all of CODE-II's 5M labels."""
    codes: dict[str, list[str]] = {}
    for system, code in pairs:
        codes.setdefault(system, []).append(code)
    condition = Q()
    for system, listed in codes.items():
        condition |= Q(code_system=system, code__in=listed)
    return ReferenceLabel.objects.filter(condition, exam_id=OuterRef("pk"))


def _newest_in_window(
    provider: str, code: str, low: float | None, high: float | None
) -> QuerySet[LatestSuggestionScore]:
    """Each exam's kept newest OK score for a class code from the provider, where it lies in [low, high]
    (either open): the score the stratified sampling reads, not any older version's. The classes go as
    ids, and a window is a range of migration 0021's (provider, class, score) index, the exams read from
    the index alone. Where several taxonomies' statements with the code are scored, an exam's newest over
    them is the one that must lie in the window (picked as suggestion_scores picks it)."""
    classes = _scored_classes(provider, _class_ids(code))
    rows = LatestSuggestionScore.objects.filter(provider=provider, diagnostic_class_id__in=classes)
    if low is not None:
        rows = rows.filter(score__gte=low)
    if high is not None:
        rows = rows.filter(score__lte=high)
    if len(classes) > 1:
        newer = Q(computed_at__gt=OuterRef("computed_at")) | Q(
            computed_at=OuterRef("computed_at"), suggestion_id__gt=OuterRef("suggestion_id")
        )
        same = Q(computed_at=OuterRef("computed_at"), suggestion_id=OuterRef("suggestion_id"))
        first = same & Q(diagnostic_class_id__lt=OuterRef("diagnostic_class_id"))
        rows = rows.exclude(
            Exists(
                LatestSuggestionScore.objects.filter(
                    newer | first,
                    provider=provider,
                    diagnostic_class_id__in=classes,
                    exam_id=OuterRef("exam_id"),
                )
            )
        )
    return rows


def _scored_classes(provider: str, classes: list[int]) -> list[int]:
    """Those of `classes` the provider has a kept score for. Most codes are scored in one taxonomy only
    (the default): the others' statements are left out, so that one class's rows are read straight from
    an index, with no newest to pick over classes."""
    kept = LatestSuggestionScore.objects.filter(provider=provider)
    return [c for c in classes if kept.filter(diagnostic_class_id=c).exists()]


@dataclass(frozen=True)
class ScoredStatement:
    """A statement code some provider has scored exams for: what the designer stratifies by, or keeps a
    window of. The name is the default taxonomy's, else the first taxonomy's with the code, in the
    interface's language (selectors.taxonomy.statement_name)."""

    provider: str
    code: str
    name: str


# Providers x statements are a few dozen in practice (an imported model's 66 classes at most); the walk
# stops here rather than run unbounded on a store that holds thousands.
MOST_SCORED_PAIRS = 1000


def _scored_pairs() -> list[tuple[str, int]]:
    """Every (provider, class id) with a kept score, each found by one seek of the unique index (provider,
    class, exam) past the one before: a DISTINCT over the kept scores reads all of them (11 M rows at
    CODE-II size with four classes scored), the walk one row per pair."""
    rows = LatestSuggestionScore.objects.order_by("provider", "diagnostic_class_id").values_list(
        "provider", "diagnostic_class_id"
    )
    pairs: list[tuple[str, int]] = []
    pair = rows.first()
    while pair is not None and len(pairs) < MOST_SCORED_PAIRS:
        pairs.append(pair)
        provider, class_id = pair
        pair = (
            rows.filter(provider=provider, diagnostic_class_id__gt=class_id).first()
            or rows.filter(provider__gt=provider).first()
        )
    return pairs


def scored_statements(user: User) -> list[ScoredStatement]:
    """Each (provider, statement code) that some exam has a kept score for, by provider then code."""
    _require_coordinator(user)
    pairs = _scored_pairs()
    classes = DiagnosticClass.objects.filter(pk__in={class_id for _, class_id in pairs})
    code_of = dict(classes.values_list("pk", "code"))
    names: dict[str, str] = {}
    named = DiagnosticClass.objects.filter(code__in=set(code_of.values()))
    for code, name, name_pt in named.order_by("-taxonomy__is_default", "pk").values_list(
        "code", "name", "name_pt"
    ):
        names.setdefault(code, statement_name(name, name_pt))
    found = {(provider, code_of[class_id]) for provider, class_id in pairs}
    return [ScoredStatement(provider, code, names[code]) for provider, code in sorted(found)]


def _class_ids(code: str) -> list[int]:
    return list(DiagnosticClass.objects.filter(code=code).order_by("pk").values_list("pk", flat=True))


def suggestion_scores(
    user: User, exam_ids: list[int], *, provider: str, code: str, among: QuerySet[Exam] | None = None
) -> dict[int, float]:
    """Each exam's score for a class code from the provider's newest OK suggestion with one (computed_at,
    then id; of two taxonomies' statements scored by the same suggestion, the first loaded); exams without
    one score 0. `among`, the query the ids came from, is sent instead of the ids when given: tens of
    thousands of ids as query parameters cost more to send and parse than the query itself."""
    _require_coordinator(user)
    scores = dict.fromkeys(exam_ids, 0.0)
    wanted = among.order_by().values_list("pk", flat=True) if among is not None else exam_ids
    rows = (
        LatestSuggestionScore.objects.filter(
            provider=provider, diagnostic_class_id__in=_class_ids(code), exam_id__in=wanted
        )
        .order_by("computed_at", "suggestion_id", "-diagnostic_class_id")
        .values_list("exam_id", "score")
    )
    for exam_id, score in rows:
        if exam_id in scores:
            scores[exam_id] = score  # in that order, each exam's newest comes last
    return scores


def matching_ids(user: User, criteria: ExamCriteria) -> np.ndarray:
    """The ids of the exams matching `criteria`, ascending, as one int64 array: a pool of millions stays a
    few megabytes, where a list of Python ints cost seconds to build and sort."""
    _require_coordinator(user)
    pool = _pool(criteria)
    if connection.vendor != "postgresql":
        return np.fromiter(pool.within().values_list("pk", flat=True), dtype=np.int64)
    bounds = Exam.objects.aggregate(low=Min("pk"), high=Max("pk"))  # the table's, from its primary key
    if bounds["low"] is None:
        return np.empty(0, dtype=np.int64)
    ranges: list[tuple[int, int] | None] = [None]
    # A score window is read whole. By ranges, each range merged the class's scores in exam order with the
    # exams (every score read, to keep those in the window), where the whole window hashes its own rows
    # alone (at 2.7M exams, a window of 164k: 0.35 s against 0.28 s in PostgreSQL).
    if pool.window is None:
        most = RANGES_PER_PROCESS * parallel_aggregates()
        ranges = [*id_ranges(bounds["low"], bounds["high"], most)]
    parts = [part for ids in ranges if (part := _part_sql(pool, ids)) is not None]
    if not parts:
        return np.empty(0, dtype=np.int64)
    # Ids sent in 4 bytes where every id fits (an archive short of two billion exams): half of what 8
    # cost to send, 0.31 s against 0.38 s for the 2.3M ids of a pool at 2.7M exams.
    sql_type, kind = ("int4", ">i4") if bounds["high"] < 2**31 else ("int8", ">i8")
    ids = query_array_in_parts(parts, "pk", sql_type, kind).astype(np.int64)
    # A range read from an index comes in id order, one read by scanning the table in the order its rows
    # lie; the stable sort merges ascending runs, 3-7 ms for 1-2.7M ids here against 50-230 ms for the
    # default quicksort.
    return np.sort(ids, kind="stable")


def _part_sql(pool: _Pool, ids: tuple[int, int] | None) -> tuple[str, tuple[Any, ...]] | None:
    """One range's query as SQL, or None where Django finds it can match nothing (a score window of a
    provider or statement nobody scored: no class to look in) and so has no SQL to give."""
    try:
        sql: tuple[str, tuple[Any, ...]] = pool.within(ids).order_by().values("pk").query.sql_with_params()
        return sql
    except EmptyResultSet:
        return None


def id_ranges(low: int, high: int, most: int) -> list[tuple[int, int]]:
    """Up to `most` half-open ranges [start, end) of about equal width that cover low..high, in order;
    none narrower than IDS_PER_RANGE (but the only one)."""
    count = max(1, min(most, (high - low + 1) // IDS_PER_RANGE))
    edges = np.unique(np.linspace(low, high + 1, count + 1).astype(np.int64))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def score_exists(provider: str, code: str) -> bool:
    """Whether any exam has a kept score from the provider for a statement of that code: one seek of the
    (provider, class, exam) index."""
    classes = _class_ids(code)
    return LatestSuggestionScore.objects.filter(provider=provider, diagnostic_class_id__in=classes).exists()


def matching_scores(
    user: User, criteria: ExamCriteria, *, provider: str, code: str, at_least: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(ids ascending, scores) of the exams matching `criteria`: each exam's score for a class from the
    provider's newest version, 0 without one (as suggestion_scores). The scores are joined to the pool in
    the database, or, for one statement and at_least, read apart and matched to it here.

    at_least: scores under it may come back as 0, for a caller to which they are all alike (the designer's
    lowest stratum). Most exams score near 0 for most classes, so only the few rows at or above it are read,
    a range of latest_score_window_idx, instead of the class's row for every exam."""
    _require_coordinator(user)
    classes = _class_ids(code)
    if not classes:
        raise Invalid(
            _("no taxonomy has a statement with the code “%(code)s” to stratify by") % {"code": code}
        )
    if connection.vendor != "postgresql":
        ids = matching_ids(user, criteria)
        matching = exams_matching(user, criteria)
        scores = suggestion_scores(user, ids.tolist(), provider=provider, code=code, among=matching)
        return ids, np.array([scores[i] for i in ids.tolist()], dtype=np.float64)
    # One class's rows, in the common case, come from an index alone: those at or above at_least from the
    # window index (provider, class, score), or every one from the unique index, in exam order.
    scored = _scored_classes(provider, classes)
    if not scored:
        ids = matching_ids(user, criteria)
        return ids, np.zeros(len(ids), dtype=np.float64)
    kept = LatestSuggestionScore.objects.filter(provider=provider)
    newest = kept.filter(diagnostic_class_id__in=scored).values("exam_id", "score")
    if len(scored) == 1 and at_least > 0:
        pool = matching_ids(user, criteria)
        rows = newest.filter(score__gte=at_least)
        if len(pool) <= FEW_EXAMS:  # the pool's own rows, from the unique index, however common the class
            rows = rows.filter(exam_id__in=pool.tolist())
        return _pool_with_scores(pool, rows)
    if len(scored) > 1:  # the newest over the statements, picked as suggestion_scores picks it
        # (here a row under at_least may still be the newest, so every row is read)
        newest = newest.order_by("exam_id", "-computed_at", "-suggestion_id", "diagnostic_class_id").distinct(
            "exam_id"
        )
    return _pool_joined_with_scores(exams_matching(user, criteria), newest)


def _pool_joined_with_scores(
    matching: QuerySet[Exam], newest: QuerySet[Any]
) -> tuple[np.ndarray, np.ndarray]:
    """(ids ascending, scores) of `matching`, each exam's score its row of `newest` (exam_id, score, one per
    exam) or 0, joined in PostgreSQL."""
    pool_sql, pool_params = matching.order_by().values("pk").query.sql_with_params()
    scores_sql, scores_params = newest.query.sql_with_params()
    # Both parts are the ORM's own SQL, their values passed as parameters. With every row of the class,
    # at 500k exams PostgreSQL chose to hash them with the pool in parallel (0.4-0.6 s at load 5) over
    # merging them in exam order (0.44 s serial), so no plan is forced. The rows are
    # sorted here, not in the database: an ORDER BY is no promise once they are aggregated into arrays,
    # and at 2.7M exams it sorted the 982k joined rows on disk after the hash join (0.4-0.6 s).
    sql = (
        f"SELECT m.pk AS id, COALESCE(s.score, 0)::float8 AS score FROM ({pool_sql}) m "  # noqa: S608
        f"LEFT JOIN ({scores_sql}) s ON s.exam_id = m.pk"
    )
    ids, scores = query_arrays(
        sql, (*pool_params, *scores_params), [("id", "int8", ">i8"), ("score", "float8", ">f8")]
    )
    order = np.argsort(ids, kind="stable")
    return ids[order].astype(np.int64), scores[order].astype(np.float64)


def _pool_with_scores(pool: np.ndarray, scores: QuerySet[Any]) -> tuple[np.ndarray, np.ndarray]:
    """The pool (ids ascending) with the scores of those of its exams that have one of `scores`' (exam_id,
    score) rows, 0 for the others. The rows are read apart and matched here: joining them to the pool in
    PostgreSQL cost 0.25-0.5 s more than reading the two at 2.7M exams (a pool of 982k, 148k rows)."""
    sql, params = scores.query.sql_with_params()
    exam_ids, values = query_arrays(sql, params, [("exam_id", "int8", ">i8"), ("score", "float8", ">f8")])
    matched = np.zeros(len(pool), dtype=np.float64)
    if len(pool) and len(exam_ids):
        # Each row's place in the pool, and whether its exam is there: rows of exams outside the
        # criteria land beside a pool id, or past the end, and count nowhere.
        places = np.minimum(np.searchsorted(pool, exam_ids.astype(np.int64)), len(pool) - 1)
        inside = pool[places] == exam_ids
        matched[places[inside]] = values[inside]
    return pool, matched


_SQL_TYPES = {">i8": "int8", ">i4": "int4", ">i2": "int2", ">f8": "float8"}


def _copied(sql: str, params: Sequence[Any], columns: list[tuple[str, str]]) -> np.ndarray:
    """The rows of a query with no NULLs as a numpy record array, its columns named in order, each column
    aggregated into one binary array (query_arrays). They were read by binary COPY, which PostgreSQL
    sends as one message per row: 400k rows were 400k reads in Python, most of the batch dashboard's
    time at 100k exams."""
    named = f"SELECT * FROM ({sql}) AS r({', '.join(name for name, _ in columns)})"  # noqa: S608
    arrays = query_arrays(named, params, [(name, _SQL_TYPES[kind], kind) for name, kind in columns])
    rows = np.empty(len(arrays[0]), dtype=np.dtype(columns))
    for (name, _kind), values in zip(columns, arrays, strict=True):
        rows[name] = values
    return rows
