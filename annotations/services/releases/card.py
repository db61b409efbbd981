"""The dataset card of a release (dataset_card.json; the Markdown is rendered from it by
annotations.lib.release_files.files.card_markdown): what the files hold, their counts, the per-class
prevalence and reader agreement, and the conventions a user of the files needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ecgreview
from annotations.lib.release_files.files import fixed, utc_iso, wilson_interval
from annotations.lib.stats import BOOTSTRAP_METHODS, METHOD_EXAMS
from annotations.models import AgreementResult
from annotations.selectors.agreement.rules import AgreementConfigError, consensus_settings
from annotations.selectors.agreement.summary import batch_read_state, batch_reads_snapshot
from annotations.selectors.batches.audits import release_audits
from annotations.selectors.blinding import batch_excludes_seen
from annotations.selectors.reading.blind_measurements import blind_measurements_setting
from annotations.selectors.releases.accuracy import READER_ACCURACY_COLUMNS
from annotations.selectors.releases.export import exams_not_read
from annotations.selectors.releases.facts import consensus_method_counts, export_data_as_of, skip_code_counts
from annotations.selectors.releases.flow import release_flow
from annotations.selectors.releases.plan import ExportPlan
from annotations.services.agreement.compute import agreement_bootstrap, agreement_sample
from annotations.services.releases.layout import (
    ADDED_COLUMN,
    ADJUDICATIONS_CSV,
    AGREEMENT_FIELDS,
    CONSENSUS_CSV,
    CONSENSUS_JSONL,
    DEVICE_CSV,
    FREE_TEXT_COLUMNS,
    READ_HISTORY_CSV,
    READER_ACCURACY_CSV,
    READS_CSV,
    SUGGESTION_COLUMNS,
    SUGGESTION_TEXT_COLUMNS,
    SUGGESTIONS_CSV,
    TRACINGS,
    ExportOptions,
    min_reads,
)

if TYPE_CHECKING:
    from annotations.models import ReviewBatch

#: Per reader figures of the stored agreement given in the card: gold exams and test-retest.
READER_QUALITY_FIELDS = (
    "exams_read",
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


@dataclass(frozen=True)
class CardFacts:
    """What the writing of the data files learnt that the card reports."""

    title: str
    release_date: str
    stats: dict[str, Any]  # write_consensus_csv's counts
    summary: dict[str, Any]  # exam_summary of the batches
    names: dict[int, str]  # reader id -> pseudonym
    n_read_rows: int
    tracings: dict[str, Any] | None  # write_tracings' shape, or None without HDF5
    files: list[dict[str, Any]]
    adjudicators: dict[str, int] = field(default_factory=dict)  # pseudonym -> class decisions signed
    adjudicated_exams: dict[str, int] = field(default_factory=dict)  # pseudonym -> exams decided on
    device_rows: int = 0  # exams with the recording cart's measurements (DEVICE_CSV)
    suggestions: dict[str, Any] = field(default_factory=dict)  # write_suggestions' counts (SUGGESTIONS_CSV)
    readers_vs_consensus: dict[str, Any] = field(default_factory=dict)  # write_reader_accuracy's section


def _reader_quality(stored: AgreementResult, names: dict[int, str]) -> list[dict[str, Any]]:
    """Each reader's gold accuracy and test-retest agreement, under the release's pseudonyms."""
    rows = []
    for row in stored.results.get("readers", []):
        if row["reader_id"] not in names:
            continue
        entry: dict[str, Any] = {"reader": names[row["reader_id"]]}
        for name in READER_QUALITY_FIELDS:
            value = row.get(name)
            entry[name] = fixed(value) if isinstance(value, float) else value
        rows.append(entry)
    return sorted(rows, key=lambda r: r["reader"])


def _stored_class_entry(row: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {name: fixed(row.get(name)) for name in AGREEMENT_FIELDS}
    for name in AGREEMENT_FIELDS[2:]:
        entry[f"{name}_ci"] = [fixed(v) for v in (row.get(f"{name}_ci") or [None, None])]
        if f"{name}_defined" in row:  # share of resamples that defined it; partial: flagged
            entry[f"{name}_defined"] = fixed(row[f"{name}_defined"])
            entry[f"{name}_ci_partial"] = row[f"{name}_ci_partial"]
    entry["n_exams_read"] = row.get("n_exams_read")
    # "too few positives": no interval holds for the class, so its intervals are null on purpose.
    entry["interval_note"] = row.get("interval_note", "")
    for name in (
        "positive_specific_agreement",
        "negative_specific_agreement",
        "prevalence_index",
        "bias_index",
    ):
        if name in row:
            entry[name] = fixed(row[name])
            if f"{name}_ci" in row:
                entry[f"{name}_ci"] = [fixed(v) for v in (row.get(f"{name}_ci") or [None, None])]
    return entry


def _stored_agreement(batch: ReviewBatch, stored: AgreementResult, names: dict[int, str]) -> dict[str, Any]:
    reads, latest = batch_read_state(batch.pk)
    boot = stored.results.get("bootstrap") or {}
    return {
        "source": "stored",
        "algorithm_version": stored.algorithm_version,
        "read_count": stored.read_count,
        "up_to_date": (stored.read_count, stored.latest_submission_at) == (reads, latest),
        "bootstrap": boot,
        "interval_method": boot.get("method", METHOD_EXAMS),
        "interval_description": boot.get("description", BOOTSTRAP_METHODS[METHOD_EXAMS]),
        # Counted beside the figures: reads and exams the coefficients leave out by design.
        "escalation_reads": stored.results.get("escalation_reads", 0),
        "gold_exams_left_out": stored.results.get("gold_exams_left_out", 0),
        "classes": {row["code"]: _stored_class_entry(row) for row in stored.results.get("classes", [])},
        "readers": _reader_quality(stored, names),
    }


def _computed_agreement(batch: ReviewBatch) -> dict[str, Any]:
    """The figures the stored result would hold, for a batch none is stored for yet: the same sample
    (designed reads, gold exams out) and the same intervals (services.agreement)."""
    snapshot = batch_reads_snapshot(batch)
    if not snapshot.reads.size:
        return {"source": "none", "classes": {}}
    designed, sample = agreement_sample(batch, snapshot)
    boot, _note = agreement_bootstrap(batch, sample)
    point = boot.point.classes
    classes = {}
    for c, code in enumerate(sample.class_codes):
        entry: dict[str, Any] = {name: fixed(float(getattr(point, name)[c])) for name in AGREEMENT_FIELDS}
        for name in AGREEMENT_FIELDS[2:]:
            interval = boot.intervals[name]
            entry[f"{name}_ci"] = [fixed(float(interval.lower[c])), fixed(float(interval.upper[c]))]
        entry["n_exams_read"] = int(point.n_exams_read[c])
        classes[code] = entry
    return {
        "source": "computed",
        "read_count": snapshot.read_count,
        "up_to_date": True,
        "bootstrap": {"n_resamples": boot.n_resamples, "seed": boot.seed, "confidence": boot.confidence},
        "interval_method": boot.method,
        "interval_description": boot.description,
        "escalation_reads": snapshot.extra_read_count,
        "gold_exams_left_out": len(designed.exam_ids) - len(sample.exam_ids),
        "classes": classes,
        "readers": [],
    }


def batch_agreement(batch: ReviewBatch, names: dict[int, str] | None = None) -> dict[str, Any]:
    """Per-class agreement of one batch with its intervals and which bootstrap made them, and per reader
    gold and test-retest figures: the stored AgreementResult, or, for a batch that has none
    yet, computed here from its reads with the same pure functions (no per-reader figures then)."""
    stored = AgreementResult.objects.filter(batch=batch).first()
    if stored is not None:
        return _stored_agreement(batch, stored, names or {})
    return _computed_agreement(batch)


def _class_rows(plan: ExportPlan, stats: dict[str, Any], agreement: dict[str, Any]) -> list[dict[str, Any]]:
    exams = stats["rows"]
    thin = len(stats["insufficient"])
    classes = []
    for j, column in enumerate(plan.columns):
        decided = exams - thin - stats["undecided"][j]
        row = {
            "code": column.code,
            "name": column.name,
            "source_codes": list(column.source_codes),
            "positive": stats["positive"][j],
            "undecided": stats["undecided"][j],
            "prevalence": fixed(stats["positive"][j] / decided) if decided else None,
            "prevalence_ci": list(wilson_interval(stats["positive"][j], decided)),
            # The undecided cells are exams too: the prevalence had every one been absent, and present.
            "prevalence_bounds": _prevalence_bounds(
                stats["positive"][j], stats["undecided"][j], exams - thin
            ),
        }
        # Reader agreement belongs to a statement the readers chose, so it is given where a column is
        # one statement of one batch; otherwise see "agreement" per batch and statement.
        only = agreement[str(plan.batches[0].pk)]["classes"].get(column.source_codes[0])
        row["agreement"] = only if len(plan.batches) == 1 and len(column.source_codes) == 1 else None
        classes.append(row)
    return classes


def _prevalence_bounds(positive: int, undecided: int, labelled: int) -> list[float | None] | None:
    """[positives over every labelled exam, positives and undecided over them]: the range the prevalence
    can take once the undecided cells are settled, which the decided-only figure hides."""
    if not labelled:
        return None
    return [fixed(positive / labelled), fixed((positive + undecided) / labelled)]


# What every release's files follow, whatever its options.
_FILE_CONVENTIONS = (
    f"{CONSENSUS_CSV}: one row per exam in (dataset, exam_id) order; 'row' is the row of {TRACINGS}; "
    "each class column is 1 (present), 0 (absent) or empty (undecided: readers tied, the latent "
    "estimate was uncertain or contradicted unanimous readers, the decisions broke an exclusive set, "
    "or the class was sent to adjudication by the batch's escalation rule, whatever the readers' majority "
    "said, and nobody has adjudicated it yet); is_male is 1, 0 or empty (unknown). An exam with fewer "
    "submitted reads than its batch's minimum has no consensus: every class cell is empty and it is "
    "listed under 'insufficient_reads' in this card. An exam of the batches with no submitted read has "
    "no row in any file; it is listed under 'not_read'.",
    f"{CONSENSUS_JSONL}: per exam, every stored consensus decision by the batches' own codes with its "
    "method (unanimous, majority, latent, single, adjudicated), votes and probability (the latent "
    "estimate under the latent rule, else the share of positive reads), and every undecided class with "
    "its reason; any other class was marked by no reader: value 0 (unanimous, or the single read), "
    "positive_votes 0, total_votes = reads. 'consensus' is 'decided', or 'insufficient reads' for an "
    "exam with fewer reads than its batch's minimum, which has no labels. 'comments' lists the exam's "
    f"reads that carry a comment (reader, batch, read_round, stage, revision, comment, as in {READS_CSV}).",
    f"{READS_CSV}: one row per reader, exam, read and marked class (unmarked classes are absent); "
    "readers are pseudonyms R01.., the same in every file of this release and for the same person in "
    "every release of this installation (a newcomer takes the lowest number no release has used); "
    "stage blind/revised and read_round 2 (retest) included, is_current marks the read consensus uses; "
    "suggestion_shown 1 on a blind row: the step before the suggestion in a two-stage batch, made by a "
    "reader who had seen this exam's suggestion before (a retest, or another batch), so not blind; "
    "status is the slot's (submitted; in_progress for a two-stage blind read whose revision is open); "
    "a skipped slot is one row with status skipped, its skip_code and no class: a skip is not a read. "
    "skip_code is unreadable (tracing unreadable), wrong_patient (wrong patient or lead placement "
    "suspected), not_12_leads, duplicate, or other, whose skip_reason holds the reader's words (skips "
    "made before the list existed are other with their words), or system: a slot the system closed (its "
    "reader left the study, a retest withdrawn), nobody's skip, its reason the system's; 'skips_per_code' "
    "in this card counts them. revision is the read's revision number "
    "(each save of it counts one) and comment the reader's comment on the read, repeated on each of its "
    "rows (empty: none).",
    f"{READ_HISTORY_CSV}: the provenance of every read: one row per recorded revision of a read of the "
    "batches (kind submit, amend: its reader corrected the submitted read, or returned: a coordinator sent "
    f"it back to its reader), in {READS_CSV}'s order then by revision; reader as in {READS_CSV}, the "
    "revision number, codes and uncertain (space-separated statement codes, as then), the comment and, "
    "for an amendment or a return, the reason, both free text escaped with an apostrophe where a "
    "spreadsheet would read a formula, and recorded_at. Draft saves are left out. A read's last row "
    f"is what {READS_CSV} holds, unless it was returned and not yet submitted again ({READS_CSV} then has "
    "no row of it); the blind read of a two-stage batch is never amended.",
    f"{ADJUDICATIONS_CSV}: one row per signed adjudication behind an adjudicated cell: the adjudicator "
    "as a pseudonym A01.. (kept from release to release as readers' are), the exam, batch, class code "
    "(the batches' own), value (1/0), "
    "the signed version (a version above 1 overturned an earlier decision) and the time; 'adjudicators' in "
    "this card counts each one's class decisions (one per statement decided on an exam: the rows of "
    f"{ADJUDICATIONS_CSV}) and 'adjudicated_exams' the exams they decided on; rationale is the "
    "adjudicator's reasons for the exam's decision, on each of its rows.",
    f"{SUGGESTIONS_CSV}: the model suggestions behind the exams, machine output, not labels: nothing in "
    "it was decided by a reader, and no consensus was computed from it. One row per exam, suggestion and "
    "statement of the batches' taxonomy it suggested: statements at or above the provider's threshold, "
    "those readers were pointed at, so every row is a suggested statement; a score below its threshold "
    "has no row (every score stays in the database and the coordinators' exam API). Columns: "
    f"{', '.join(SUGGESTION_COLUMNS)}; 'row' is the exam's row of {CONSENSUS_CSV}. Given for an exam: "
    "every computed version of a provider whose suggestion a reader of this release's batches was shown "
    "on it (the one shown may have been computed for another import of the same tracing), and of each "
    "other provider its newest; 'shown_to_readers' counts the readers of this release's batches shown "
    "that suggestion on the exam (reads.csv's suggestion_shown says which reads came after). 'code' is "
    "the batches' own; score and threshold as the provider gave them (threshold 0.5 where it gave none). "
    "This card's 'suggestions' counts the rows (in all and per provider version), the exams with a row, "
    "and per provider version the exams it is given for, those where it suggested nothing (no row) "
    "included, and those where readers were shown it. "
    f"{', '.join(SUGGESTION_TEXT_COLUMNS[:-1])} and {SUGGESTION_TEXT_COLUMNS[-1]} are free text: why a "
    "rule-based provider scored the statement (the criterion, where it is published, the measured values "
    "that met it), empty where the provider gave no rationale (models do not); a leading = + - @, tab or "
    "carriage return there is escaped with an apostrophe. A file of its header alone: no exam had a "
    "suggested statement.",
    f"Qualifiers, where the taxonomy declares them for a statement (its 'qualifiers'): {READS_CSV} "
    "'territory' (last but one column) holds the walls a reader chose with the statement, space-separated "
    "(inferior, anterior, septal, lateral, posterior, extensive), and 'age' (last column) acute or old; "
    f"both empty where none was chosen. In {CONSENSUS_JSONL} a present statement whose readers chose "
    "qualifiers has 'qualifier_votes' (per qualifier, how many of its positive_votes chose it) and "
    "'qualifiers' (those chosen by more than half of them); agreement on statements is unaffected.",
    f"{READER_ACCURACY_CSV}: each reader's sensitivity and specificity per class of {CONSENSUS_CSV}, one "
    f"row per reader, class, reference and exposure ({', '.join(READER_ACCURACY_COLUMNS)}); reader as in "
    f"{READS_CSV}, over the reads consensus counts (current, first round). reference consensus: the "
    f"released cell of {CONSENSUS_CSV}, empty cells (undecided, or too few reads) left out and counted in "
    "n_undecided_left_out; the reader's own read is one of its votes, which flatters them (incorporation "
    "bias). reference leave_one_out: the majority of the exam's other reads where there are at least two, "
    "a tie or fewer than two other reads left out and counted; free of the reader's own vote. exposure "
    "all: every read; shown and not_shown (given where a reader has reads of both): the reads made with a "
    f"suggestion on screen or not, as {READS_CSV}'s suggestion_shown. sensitivity TP/(TP+FN) and "
    "specificity TN/(TN+FP) with their 95% Wilson interval (low, high); empty where the denominator is 0. "
    "This card's 'readers_vs_consensus' gives each reader's share of reads with a suggestion, the figures "
    "pooled over classes, and their drift.",
    "Readers' and adjudicators' identities appear in no file of this release.",
    "Free text, as people wrote it (it may name anyone or anything), is only in the columns listed under "
    "'free_text_columns': "
    + "; ".join(f"{name}: {', '.join(columns)}" for name, columns in FREE_TEXT_COLUMNS.items())
    + f"; {SUGGESTIONS_CSV}: {', '.join(SUGGESTION_TEXT_COLUMNS)}.",
    (
        f"{CONSENSUS_CSV} '{ADDED_COLUMN}' (last column) and {CONSENSUS_JSONL} 'added_by_adjudicator': "
        "statements an adjudicator added as present although no reader marked them (method adjudicated, "
        "positive_votes 0); the CSV lists their codes in the batches' own taxonomy, space-separated."
    ),
)


def _tracings_convention(options: ExportOptions, tracings: dict[str, Any]) -> str:
    sharded = bool(tracings.get("shards"))
    where = (
        f"each row's exam, row i of a file = row first_row + i of {CONSENSUS_CSV} (the file's 'first_row' "
        f"attribute; 'shards' under 'tracings' lists every file's first row and rows)"
        if sharded
        else f"each row's exam, row i = row i of {CONSENSUS_CSV}"
    )
    text = (
        f"{'tracings-000.hdf5, tracings-001.hdf5, ...' if sharded else TRACINGS}: 'tracings' float32 "
        f"(N, {tracings['length']}, 12) in mV at {tracings['sampling_rate_hz']:g} Hz, leads I, II, III, aVR, "
        "aVL, aVF, V1-V6; "
        + (
            "resampled with scipy.signal.resample_poly and zero-padded (centred) or centre-cropped to "
            "4096 samples (the CODE convention)"
            if not options.native_rate
            else "at the recorded rate, zero-padded (centred) to the longest exam"
        )
        + f"; 'exam_id' and 'dataset' give {where}."
    )
    if sharded:
        text += (
            f" A release of this size cuts the tracings into files of consecutive rows in place of one "
            f"{TRACINGS}; read end to end in name order they are that one file. {tracings['index']} gives "
            "every row's dataset, exam_id, file and file_row (its row in that file)."
        )
    return text


def _conventions(
    plan: ExportPlan, options: ExportOptions, tracings: dict[str, Any] | None, device_rows: int = 0
) -> list[str]:
    conventions = list(_FILE_CONVENTIONS)
    if device_rows:
        conventions.append(
            f"{DEVICE_CSV}: the recording carts' own global measurements as their files gave them, one row "
            f"per exam that has any ('row' is its row of {CONSENSUS_CSV}): heart and atrial rates in bpm; "
            "RR, PR, QRS, QT and QTc in ms (qtc_ms by the cart's own formula, qtc_bazett_ms and "
            "qtc_fridericia_ms where the cart named them); P, QRS and T axes in degrees. An empty cell: "
            "the cart gave no such value. These are the machines' figures, not the readers'."
        )
    if tracings:
        conventions.append(_tracings_convention(options, tracings))
    if plan.target:
        conventions.append(
            f"Columns are {plan.target} {plan.target_version} classes, each the OR of the "
            f"{plan.taxonomy.key} statements that map to it; {plan.target} classes with no mapped "
            f"statement are left out: {', '.join(plan.unmapped) or 'none'}."
        )
    return conventions


def _taxonomy_section(plan: ExportPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The batches' taxonomy and what the columns are (its codes, or a mapping's target classes)."""
    taxonomy = {
        "key": plan.taxonomy.key,
        "version": plan.taxonomy.version,
        "name": plan.taxonomy.name,
        "content_sha256": plan.taxonomy.content_sha256,
    }
    columns = {
        "taxonomy": plan.target or plan.taxonomy.key,
        "version": plan.target_version,
        "mapped": bool(plan.target),
        "unmapped": plan.unmapped,
        "count": len(plan.columns),
    }
    return taxonomy, columns


