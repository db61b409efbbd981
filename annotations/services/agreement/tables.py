"""The tables of a batch's stored agreement result, built from its reads with the pure-numpy package.

``batch_agreement_compute`` (services.agreement) stores what these return in ``AgreementResult.results``;
the page, the CSV downloads, ``manage.py agreement_report`` and the release's dataset card all read it
from there, so every place shows the same numbers.

* classes: per-class coefficients with intervals; each interval carries the share of resamples that
  defined it, and is flagged ``partial`` when that share is below 1. Exams read once are left out.
* pairs and pairs_by_class: reader x reader mean kappa, and Cohen's kappa per pair and class with n and
  an interval over exams.
* readers: pooled figures per reader, with gold-exam accuracy and test-retest (intra-reader) kappa.
* reader_classes: reader x class sensitivity, specificity and kappa against the other readers, the
  adjudicated decisions and the gold exams (where those exist), each with n, an interval and outliers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from annotations.errors import Invalid
from annotations.lib.stats import (
    BOOTSTRAP_METHODS,
    METHOD_EXAMS,
    METHOD_TWO_WAY,
    MISSING,
    BootstrapResult,
    DawidSkene,
    default_method,
    gold_accuracy,
    intra_reader_agreement,
    leave_one_out_reference,
    reader_class_table,
    reader_vs_consensus,
    retest_intervals,
    wilson_interval,
)
from annotations.lib.stats.bootstrap import Interval
from annotations.lib.stats.consensus import MIN_LATENT_READS
from annotations.lib.stats.latent import reader_latent_accuracy
from annotations.lib.stats.stats import ClassAgreement
from annotations.lib.stats.uncertain import uncertain_sensitivity
from annotations.models import ReviewBatch
from annotations.selectors.agreement.summary import ReadsSnapshot
from annotations.selectors.agreement.tables import (
    batch_adjudicated_reference,
    batch_gold_reference,
    batch_retests,
)
from annotations.services.agreement.specific import SpecificParts, specific_agreement_parts
from annotations.services.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Statistics shown with intervals on the dashboard (the pure module bootstraps every one of them).
INTERVAL_STATISTICS = ("fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "pabak", "mean_pairwise_kappa")
#: References a reader is measured against, in the order the tables list them.
REFERENCES = ("others", "adjudicated", "gold", "reference_labels")


def _num(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def _pair(lower: float, upper: float) -> list[Any]:
    return [_num(lower), _num(upper)]


def interval_method(batch: ReviewBatch, n_readers: int) -> tuple[str, str]:
    """(method, note): the batch's choice in design["agreement"]["intervals"] ("exams" or
    "exams_and_readers"); without one, over readers too wherever there are three readers (a dataset speaks
    for readers like these), else over exams. Over readers needs three of them: exams, with a note."""
    wanted = ((batch.design or {}).get("agreement") or {}).get("intervals")
    if wanted not in BOOTSTRAP_METHODS:
        method = default_method(n_readers)
        if method == METHOD_TWO_WAY:
            return method, "over exams and readers by default: three or more readers"
        return method, "over exams by default: intervals over readers need at least three readers"
    if wanted == METHOD_TWO_WAY and n_readers < 3:
        return METHOD_EXAMS, "a bootstrap over readers needs at least three readers"
    return wanted, ""


def _interval_fields(prefix: str, interval: Interval, index: int | tuple[int, int]) -> dict[str, Any]:
    fraction = float(interval.defined_fraction[index])
    return {
        f"{prefix}_ci": _pair(interval.lower[index], interval.upper[index]),
        f"{prefix}_defined": fraction,
        f"{prefix}_ci_partial": bool(0.0 < fraction < 1.0),
    }


def _too_few_positives(boot: BootstrapResult, c: int) -> dict[str, Any]:
    """No interval, and the reason, for a class with too few exams with a positive read to hold one."""
    too_few = bool(boot.too_few_positives[c]) if len(boot.too_few_positives) else False
    if not too_few:
        return {"interval_note": ""}
    unflagged = {f"{stat}_ci_partial": False for stat in INTERVAL_STATISTICS}
    return unflagged | {"interval_note": "too few positives"}


def class_rows(
    snapshot: ReadsSnapshot, boot: BootstrapResult, disputed_per_class: np.ndarray
) -> list[dict[str, Any]]:
    point = boot.point.classes
    # Counted on the exams the figures are computed on: an exam read once is left out of them (the page
    # says so), and its reads would make this count disagree with the prevalence beside it.
    pairable = (snapshot.reads != MISSING).sum(axis=0) >= 2
    positive_reads = ((snapshot.reads == 1) & pairable[None]).sum(axis=(0, 1))
    rows = []
    for c, (class_id, code, name) in enumerate(
        zip(snapshot.class_ids, snapshot.class_codes, snapshot.class_names, strict=True)
    ):
        row = {
            "class_id": class_id,
            "code": code,
            "name": name,
            "prevalence": _num(point.prevalence[c]),
            "observed_agreement": _num(point.observed_agreement[c]),
            "positive_reads": int(positive_reads[c]),
            "n_exams_read": int(point.n_exams_read[c]),
            "n_pairable_exams": int(point.n_pairable_exams[c]),
            "disputed": int(disputed_per_class[c]),
        }
        for stat in INTERVAL_STATISTICS:
            row[stat] = _num(getattr(point, stat)[c])
            row |= _interval_fields(stat, boot.intervals[stat], c)
        row |= _too_few_positives(boot, c)
        rows.append(row)
    return rows


def pair_matrix(snapshot: ReadsSnapshot, point: ClassAgreement) -> dict[str, Any]:
    """Reader x reader: mean over classes of Cohen's kappa (where defined) and exams read by both."""
    n = len(snapshot.reader_ids)
    kappa: list[list[float | None]] = [[None] * n for _ in range(n)]
    shared = [[0] * n for _ in range(n)]
    for p, (a, b) in enumerate(point.reader_pairs):
        values = point.pairwise_kappa[p]
        defined = values[np.isfinite(values)]
        kappa[a][b] = kappa[b][a] = float(defined.mean()) if defined.size else None
        shared[a][b] = shared[b][a] = int(point.pairwise_n[p].max()) if point.pairwise_n[p].size else 0
    for r in range(n):
        kappa[r][r] = 1.0
        shared[r][r] = _exams_read(snapshot, r)
    return {"mean_kappa": kappa, "exams_in_common": shared}


