"""The coordinators' exam list, built to stay fast on millions of exams.

Pages are keyset pages (the rows after, or before, a given row), never OFFSET, and a page never counts
the whole list. Each sort reads a sequence of groups, each group in the order of one index
(migration 0016_exam_list_indexes): the date sort reads dated exams by (acquired_at, id), then the
undated ones by id; the quality sort reads each grade by (quality_grade, id), unchecked exams last; the
dataset sort reads each dataset, in name order, by (dataset, external_id), the unique constraint's
index. A page reads group after group until it is full, so exams with no date or no report end the list
whichever the direction, and no query needs a NULL-aware or computed ordering the indexes cannot give.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from annotations.errors import Forbidden, Invalid
from annotations.lib.ecg.quality import EXAM_FLAGS
from annotations.models import Dataset, Exam, QualityGrade, ReferenceLabel
from annotations.roles import Role, has_role
from annotations.selectors.exams.browse import DATASET_ORDER, dataset_ids_named

if TYPE_CHECKING:
    from django.contrib.auth.models import User

SORTS = ("dataset", "date", "external_id", "quality")
DEFAULT_SORT = "dataset"
QUALITY_ASCENDING = ("poor", "acceptable", "good")  # worst first; unchecked exams end either direction
LISTED_FIELDS = (
    "id",
    "external_id",
    "dataset__name",
    "age",
    "sex",
    "acquired_at",
    "sampling_rate",
    "n_samples",
    "source_format",
    "imported_at",
    "quality_grade",
    "quality_flags",
)


@dataclass(frozen=True)
class ExamFilters:
    dataset: str = ""
    acquired_from: date | None = None
    acquired_to: date | None = None
    quality: str = ""  # a grade, or "none" for exams without a report yet
    flag: str = ""
    label_system: str = ""
    label_code: str = ""
    sort: str = DEFAULT_SORT  # one of SORTS, "-" first for descending

    def as_query(self) -> dict[str, str]:
        """The filters as query parameters, blanks left out: the pages' links carry them."""
        values = {
            "dataset": self.dataset,
            "acquired_from": self.acquired_from.isoformat() if self.acquired_from else "",
            "acquired_to": self.acquired_to.isoformat() if self.acquired_to else "",
            "quality": self.quality,
            "flag": self.flag,
            "label_system": self.label_system,
            "label_code": self.label_code,
            "sort": "" if self.sort == DEFAULT_SORT else self.sort,
        }
        return {name: value for name, value in values.items() if value}


@dataclass
class ExamPage:
    exams: list[Exam]
    filters: ExamFilters
    after: str | None = None  # cursor of the next page, None on the last
    before: str | None = None  # cursor of the previous page, None on the first

    @property
    def object_list(self) -> list[Exam]:
        return self.exams

    @property
    def next_query(self) -> str | None:
        """The next page's query string, the filters and the sort kept; None on the last page."""
        return urlencode({**self.filters.as_query(), "after": self.after}) if self.after else None

    @property
    def first_query(self) -> str:
        return urlencode(self.filters.as_query())

    @property
    def previous_query(self) -> str | None:
        return urlencode({**self.filters.as_query(), "before": self.before}) if self.before else None


def _day(params: Mapping[str, str], name: str) -> date | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        said = _("%(name)s: “%(text)s” is not a date (YYYY-MM-DD)") % {"name": name, "text": text}
        raise Invalid(said) from None


# The list's query parameters: its filters and sort, and the page's cursors and count.
LIST_PARAMETERS = (
    "dataset",
    "acquired_from",
    "acquired_to",
    "quality",
    "flag",
    "label_system",
    "label_code",
    "sort",
    "after",
    "before",
    "count",
)


def exam_list_refuse_unknown(params: Mapping[str, str]) -> None:
    """For the API: a parameter the list does not take, or a grade, flag, sort or count it does not know,
    is refused by name. A script that misspells one would otherwise get every exam back, as if filtered;
    the page offers only known values and keeps ignoring others."""
    unknown = sorted(set(params) - set(LIST_PARAMETERS))
    if unknown:
        raise Invalid(
            _("unknown parameter %(names)s: the exam list takes %(known)s")
            % {"names": ", ".join(unknown), "known": ", ".join(LIST_PARAMETERS)}
        )
    allowed = {
        "quality": [*QualityGrade.values, "none"],
        "flag": list(EXAM_FLAGS),
        "sort": [f"{sign}{name}" for name in SORTS for sign in ("", "-")],
        "count": ["exact"],
    }
    for name, values in allowed.items():
        value = params.get(name) or ""
        if value and value not in values:
            raise Invalid(
                _("%(name)s: “%(value)s” is none of %(values)s")
                % {"name": name, "value": value, "values": ", ".join(values)}
            )