def _consensus_rule(batch: ReviewBatch) -> dict[str, Any]:
    """The rule the batch's consensus was decided by, with every setting it took (the defaults named too:
    a reader of the card should not need the software's source to know the threshold)."""
    try:
        rule = consensus_settings(batch)
    except AgreementConfigError:
        return (batch.design or {}).get("consensus") or {"method": "majority"}
    return {key: value for key, value in rule.items() if key != "min_reads"}  # min_reads has its own entry


def _reading_conditions(batch: ReviewBatch) -> dict[str, Any]:
    """What the batch put before its readers besides the tracing: a label read beside the cart's QRS width
    or an earlier ECG is not the same measurement as one read from the tracing alone."""
    design = batch.design or {}
    return {
        "suggestions": batch.suggestion_mode,
        "earlier_ecgs": bool(design.get("serial_comparison")),
        "device_measurements": bool(design.get("device_measurements_shown")),
        # What blind readers saw of the exam's measurements (selectors.reading.blind_measurements).
        "blind_measurements": blind_measurements_setting(batch),
    }


def _independent_reads(batch: ReviewBatch) -> dict[str, Any]:
    """Whether one person could read an exam twice in the batch (its independence turned off) and the
    coordinator's reason: two reads by one person are not independent, whatever the agreement says."""
    independent = batch_excludes_seen(batch)
    reason = None if independent else (batch.design or {}).get("independence_off_reason")
    # Made before independence was the default (migration 0038): what was handed out before was unchecked.
    since_upgrade = bool((batch.design or {}).get("independence_since"))
    return {"independent": independent, "off_reason": reason, "enforced_since_upgrade_only": since_upgrade}


