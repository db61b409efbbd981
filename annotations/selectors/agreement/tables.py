"""Reads for the agreement tables beyond the first reads: the references a reader is measured against
(adjudicated decisions, gold exams' known labels), the retests, and the stored tables arranged as the
CSV downloads and ``manage.py agreement_report`` give them (one serialiser for both)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from annotations.lib.reference_codes import coverage_of
from annotations.lib.stats import MISSING
from annotations.models import (
    Adjudication,
    AgreementResult,
    Annotation,
    AnnotationLabel,
    Assignment,
    BatchExam,
    DiagnosticClass,
    Exam,
    ReferenceLabel,
    ReviewBatch,
)
from annotations.selectors.agreement.summary import ReadsSnapshot, agreement_dashboard
from annotations.selectors.imports import LabelMatcher, label_classes
from annotations.selectors.taxonomy import taxonomy_shipped_classes


def _axis_positions(ids: list[int], wanted: Iterable[int]) -> np.ndarray:
    """Positions of ``wanted`` ids in the sorted axis ``ids`` (every wanted id must be present)."""
    return np.searchsorted(np.asarray(ids, dtype=np.int64), np.asarray(wanted, dtype=np.int64))


def batch_adjudicated_reference(batch: ReviewBatch, snapshot: ReadsSnapshot) -> np.ndarray:
    """``reference[e, c]``: the adjudicator's decision where there is one, MISSING elsewhere."""
    reference = np.full((len(snapshot.exam_ids), len(snapshot.class_ids)), MISSING, dtype=np.int8)
    exams, classes = set(snapshot.exam_ids), {c: i for i, c in enumerate(snapshot.class_ids)}
    rows = [
        (e, c, v)
        for e, c, v in Adjudication.objects.filter(batch=batch).values_list(
            "exam_id", "diagnostic_class_id", "value"
        )
        if e in exams and c in classes
    ]
    if rows:
        e_pos = _axis_positions(snapshot.exam_ids, [e for e, _, _ in rows])
        reference[e_pos, [classes[c] for _, c, _ in rows]] = [int(v) for _, _, v in rows]
    return reference


def batch_gold_exam_ids(batch: ReviewBatch) -> set[int]:
    """The batch's gold exams: every reader reads them, chosen for their known answer."""
    return set(BatchExam.objects.filter(batch=batch, is_gold=True).values_list("exam_id", flat=True))


def gold_truths(
    batch: ReviewBatch, exam_ids: Iterable[int] | None = None
) -> dict[int, tuple[set[int], set[int]]]:
    """Per gold exam of the batch: (the classes its reference label systems speak for, the known findings)
    (reference_truths)."""
    return reference_truths(batch, exam_ids, gold_only=True)


def reference_truths(
    batch: ReviewBatch, exam_ids: Iterable[int] | None = None, *, gold_only: bool = False
) -> dict[int, tuple[set[int], set[int]]]:
    """Per exam of the batch (or per gold exam): (the classes its reference labels speak for, the known
    findings), as classes of the batch's taxonomy.

    A reference label set says what is present in its own vocabulary; it is silent about classes it
    cannot express (a six-class CODE label says nothing about the other 67 TNMG statements), so only the
    classes it speaks for can be called absent. It is complete per exam: what the import read a value for
    (Exam.reference_coverage: CODE's label columns one by one, PTB-XL's whole vocabulary) and found
    absent is a known negative, so an exam marking nothing (a normal ECG) is a gold exam too. A system
    with labels and no coverage recorded speaks for all its classes, as before coverage was kept; an exam
    with neither labels nor coverage speaks for none.

    Read in two queries and matched once per distinct label and coverage: a batch of CODE-test's 827
    exams has a handful of each."""
    members = BatchExam.objects.filter(batch=batch)
    if gold_only:
        members = members.filter(is_gold=True)
    if exam_ids is not None:
        members = members.filter(exam_id__in=exam_ids)
    exams = Exam.objects.filter(pk__in=members.values("exam_id"))
    coverage = dict(exams.values_list("pk", "reference_coverage"))
    if not coverage:
        return {}
    labels: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for exam_id, system, code in ReferenceLabel.objects.filter(exam__in=exams).values_list(
        "exam_id", "code_system", "code"
    ):
        labels[exam_id].append((system, code))
    matcher = LabelMatcher(batch.taxonomy)
    spoken: dict[tuple[frozenset[Any], frozenset[Any]], set[int]] = {}
    meant: dict[tuple[str, str], set[int]] = {}
    truths: dict[int, tuple[set[int], set[int]]] = {}
    for exam_id, text in coverage.items():
        pairs = labels.get(exam_id, [])
        whole, codes = coverage_of(text)
        whole |= {system for system, _ in pairs} - {system for system, _ in codes}
        key = (frozenset(whole), frozenset(codes))
        if key not in spoken:
            spoken[key] = _whole_systems_cover(matcher.classes, batch.taxonomy.key, whole) | _codes_cover(
                matcher.classes, batch.taxonomy.key, codes
            )
        present: set[int] = set()
        for pair in pairs:
            if pair not in meant:
                meant[pair] = {cls.pk for cls in label_classes(matcher, *pair)}
            present |= meant[pair]
        truths[exam_id] = (spoken[key] | present, present)
    return truths