def pairs_by_class(
    snapshot: ReadsSnapshot, boot: BootstrapResult, names: dict[int, str]
) -> list[dict[str, Any]]:
    """Cohen's kappa of every pair of readers on every class both read, with n and its interval."""
    point, interval = boot.point.classes, boot.intervals["pairwise_kappa"]
    valid, positive = snapshot.reads != MISSING, snapshot.reads == 1
    rows = []
    for p, (a, b) in enumerate(point.reader_pairs):
        both = valid[a] & valid[b]
        a_pos = (positive[a] & both).sum(axis=0)
        b_pos = (positive[b] & both).sum(axis=0)
        both_pos = (positive[a] & positive[b]).sum(axis=0)
        reader_a, reader_b = snapshot.reader_ids[a], snapshot.reader_ids[b]
        for c, code in enumerate(snapshot.class_codes):
            n = int(point.pairwise_n[p, c])
            if not n:
                continue
            rows.append(
                {
                    "reader_a_id": reader_a,
                    "reader_b_id": reader_b,
                    "pseudonym_a": names.get(reader_a, ""),
                    "pseudonym_b": names.get(reader_b, ""),
                    "code": code,
                    "kappa": _num(point.pairwise_kappa[p, c]),
                    "n": n,
                    "positive_a": int(a_pos[c]),
                    "positive_b": int(b_pos[c]),
                    "positive_both": int(both_pos[c]),
                    **_interval_fields("kappa", interval, (p, c)),
                }
            )
    return rows


def _exams_read(snapshot: ReadsSnapshot, r: int) -> int:
    return int((snapshot.reads[r] != MISSING).any(axis=1).sum()) if snapshot.reads.shape[2] else 0


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _latent_identified(snapshot: ReadsSnapshot) -> bool:
    """Whether the readers' latent reliability is estimated at all: with no exam read MIN_LATENT_READS
    times, every split is one read against one, which any error rates explain equally well (the model is
    not identifiable; the consensus never uses it there either)."""
    if not snapshot.reads.size:
        return False
    reads_per_exam = (snapshot.reads != MISSING).any(axis=2).sum(axis=0)
    return bool((reads_per_exam >= MIN_LATENT_READS).any())