def _batch_rows(plan: ExportPlan) -> list[dict[str, Any]]:
    needed = min_reads(plan)
    return [
        {
            "id": batch.pk,
            "name": batch.name,
            "readers_per_exam": batch.readers_per_exam,
            "suggestion_mode": batch.suggestion_mode,
            "readers_were_shown": _reading_conditions(batch),
            "independent_reads": _independent_reads(batch),
            "status": batch.status,
            "consensus_rule": _consensus_rule(batch),
            "min_reads": needed[batch.pk],
            # Imported reader files that pool several people: counted as one reader each (no names here).
            "pooled_readers": len((batch.design or {}).get("pooled_readers", [])),
        }
        for batch in plan.batches
    ]


def _counts(facts: CardFacts) -> dict[str, Any]:
    stats, exams = facts.stats, facts.stats["rows"]
    first_reads = facts.summary["first_reads"]
    return {
        "exams": exams,
        "readers": len(facts.names),
        "first_reads": first_reads,
        "read_rows": facts.n_read_rows,
        "reads_per_exam": {str(k): v for k, v in sorted(stats["reads_per_exam"].items())},
        "mean_reads_per_exam": fixed(first_reads / exams) if exams else None,
        "insufficient_reads": len(stats["insufficient"]),
        "undecided_exams": stats["undecided_exams"],
        "undecided_cells": sum(stats["undecided"]),
    }