def _whole_systems_cover(classes: list[DiagnosticClass], key: str, systems: set[str]) -> set[int]:
    """The classes of taxonomy `key` that whole label systems speak for: all of its own, those mapped
    from or onto a system's codes."""
    if not systems:
        return set()
    onto = {(maps or {}).get(key) for _system, _code, maps in _system_classes(systems)}
    own = bool(systems & {key, f"{key}-scp"})
    return {c.pk for c in classes if own or systems & set(c.maps) or c.code in onto}


def _codes_cover(classes: list[DiagnosticClass], key: str, codes: set[tuple[str, str]]) -> set[int]:
    """The classes of taxonomy `key` that single codes read (code15:RBBB, code15:normal_ecg) speak for:
    the same code of its own, a class mapping from it, or the class it maps onto."""
    if not codes:
        return set()
    onto: set[str | None] = set()
    for system, code, maps in _system_classes({system for system, _ in codes}):
        if (system, code) in codes:
            onto.add((maps or {}).get(key))
    return {
        c.pk
        for c in classes
        if (key, c.code) in codes
        or any((c.maps or {}).get(system) == code for system, code in codes)
        or c.code in onto
    }


def _system_classes(systems: set[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(system, code, maps) of each class of the label systems: from the loaded taxonomy, else from the
    shipped file of that name (CODE's six classes map onto TNMG whether or not anyone loaded them)."""
    rows = list(
        DiagnosticClass.objects.filter(taxonomy__key__in=systems).values_list("taxonomy__key", "code", "maps")
    )
    for system in systems - {system for system, _, _ in rows}:
        shipped = taxonomy_shipped_classes(system)
        if shipped is not None:
            rows += [(system, c["code"], c["maps"]) for c in shipped[1]]
    return rows


def batch_gold_reference(
    batch: ReviewBatch, snapshot: ReadsSnapshot, *, gold_only: bool = True
) -> np.ndarray:
    """``gold[e, c]`` on the batch's gold exams (every exam with reference labels: gold_only False): 1 for
    a known finding, 0 for a class the exam's reference labels speak for but did not list, MISSING for
    every other cell and every other exam (reference_truths)."""
    gold = np.full((len(snapshot.exam_ids), len(snapshot.class_ids)), MISSING, dtype=np.int8)
    position = {c: i for i, c in enumerate(snapshot.class_ids)}
    for exam_id, (covered, present) in reference_truths(
        batch, snapshot.exam_ids, gold_only=gold_only
    ).items():
        e = int(_axis_positions(snapshot.exam_ids, [exam_id])[0])
        gold[e, [position[c] for c in covered if c in position]] = 0
        gold[e, [position[c] for c in present if c in position]] = 1
    return gold


@dataclass(frozen=True)
class Retests:
    """``first[r, e, c]`` and ``retest[r, e, c]`` over the retested exams, aligned with the snapshot's
    readers: exam ``e`` of reader ``r`` in ``retest`` is that reader's second read of it, made without
    sight of the first (each read as it is current: in a two-stage batch, the revision)."""

    first: np.ndarray
    retest: np.ndarray
    exam_ids: list[int]


def batch_retests(batch: ReviewBatch, snapshot: ReadsSnapshot) -> Retests:
    reads = Annotation.objects.filter(
        assignment__batch=batch,
        assignment__read_round=2,
        assignment__status=Assignment.Status.SUBMITTED,
        is_current=True,
        status=Annotation.Status.SUBMITTED,
    )
    readers = set(snapshot.reader_ids)
    exams = set(snapshot.exam_ids)
    pairs = [
        (r, e)
        for r, e in reads.values_list("assignment__reader_id", "assignment__exam_id")
        if r in readers and e in exams
    ]
    exam_ids = sorted({e for _, e in pairs})
    shape = (len(snapshot.reader_ids), len(exam_ids), len(snapshot.class_ids))
    retest = np.full(shape, MISSING, dtype=np.int8)
    if not exam_ids:
        return Retests(first=retest.copy(), retest=retest, exam_ids=[])
    first = snapshot.reads[:, _axis_positions(snapshot.exam_ids, exam_ids)]
    r_pos = _axis_positions(snapshot.reader_ids, [r for r, _ in pairs])
    e_pos = _axis_positions(exam_ids, [e for _, e in pairs])
    retest[r_pos, e_pos, :] = 0
    position = {c: i for i, c in enumerate(snapshot.class_ids)}
    labels = [
        (r, e, c)
        for r, e, c in AnnotationLabel.objects.filter(annotation__in=reads).values_list(
            "annotation__assignment__reader_id", "annotation__assignment__exam_id", "diagnostic_class_id"
        )
        if r in readers and e in exams and c in position
    ]
    if labels:
        retest[
            _axis_positions(snapshot.reader_ids, [r for r, _, _ in labels]),
            _axis_positions(exam_ids, [e for _, e, _ in labels]),
            [position[c] for _, _, c in labels],
        ] = 1
    return Retests(first=np.ascontiguousarray(first), retest=retest, exam_ids=exam_ids)


# --- The stored tables as the CSV downloads and the report command give them -------------------------
#: Tables of ``agreement.csv?table=`` and ``manage.py agreement_report --table``.
TABLES = ("classes", "readers", "pairs", "pairs_by_class", "reader_classes", "exams")
CLASS_STATISTICS = ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "pabak", "mean_pairwise_kappa")
#: Specific agreement (positive and negative), with intervals over exams (services.agreement.specific).
SPECIFIC_STATISTICS = ("positive_specific_agreement", "negative_specific_agreement")
READER_FIELDS = (
    "exams_read",
    "sensitivity",
    "specificity",
    "reference_positives",
    "mean_kappa",
    "latent_sensitivity",
    "latent_specificity",
    "gold_exams",
    "gold_label_accuracy",
    "gold_exam_accuracy",
    "gold_exam_accuracy_low",
    "gold_exam_accuracy_high",
    "retest_exams",
    "retest_kappa",
    "retest_kappa_low",
    "retest_kappa_high",
    "retest_agreement",
    "retest_agreement_low",
    "retest_agreement_high",
)


def cell(value: object) -> str:
    """One CSV cell: empty for undefined, floats as the shortest text that reads back as the same number
    (a table checked against another implementation must not lose digits), 1/0 for flags."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        # A whole number reads the same from every database (PostgreSQL's jsonb gives 1.0 back as 1).
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _ci(row: dict[str, Any], name: str) -> list[Any]:
    return list(row.get(f"{name}_ci") or [None, None])


def _classes_table(data: dict[str, Any], results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    boot = results.get("bootstrap") or {}
    header = ["code", "name", "prevalence", "observed_agreement"]
    for name in CLASS_STATISTICS:
        header += [name, f"{name}_ci_lower", f"{name}_ci_upper", f"{name}_defined", f"{name}_ci_partial"]
    for name in SPECIFIC_STATISTICS:
        header += [name, f"{name}_ci_lower", f"{name}_ci_upper", f"{name}_defined", f"{name}_ci_partial"]
    header += ["prevalence_index", "bias_index"]
    header += ["positive_reads", "exams_read", "disputed", "interval_method", "exams_left_out"]
    header += ["interval_note"]
    rows = []
    for row in data["all_classes"]:
        values = [row["code"], row["name"], row["prevalence"], row["observed_agreement"]]
        for name in CLASS_STATISTICS:
            values += [row[name], *_ci(row, name), row.get(f"{name}_defined"), row.get(f"{name}_ci_partial")]
        # .get: a result stored before these figures existed leaves their cells empty.
        for name in SPECIFIC_STATISTICS:
            values += [row.get(name), *_ci(row, name), row.get(f"{name}_defined")]
            values.append(row.get(f"{name}_ci_partial"))
        values += [row.get("prevalence_index"), row.get("bias_index")]
        values += [
            row["positive_reads"],
            row["n_exams_read"],
            row["disputed"],
            boot.get("method", "exams"),
            boot.get("exams_left_out"),
            row.get("interval_note", ""),  # "too few positives": no interval holds there
        ]
        rows.append(values)
    return header, rows


def _readers_table(data: dict[str, Any], results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = [
        [row["username"], row["pseudonym"], *(row.get(f) for f in READER_FIELDS)] for row in data["readers"]
    ]
    return ["reader", "pseudonym", *READER_FIELDS], rows


def _pairs_table(data: dict[str, Any], results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    matrix = data["matrix"]
    rows = [
        [row["username"], other["username"], row["cells"][b]["kappa"], row["cells"][b]["shared"]]
        for a, row in enumerate(matrix)
        for b, other in enumerate(matrix)
        if b > a
    ]
    return ["reader_a", "reader_b", "mean_kappa", "exams_in_common"], rows


def _pairs_by_class_table(data: dict[str, Any], results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    usernames = data["usernames"]
    header = ["reader_a", "reader_b", "pseudonym_a", "pseudonym_b", "code", "kappa", "kappa_ci_lower"]
    header += ["kappa_ci_upper", "kappa_defined", "kappa_ci_partial", "n", "positive_a", "positive_b"]
    header += ["positive_both"]
    rows = [
        [
            usernames.get(row["reader_a_id"], "?"),
            usernames.get(row["reader_b_id"], "?"),
            row["pseudonym_a"],
            row["pseudonym_b"],
            row["code"],
            row["kappa"],
            *_ci(row, "kappa"),
            row["kappa_defined"],
            row["kappa_ci_partial"],
            row["n"],
            row["positive_a"],
            row["positive_b"],
            row["positive_both"],
        ]
        for row in results.get("pairs_by_class", [])
    ]
    return header, rows


def _reader_classes_table(data: dict[str, Any], results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    usernames = data["usernames"]
    names = {row["reader_id"]: row.get("pseudonym", "") for row in results.get("readers", [])}
    header = ["reader", "pseudonym", "code", "reference", "n", "n_positive", "n_negative"]
    for name in ("sensitivity", "specificity", "kappa"):
        header += [name, f"{name}_ci_lower", f"{name}_ci_upper"]
    header += ["kappa_defined", "kappa_ci_partial", "outlier", "low"]
    rows = []
    for row in results.get("reader_classes", []):
        values = [usernames.get(row["reader_id"], "?"), names.get(row["reader_id"], "")]
        values += [row[key] for key in ("code", "reference", "n", "n_positive", "n_negative")]
        for name in ("sensitivity", "specificity", "kappa"):
            values += [row[name], *_ci(row, name)]
        values += [row["kappa_defined"], row["kappa_ci_partial"], row["outlier"], row["low"]]
        rows.append(values)
    return header, rows


def _exams_table(data: dict[str, Any], results: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Whole-exam agreement over every exam read twice ("all") and over those with a finding: a result
    stored before these figures had intervals and counts leaves those cells empty."""
    method = (results.get("bootstrap") or {}).get("method", "exams")
    header = ["statistic", "exams", "n", "value", "ci_lower", "ci_upper", "interval_method"]
    rows = []
    for subset, figures in (("all", data.get("exams") or {}), ("with_findings", data["exams_with_findings"])):
        for name in ("exact_match_rate", "mean_jaccard"):
            interval = [*_ci(figures, name), figures.get("interval", method)]
            rows.append([name, subset, figures.get("n"), figures.get(name), *interval])
    return header, rows


#: (header, rows) of each table from the dashboard's arrangement and the stored results, cells not yet text.
_TABLE_BUILDERS = {
    "classes": _classes_table,
    "readers": _readers_table,
    "pairs": _pairs_table,
    "pairs_by_class": _pairs_by_class_table,
    "reader_classes": _reader_classes_table,
    "exams": _exams_table,
}


def agreement_table(result: AgreementResult, table: str) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of one stored table, every cell already text; readers by user name (coordinators
    may see who read) and pseudonym. Raises ValueError for an unknown table."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}; choose one of {', '.join(TABLES)}")
    header, rows = _TABLE_BUILDERS[table](agreement_dashboard(result), result.results or {})
    provenance = [result.algorithm_version, str(result.read_count), result.computed_at.isoformat()]
    tail = ["algorithm_version", "read_count", "computed_at"]
    return [*header, *tail], [[cell(v) for v in values] + provenance for values in rows]


def stored_reader_quality(batch: ReviewBatch) -> dict[str, Any]:
    """Per reader gold and test-retest figures of the batch's stored agreement, for its dashboard (the
    caller has checked that the user coordinates)."""
    result = AgreementResult.objects.filter(batch=batch).first()
    if result is None:
        return {"has_quality": False, "readers": [], "computed_at": None}
    data = agreement_dashboard(result)
    return {"has_quality": data["has_quality"], "readers": data["readers"], "computed_at": result.computed_at}