def exam_filters_from(params: Mapping[str, str]) -> ExamFilters:
    """The declared parameters, each checked by value: unknown grades, flags and sorts filter nothing (the
    page offers only known ones); a malformed date is refused."""
    sort = params.get("sort") or DEFAULT_SORT
    quality = params.get("quality") or ""
    flag = params.get("flag") or ""
    return ExamFilters(
        dataset=params.get("dataset") or "",
        acquired_from=_day(params, "acquired_from"),
        acquired_to=_day(params, "acquired_to"),
        quality=quality if quality in QualityGrade.values or quality == "none" else "",
        flag=flag if flag in EXAM_FLAGS else "",
        label_system=(params.get("label_system") or "").strip()[:30],
        label_code=(params.get("label_code") or "").strip()[:300],
        sort=sort if sort.lstrip("-") in SORTS and sort.count("-") <= 1 else DEFAULT_SORT,
    )


def _filtered(filters: ExamFilters) -> QuerySet[Exam]:
    exams = Exam.objects.select_related("dataset").only(*LISTED_FIELDS)
    if filters.dataset:
        exams = exams.filter(dataset_id__in=dataset_ids_named([filters.dataset]))
    zone = timezone.get_current_timezone()
    # Ranges on the column itself, never a cast to a date: the indexes on acquired_at serve them.
    if filters.acquired_from:
        exams = exams.filter(acquired_at__gte=datetime.combine(filters.acquired_from, time.min, zone))
    if filters.acquired_to:
        end = datetime.combine(filters.acquired_to + timedelta(days=1), time.min, zone)
        exams = exams.filter(acquired_at__lt=end)
    if filters.quality:
        exams = exams.filter(quality_grade="" if filters.quality == "none" else filters.quality)
    if filters.flag:
        exams = exams.filter(quality_flags__contains=f",{filters.flag},")
    if filters.label_code or filters.label_system:
        labels = ReferenceLabel.objects.filter(_label_matches(filters.label_system, filters.label_code))
        exams = exams.filter(Exists(labels.filter(exam=OuterRef("pk"))))
    return exams


def _label_matches(system: str, code: str) -> Q:
    """A reference label as a coordinator types it: in any case (sources write "RBBB", people "rbbb"),
    and with no system chosen, "code15:rbbb" in the code box is that system's code. A code may hold a
    colon itself, so the whole text as a code matches too. On PostgreSQL iexact is UPPER(code) = UPPER(..),
    which the label table's index on UPPER(code) serves."""
    if system:
        # A system alone: any label of it.
        return Q(code__iexact=code, code_system__iexact=system) if code else Q(code_system__iexact=system)
    matches = Q(code__iexact=code)
    prefix, colon, rest = code.partition(":")
    if colon and prefix.strip() and rest.strip():
        matches |= Q(code__iexact=rest.strip(), code_system__iexact=prefix.strip())
    return matches


@dataclass(frozen=True)
class _Group:
    name: str  # stable across requests: a cursor names its group
    condition: Q
    keys: tuple[str, ...]  # the order within the group; together unique


def _groups(sort: str, filters: ExamFilters) -> list[_Group]:
    """The sort's groups in reading order."""
    name, descending = sort.lstrip("-"), sort.startswith("-")
    last: list[_Group] = []
    if name == "date":
        groups = [_Group("dated", Q(acquired_at__isnull=False), ("acquired_at", "id"))]
        last = [_Group("undated", Q(acquired_at__isnull=True), ("id",))]
    elif name == "external_id":
        groups = [_Group("all", Q(), ("external_id", "id"))]
    elif name == "quality":
        groups = [_Group(grade, Q(quality_grade=grade), ("id",)) for grade in QUALITY_ASCENDING]
        last = [_Group("unchecked", Q(quality_grade=""), ("id",))]
    else:
        datasets = Dataset.objects.order_by(*DATASET_ORDER)
        if filters.dataset:
            datasets = datasets.filter(pk__in=dataset_ids_named([filters.dataset]))
        groups = [
            _Group(f"d{pk}", Q(dataset_id=pk), ("external_id",))
            for pk in datasets.values_list("pk", flat=True)
        ]
    if descending:
        groups.reverse()
    return groups + last