def card_build(plan: ExportPlan, options: ExportOptions, facts: CardFacts) -> dict[str, Any]:
    """The dataset card's content, from the plan, the options and what writing the files learnt."""
    agreement = {str(batch.pk): batch_agreement(batch, facts.names) for batch in plan.batches}
    taxonomy, columns = _taxonomy_section(plan)
    not_read = exams_not_read(plan.batch_ids)
    return {
        "title": facts.title,
        "release_date": facts.release_date,
        "data_as_of": utc_iso(export_data_as_of(plan.batch_ids)),
        "software_version": ecgreview.__version__,
        "taxonomy": taxonomy,
        "columns": columns,
        "batches": _batch_rows(plan),
        "counts": {**_counts(facts), "not_read": len(not_read)},
        "flow": release_flow(
            plan.batch_ids,
            released=facts.stats["rows"],
            insufficient=len(facts.stats["insufficient"]),
            not_read=len(not_read),
        ),
        "insufficient_reads": facts.stats["insufficient"],
        "not_read": not_read,
        "adjudicators": facts.adjudicators,
        "adjudicated_exams": facts.adjudicated_exams,
        "suggestions": facts.suggestions,
        "readers_vs_consensus": facts.readers_vs_consensus,
        "consensus_methods": consensus_method_counts(plan.batch_ids),
        "skips_per_code": skip_code_counts(plan.batch_ids),
        "classes": _class_rows(plan, facts.stats, agreement),
        "agreement": agreement,
        # Error rates of the released labels from re-adjudication audits of these batches.
        "audit": release_audits(plan.batch_ids),
        "options": options.as_dict(),
        "tracings": facts.tracings,
        "files": facts.files,
        "conventions": _conventions(plan, options, facts.tracings, facts.device_rows),
        "free_text_columns": _free_text_columns(),
    }


def _free_text_columns() -> dict[str, list[str]]:
    """Per file, the columns people wrote as prose (they may name anyone or anything; every other column
    is a code, identifier, number or time). In the CSV files a leading = + - @, tab or carriage return of
    such a cell is escaped with an apostrophe, so that a spreadsheet never reads it as a formula."""
    return {**FREE_TEXT_COLUMNS, SUGGESTIONS_CSV: list(SUGGESTION_TEXT_COLUMNS)}