def latent_reader_figures(snapshot: ReadsSnapshot, latent: DawidSkene | None) -> tuple[Any, ...] | None:
    """Each reader's latent (sensitivity, specificity), or None where there is no fit. A sensitivity counts
    the classes somebody marked, a specificity those somebody left unmarked: elsewhere the model returns
    its prior alone (0.455 for a class every read marked), which is no measurement of the reader. Pooled
    over them (lib.stats.latent.reader_latent_accuracy), as the sensitivity and specificity beside them
    in the readers table are."""
    if latent is None or not snapshot.reads.size:
        return None
    marked = (snapshot.reads == 1).any(axis=(0, 1))
    unmarked = (snapshot.reads == 0).any(axis=(0, 1))
    return reader_latent_accuracy(snapshot.reads, latent.posterior, marked, unmarked)


def reader_rows(
    snapshot: ReadsSnapshot,
    threshold: float,
    latent_readers: tuple[np.ndarray, np.ndarray] | None,
    names: dict[int, str],
    quality: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Each reader against the majority of the *other* readers (leave-one-out, so that a reader's own vote
    does not flatter them), pooled over classes; their latent sensitivity and specificity
    (latent_reader_figures), where the model is identified; and their gold-exam and test-retest figures
    (``quality``)."""
    identified = latent_readers is not None and _latent_identified(snapshot)
    latent_se, latent_sp = latent_readers if latent_readers is not None and identified else (None, None)
    versus = (
        reader_vs_consensus(snapshot.reads, threshold=threshold) if len(snapshot.reader_ids) >= 2 else None
    )
    rows = []
    for i, reader_id in enumerate(snapshot.reader_ids):
        row = {
            "reader_id": reader_id,
            "pseudonym": names.get(reader_id, ""),
            "exams_read": _exams_read(snapshot, i),
        }
        if versus is not None:
            n_pos = np.nan_to_num(versus.n_reference_positive[i])
            n_neg = np.nan_to_num(versus.n_compared[i]) - n_pos
            tp = np.nan_to_num(versus.sensitivity[i]) * n_pos
            tn = np.nan_to_num(versus.specificity[i]) * n_neg
            kappa = versus.kappa[i][np.isfinite(versus.kappa[i])]
            row |= {
                "sensitivity": float(tp.sum() / n_pos.sum()) if n_pos.sum() else None,
                "specificity": float(tn.sum() / n_neg.sum()) if n_neg.sum() else None,
                "reference_positives": int(n_pos.sum()),
                "mean_kappa": float(kappa.mean()) if kappa.size else None,
                "latent_sensitivity": _finite(latent_se[i]) if latent_se is not None else None,
                "latent_specificity": _finite(latent_sp[i]) if latent_sp is not None else None,
            }
        rows.append(row | quality.get(reader_id, {}))
    return rows


def reader_quality(
    batch: ReviewBatch, snapshot: ReadsSnapshot, gold: np.ndarray
) -> dict[int, dict[str, Any]]:
    """Per reader: accuracy on gold exams, test-retest kappa (mean over the classes where it is defined)
    and test-retest agreement (over the classes the reader marked in either read)."""
    out: dict[int, dict[str, Any]] = {r: {} for r in snapshot.reader_ids}
    gold_exams = (gold != MISSING).any(axis=1)
    if gold_exams.any():
        accuracy = gold_accuracy(snapshot.reads[:, gold_exams], gold[gold_exams])
        # A handful of gold exams per reader: the interval says how little 0.5 of 2 tells.
        read = accuracy.n_gold_exams_read
        low, high = wilson_interval(np.round(np.nan_to_num(accuracy.exam_accuracy) * read), read)
        for i, reader_id in enumerate(snapshot.reader_ids):
            out[reader_id] |= {
                "gold_exams": int(read[i]),
                "gold_label_accuracy": _num(accuracy.label_accuracy[i]),
                "gold_exam_accuracy": _num(accuracy.exam_accuracy[i]),
                "gold_exam_accuracy_low": _num(low[i]),
                "gold_exam_accuracy_high": _num(high[i]),
            }
    retests = batch_retests(batch, snapshot)
    if retests.exam_ids:
        intra = intra_reader_agreement(retests.first, retests.retest)
        # A handful of retested exams per reader: the interval says how little a kappa of 0.8 tells.
        spread = retest_intervals(
            retests.first,
            retests.retest,
            n_resamples=settings.AGREEMENT_BOOTSTRAP_RESAMPLES,
            seed=batch.seed,
        )
        both = (retests.first != MISSING) & (retests.retest != MISSING)
        retested = both.any(axis=2).sum(axis=1)
        # Only the classes the reader marked in some read of a retested exam: a class never marked agrees
        # by default, and the 70-odd of them made 0.99 of retests that disagreed on half their findings.
        marked = (both & ((retests.first == 1) | (retests.retest == 1))).any(axis=1)
        for i, reader_id in enumerate(snapshot.reader_ids):
            cells = np.where(marked[i], intra.n_retested[i], 0)
            agree = np.nansum(intra.agreement[i] * cells)
            # Nothing marked in any retested read: each pair read the same, empty, way.
            same = float(agree / cells.sum()) if cells.sum() else 1.0 if retested[i] else None
            out[reader_id] |= {
                "retest_exams": int(retested[i]),
                "retest_kappa": _num(intra.mean_kappa[i]),
                "retest_kappa_low": _num(spread.kappa_low[i]),
                "retest_kappa_high": _num(spread.kappa_high[i]),
                "retest_agreement": same,
                "retest_agreement_low": _num(spread.agreement_low[i]),
                "retest_agreement_high": _num(spread.agreement_high[i]),
            }
    return out


def reader_class_rows(
    batch: ReviewBatch, snapshot: ReadsSnapshot, threshold: float, references: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """Reader x class against each reference that exists: the others' majority (leave-one-out), the
    adjudicated decisions, the gold exams. Only cells where the reader and the reference met."""
    rows = []
    for reference_name, reference in references.items():
        table = reader_class_table(
            snapshot.reads,
            reference,
            n_resamples=settings.AGREEMENT_BOOTSTRAP_RESAMPLES,
            seed=batch.seed,
        )
        for i, reader_id in enumerate(snapshot.reader_ids):
            for c, code in enumerate(snapshot.class_codes):
                if not table.n_compared[i, c]:
                    continue
                low = [
                    name
                    for name, flags in (
                        ("sensitivity", table.low_sensitivity),
                        ("specificity", table.low_specificity),
                        ("kappa", table.low_kappa),
                    )
                    if flags[i, c]
                ]
                fraction = float(table.kappa_defined_fraction[i, c])
                rows.append(
                    {
                        "reader_id": reader_id,
                        "code": code,
                        "reference": reference_name,
                        "n": int(table.n_compared[i, c]),
                        "n_positive": int(table.n_reference_positive[i, c]),
                        "n_negative": int(table.n_reference_negative[i, c]),
                        "sensitivity": _num(table.sensitivity[i, c]),
                        "sensitivity_ci": _pair(*table.sensitivity_ci[:, i, c]),
                        "specificity": _num(table.specificity[i, c]),
                        "specificity_ci": _pair(*table.specificity_ci[:, i, c]),
                        "kappa": _num(table.kappa[i, c]),
                        "kappa_ci": _pair(*table.kappa_ci[:, i, c]),
                        "kappa_defined": fraction,
                        "kappa_ci_partial": bool(0.0 < fraction < 1.0),
                        "outlier": bool(low),
                        "low": low,
                    }
                )
    return rows


@dataclass(frozen=True)
class TableInputs:
    """What the tables are built from: the batch's reads, their bootstrap, the consensus rule, the latent
    fit (None where there was nothing to fit), the readers' pseudonyms and the disputed cells per class.
    ``snapshot`` holds the sampled exams agreement is measured on; ``scoring`` (default: the same) adds
    the gold exams, on which readers are scored against references but which no coefficient counts."""

    batch: ReviewBatch
    snapshot: ReadsSnapshot
    boot: BootstrapResult
    rule: dict[str, Any]
    latent: DawidSkene | None
    names: dict[int, str]
    disputed_per_class: np.ndarray
    # Each reader's latent sensitivity and specificity, pooled (latent_reader_figures): computed while the
    # fit's posterior was still held, which the caller lets go before the tables for memory.
    latent_readers: tuple[np.ndarray, np.ndarray] | None = None
    scoring: ReadsSnapshot | None = None


def _references(batch: ReviewBatch, scoring: ReadsSnapshot) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The references readers are scored against on every exam, gold ones included: the adjudicated
    decisions, the gold exams' known labels and the imported reference labels (where each exists)."""
    references: dict[str, np.ndarray] = {}
    adjudicated = batch_adjudicated_reference(batch, scoring)
    if (adjudicated != MISSING).any():
        references["adjudicated"] = adjudicated
    gold = batch_gold_reference(batch, scoring)
    if (gold != MISSING).any():
        references["gold"] = gold
    # The imported reference labels over every exam that has them, not only the gold exams: an imported
    # reader study (CODE-test's cardiologists and residents against its gold standard) is scored so.
    labelled = batch_gold_reference(batch, scoring, gold_only=False)
    if (labelled != MISSING).any():
        references["reference_labels"] = labelled
    return references, gold


def agreement_tables(inputs: TableInputs) -> dict[str, Any]:
    """Every table part of the stored result (the consensus parts are stored by the caller)."""
    batch, snapshot, boot = inputs.batch, inputs.snapshot, inputs.boot
    scoring = inputs.scoring or snapshot
    threshold = inputs.rule["threshold"]
    others: dict[str, np.ndarray] = {}
    if len(snapshot.reader_ids) >= 2:
        others["others"] = leave_one_out_reference(snapshot.reads, threshold=threshold)
    references, gold = _references(batch, scoring)
    # Agreement on "absent" dominates a rare class's coefficients; these figures show the positives alone.
    specific = specific_agreement_parts(snapshot, boot)
    return {
        "readers": reader_rows(
            snapshot, threshold, inputs.latent_readers, inputs.names, reader_quality(batch, scoring, gold)
        ),
        "reader_ids": snapshot.reader_ids,
        "classes": _with_specific(class_rows(snapshot, boot, inputs.disputed_per_class), specific),
        "pairs": pair_matrix(snapshot, boot.point.classes),
        "pairs_by_class": pairs_by_class(snapshot, boot, inputs.names),
        "reader_classes": reader_class_rows(batch, snapshot, threshold, others)
        + reader_class_rows(batch, scoring, threshold, references),
        "references": [*others, *references],
        "exams_with_findings": specific.exams,
    }


def _with_specific(rows: list[dict[str, Any]], specific: SpecificParts) -> list[dict[str, Any]]:
    """Each class row with its specific agreement and prevalence and bias indices (services.specific)."""
    return [row | extra for row, extra in zip(rows, specific.class_fields, strict=True)]


def bootstrap_summary(boot: BootstrapResult, note: str) -> dict[str, Any]:
    return {
        "n_resamples": boot.n_resamples,
        "seed": boot.seed,
        "confidence": boot.confidence,
        "method": boot.method,
        "unit": boot.unit,
        "description": boot.description,
        "note": note,
        "exams_left_out": boot.n_exams_dropped,
    }


class IntervalMethodError(Invalid):
    """An interval method the agreement tables do not offer."""


def batch_interval_method_set(*, batch: ReviewBatch, method: str, actor: User) -> bool:
    """Choose the bootstrap the batch's agreement intervals come from (design["agreement"]["intervals"]):
    "exams" (conditional on these readers) or "exams_and_readers" (two-way). Audited; returns whether it
    changed. The caller queues the recomputation that applies it."""
    if method not in BOOTSTRAP_METHODS:
        raise IntervalMethodError(
            _("unknown interval method “%(method)s”; use %(methods)s")
            % {"method": method, "methods": " or ".join(BOOTSTRAP_METHODS)}
        )
    with transaction.atomic():
        locked = ReviewBatch.objects.select_for_update().get(pk=batch.pk)
        design = locked.design or {}
        before = (design.get("agreement") or {}).get("intervals", METHOD_EXAMS)
        if before == method:
            return False
        locked.design = {**design, "agreement": {**(design.get("agreement") or {}), "intervals": method}}
        locked.save(update_fields=["design"])
        audit_record(
            actor=actor,
            action="batch.agreement_intervals",
            target=locked,
            before={"intervals": before},
            after={"intervals": method},
        )
    batch.design = locked.design
    return True


def uncertain_rows(snapshot: ReadsSnapshot) -> dict[str, Any]:
    """Per class with uncertain marks, Fleiss' kappa with them as positive (what every other figure
    counts), as absent and left out: how much the batch's agreement leans on marks readers doubted."""
    if snapshot.uncertain is None:
        return {"marks": 0, "classes": []}
    found = uncertain_sensitivity(snapshot.reads, snapshot.uncertain)
    classes = [
        {
            "code": code,
            "uncertain_marks": int(found.marks[c]),
            "as_positive": _num(found.as_positive[c]),
            "as_absent": _num(found.as_absent[c]),
            "left_out": _num(found.left_out[c]),
        }
        for c, code in enumerate(snapshot.class_codes)
        if found.marks[c]
    ]
    return {"marks": int(found.marks.sum()), "classes": classes}