def _beyond(keys: tuple[str, ...], values: list[Any], op: str) -> Q:
    """Rows past `values` in the order of `keys` (op "gt" or "lt"). The leading gte/lte is redundant
    but lets PostgreSQL start the index scan at the cursor instead of filtering from the start."""
    either = Q()
    for i, key in enumerate(keys):
        either |= Q(**dict(zip(keys[:i], values[:i], strict=True)), **{f"{key}__{op}": values[i]})
    return Q(**{f"{keys[0]}__{op}e": values[0]}) & either


def _encode(sort: str, group: _Group, exam: Exam) -> str:
    values = [getattr(exam, key) for key in group.keys]
    text = json.dumps([sort, group.name, [v.isoformat() if isinstance(v, datetime) else v for v in values]])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(token: str, sort: str, groups: list[_Group]) -> tuple[int, list[Any]]:
    """(group index, key values) of a cursor made by _encode for this sort; anything else is refused."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        cursor_sort, name, values = raw
        index = [group.name for group in groups].index(name)
        keys = groups[index].keys
        if cursor_sort != sort or len(values) != len(keys):
            raise ValueError
        typed: dict[str, Callable[[Any], object]] = {
            "id": int,
            "acquired_at": datetime.fromisoformat,
            "external_id": str,
        }
        return index, [typed[key](value) for key, value in zip(keys, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        said = _("the page cursor is not one this list made; start again from the first page")
        raise Invalid(said) from None


def _read(
    exams: QuerySet[Exam],
    groups: list[_Group],
    cursor: tuple[int, list[Any] | None],
    *,
    forward: bool,
    ascending: bool,
    wanted: int,
) -> list[tuple[int, Exam]]:
    """Up to `wanted` (group index, exam) from the cursor's group on, past its values there: through the
    groups forward or backward, each group read by its keys ascending or descending."""
    start, values = cursor
    indices = range(start, len(groups)) if forward else range(start, -1, -1)
    rows: list[tuple[int, Exam]] = []
    for index in indices:
        group = groups[index]
        chosen = exams.filter(group.condition)
        if index == start and values is not None:
            chosen = chosen.filter(_beyond(group.keys, values, "gt" if ascending else "lt"))
        order = [key if ascending else f"-{key}" for key in group.keys]
        rows += [(index, exam) for exam in chosen.order_by(*order)[: wanted - len(rows)]]
        if len(rows) >= wanted:
            break
    return rows


def exam_page(
    user: User, filters: ExamFilters, *, after: str = "", before: str = "", size: int = 50
) -> ExamPage:
    """One page of the list: the first, the one after cursor `after`, or the one before cursor `before`.
    One more row than the page holds is read, to know whether a page follows in that direction."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    sort, descending = filters.sort, filters.sort.startswith("-")
    groups = _groups(sort, filters)
    exams = _filtered(filters)
    cursor: tuple[int, list[Any] | None]
    if before:
        cursor = _decode(before, sort, groups)
        rows = _read(exams, groups, cursor, forward=False, ascending=descending, wanted=size + 1)
        more, rows = len(rows) > size, rows[:size][::-1]
    else:
        cursor = _decode(after, sort, groups) if after else (0, None)
        rows = _read(exams, groups, cursor, forward=True, ascending=not descending, wanted=size + 1)
        more, rows = len(rows) > size, rows[:size]
    page = ExamPage(exams=[exam for _, exam in rows], filters=filters)
    if rows:
        (first_group, first), (last_group, last) = rows[0], rows[-1]
        if more or before:  # coming back from a later page, that page follows
            page.after = _encode(sort, groups[last_group], last)
        if (more and before) or after:  # come forward from an earlier page, that page precedes
            page.before = _encode(sort, groups[first_group], first)
    return page


# Up to this many matches a count is exact (reading at most this many + 1 rows); past it the page and the
# API give the planner's estimate: an exact count of 2.7M exams read them all, a second per page.
EXACT_COUNT_LIMIT = 1_000


def exam_count(user: User, filters: ExamFilters, *, limit: int | None = None) -> int | None:
    """How many exams the filters keep. With a limit, None when more than `limit` exams match: counting
    reads at most limit + 1 rows."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    rows = _filtered(filters).order_by()
    if limit is None:
        return rows.count()
    counted = rows.values("pk")[: limit + 1].count()
    return counted if counted <= limit else None


def exam_count_estimate(user: User, filters: ExamFilters) -> int:
    """The planner's estimate of exam_count on PostgreSQL (cheap, and only an estimate: off by a lot
    when filters correlate); elsewhere, the single-laptop default with few exams, the exact count."""
    if not has_role(user, Role.COORDINATOR):
        raise Forbidden
    rows = _filtered(filters).order_by().values("pk")
    if connection.vendor != "postgresql":
        return rows.count()
    plan = json.loads(rows.explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])
