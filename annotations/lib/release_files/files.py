"""Formatting shared by every export: pseudonyms, fixed number formats, checksums, the dataset card.

Everything here is deterministic by construction: no clocks, no dict-order surprises (JSON keys are
sorted), no locale, floats written with a fixed number of digits.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from annotations.lib.release_files.audit_markdown import audit_markdown

FLOAT_DIGITS = 6


def pseudonyms(
    user_ids: Iterable[int], prefix: str = "R", earlier: Sequence[Mapping[str, int]] = ()
) -> dict[int, str]:
    """R01, R02, ... (adjudicators A01, ...): each person keeps the name the latest earlier release that
    named them gave them (``earlier``: their keys, name -> user id, oldest first; a name belongs to whom
    the latest release naming it gave it), so one name is one person in every release; the others take the
    lowest numbers no release has used, in sorted id order. Nothing in a name derives from the account."""
    owner: dict[str, tuple[int, int]] = {}  # name -> (user id, the release that last gave it)
    for index, key in enumerate(earlier):
        for name, user_id in key.items():
            if name.startswith(prefix) and name[len(prefix) :].isdigit():
                owner[name] = (int(user_id), index)
    latest: dict[int, tuple[int, str]] = {}
    for name, (user_id, index) in sorted(owner.items()):
        if user_id not in latest or index > latest[user_id][0]:
            latest[user_id] = (index, name)
    wanted = sorted(set(user_ids))
    out = {user_id: latest[user_id][1] for user_id in wanted if user_id in latest}
    used = {int(name[len(prefix) :]) for name in owner}
    fresh = [user_id for user_id in wanted if user_id not in out]
    numbers: list[int] = []
    candidate = 1
    while len(numbers) < len(fresh):
        if candidate not in used:
            numbers.append(candidate)
        candidate += 1
    width = max(2, len(str(numbers[-1])) if numbers else 2)
    out.update({user_id: f"{prefix}{n:0{width}d}" for user_id, n in zip(fresh, numbers, strict=True)})
    return out


def fixed(value: float | None, digits: int = FLOAT_DIGITS) -> float | None:
    """A float rounded to a fixed number of digits (JSON writes the shortest repr of the result)."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def utc_iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def json_line(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def json_document(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def wilson_interval(
    positives: int, n: int, z: float = 1.959963984540054
) -> tuple[float | None, float | None]:
    """95% Wilson score interval of a proportion: well-behaved at 0 and n, unlike the normal one."""
    if n <= 0:
        return None, None
    p = positives / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return fixed(max(0.0, centre - half)), fixed(min(1.0, centre + half))


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256sums(entries: Iterable[tuple[str, str]]) -> str:
    """The `sha256sum` format (two spaces, name), sorted by name: `sha256sum -c SHA256SUMS` checks it."""
    return "".join(f"{sha}  {name}\n" for name, sha in sorted(entries))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _range(interval: Sequence[float | None] | None) -> str:
    lower, upper = interval or (None, None)
    return f"{_cell(lower)} to {_cell(upper)}"


# The coefficients the card gives per class, as (key, column title).
_COEFFICIENTS = (
    ("fleiss_kappa", "Fleiss κ"),
    ("gwet_ac1", "Gwet's AC1"),
    ("krippendorff_alpha", "Krippendorff's \u03b1"),
)


def _share(value: float) -> str:
    """A share of resamples as a percentage, never "100%" short of all of them."""
    percent = value * 100.0
    if percent < 100.0 and round(percent) >= 100:
        return f"{math.floor(percent * 10) / 10:.1f}%"
    return f"{round(percent)}%"


def _coefficient_cells(figures: dict[str, Any]) -> str:
    """ "| value | low to high |" for each coefficient; an interval from only part of the resamples (the
    rest left the coefficient undefined) is marked † with that share, as the agreement page marks it."""
    cells = []
    for key, _title in _COEFFICIENTS:
        interval = _range(figures.get(f"{key}_ci"))
        if figures.get(f"{key}_ci") == [None, None] and figures.get("interval_note"):
            interval = figures["interval_note"]  # "too few positives": no interval holds there
        elif figures.get(f"{key}_ci_partial") and figures.get(f"{key}_defined") is not None:
            interval += f" † {_share(figures[f'{key}_defined'])}"
        cells.append(f"| {_cell(figures.get(key))} | {interval} ")
    return "".join(cells) + "|"


def _coefficient_header() -> tuple[str, str]:
    titles = "".join(f"| {title} | 95% CI " for _, title in _COEFFICIENTS)
    return titles + "|", "|---|---" * len(_COEFFICIENTS) + "|"


def _left_out_by_design(agreement: dict[str, Any]) -> str:
    """The reads and exams the coefficients leave out by design, said beside the interval."""
    parts = []
    if gold := agreement.get("gold_exams_left_out"):
        parts.append(f"{gold} gold exams left out (every reader reads them; they score readers, below)")
    if extra := agreement.get("escalation_reads"):
        parts.append(f"{extra} escalation reads left out (they feed the consensus only)")
    return "".join(f"; {part}" for part in parts)


def _agreement_markdown(card: dict[str, Any]) -> list[str]:
    """Which interval the card's agreement figures carry, and each reader's gold and test-retest."""
    lines = ["", "## Reader agreement: intervals", ""]
    for batch_id, agreement in sorted((card.get("agreement") or {}).items()):
        if agreement.get("source") == "none":
            continue
        if agreement.get("up_to_date") is False:
            reads = agreement.get("read_count")
            lines.append(
                f"- **Batch {batch_id}: its agreement figures were computed from {reads} reads, before its "
                "last reads came in**; the consensus files are the batch's at build time."
            )
        left_out = (agreement.get("bootstrap") or {}).get("exams_left_out")
        lines.append(
            f"- Batch {batch_id}: 95% intervals by {agreement.get('interval_description', '-')}"
            + (f"; {left_out} exams read once left out (they show no agreement)" if left_out else "")
            + _left_out_by_design(agreement)
            + "; an interval marked partial (`*_ci_partial`) comes from only the share `*_defined` of the "
            "resamples in which the coefficient was defined."
        )
    rows = [
        (batch_id, reader)
        for batch_id, agreement in sorted((card.get("agreement") or {}).items())
        for reader in agreement.get("readers") or []
    ]
    if rows:
        lines += [
            "",
            "## Readers: gold exams and test-retest",
            "",
            "| Batch | Reader | Exams read | Gold exams | Gold: labels right | Gold: exams wholly right "
            "| Test-retest exams | Test-retest κ | Test-retest agreement |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for batch_id, r in rows:
            lines.append(
                f"| {batch_id} | {r['reader']} | {_cell(r.get('exams_read'))} | {_cell(r.get('gold_exams'))} "
                f"| {_cell(r.get('gold_label_accuracy'))} | {_with_interval(r, 'gold_exam_accuracy')} "
                f"| {_cell(r.get('retest_exams'))} | {_with_interval(r, 'retest_kappa')} "
                f"| {_with_interval(r, 'retest_agreement')} |"
            )
        lines += [
            "",
            "In brackets, 95% intervals: Wilson's for the share of gold exams wholly right; for the "
            "test-retest figures, percentiles of a bootstrap over each reader's retested exams.",
        ]
    return lines


def _figure(pooled: dict[str, Any], name: str) -> str:
    """A pooled sensitivity or specificity with its 95% interval, "-" where it is not measurable."""
    low, high = pooled.get(f"{name}_ci") or (None, None)
    if pooled.get(name) is None or low is None or high is None:
        return _cell(pooled.get(name))
    return f"{pooled[name]:.3f} ({low:.2f} to {high:.2f})"


def _quarters(drift: dict[str, Any], name: str) -> str:
    return " / ".join(_cell(q.get(name)) for q in drift.get("quarters") or [])


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _readers_vs_consensus_markdown(card: dict[str, Any]) -> list[str]:
    """Each reader against the consensus and the leave-one-out majority, pooled over classes (per class
    in reader_accuracy.csv), their share of reads with a suggestion, and their drift; none for older cards."""
    section = card.get("readers_vs_consensus") or {}
    if not section.get("readers"):
        return []
    lines = [
        "",
        "## Readers against consensus",
        "",
        "Pooled over classes (per class in `reader_accuracy.csv`), 95% Wilson intervals in brackets. "
        "Consensus: the released cell, which counts the reader's own vote and so flatters them; "
        "leave-one-out: the majority of the exam's other reads (at least two; ties left out). Drift: "
        "sensitivity against consensus per quarter of the reader's reads in submission order, and the "
        "p-value of a logistic trend over their reads (sensitivity, specificity); * p < "
        f"{section.get('drift_alpha', 0.05)}, not corrected for the number of readers.",
        "",
        "| Reader | Reads | With suggestion | Sensitivity, consensus | Specificity, consensus "
        "| Sensitivity, leave-one-out | Specificity, leave-one-out | Sensitivity by quarter | Drift p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in section["readers"]:
        consensus, others, drift = r["consensus"], r["leave_one_out"], r["drift"]
        flag = " *" if drift.get("flagged") else ""
        lines.append(
            f"| {r['reader']} | {r['reads']} | {_cell(r.get('suggestion_share'))} "
            f"| {_figure(consensus, 'sensitivity')} | {_figure(consensus, 'specificity')} "
            f"| {_figure(others, 'sensitivity')} | {_figure(others, 'specificity')} "
            f"| {_quarters(drift, 'sensitivity')} "
            f"| {_p(drift.get('sensitivity_p'))}, {_p(drift.get('specificity_p'))}{flag} |"
        )
    return lines + _exposure_markdown(section["readers"])


def _exposure_markdown(readers: list[dict[str, Any]]) -> list[str]:
    """Sensitivity and specificity against the leave-one-out majority, reads with and without a
    suggestion shown, for the readers who made both."""
    split = [r for r in readers if r.get("by_exposure")]
    if not split:
        return []
    lines = [
        "",
        "Readers who read both with and without a suggestion shown, against the leave-one-out majority:",
        "",
        "| Reader | Sensitivity, shown | Sensitivity, not shown | Specificity, shown "
        "| Specificity, not shown |",
        "|---|---|---|---|---|",
    ]
    for r in split:
        shown, hidden = (
            r["by_exposure"]["shown"]["leave_one_out"],
            r["by_exposure"]["not_shown"]["leave_one_out"],
        )
        lines.append(
            f"| {r['reader']} | {_figure(shown, 'sensitivity')} | {_figure(hidden, 'sensitivity')} "
            f"| {_figure(shown, 'specificity')} | {_figure(hidden, 'specificity')} |"
        )
    return lines


def _with_interval(row: dict[str, Any], name: str) -> str:
    """A reader's figure with its 95% interval, when the stored result has one (older ones do not)."""
    low, high = row.get(f"{name}_low"), row.get(f"{name}_high")
    if row.get(name) is None or low is None or high is None:
        return _cell(row.get(name))
    return f"{_cell(row[name])} ({low:.2f} to {high:.2f})"


def card_markdown(card: dict[str, Any]) -> str:
    """The human-readable dataset card, rendered from the same dictionary as dataset_card.json."""
    lines = [
        f"# {card['title']}",
        "",
        f"Release date: {card['release_date']}  ",
        f"Data as of: {card['data_as_of'] or '-'}  ",
        f"Software: ECG Review {card['software_version']}",
        "",
        "## Source",
        "",
        f"Taxonomy: {card['taxonomy']['name']} ({card['taxonomy']['key']} {card['taxonomy']['version']})  ",
        f"Columns: {card['columns']['taxonomy']}" + (" (mapped)" if card["columns"]["mapped"] else ""),
        "",
        "| Batch | Name | Readers per exam | Suggestions | Also shown to readers | Consensus rule |",
        "|---|---|---|---|---|---|",
    ]
    for batch in card["batches"]:
        rule = batch.get("consensus_rule") or {}
        lines.append(
            f"| {batch['id']} | {_text(batch['name'])} | {batch['readers_per_exam']} "
            f"| {batch['suggestion_mode']} | {_also_shown(batch)} | {rule.get('method', '-')} |"
        )
    lines += _independence_markdown(card)
    lines += _counts_markdown(card)
    lines += _flow_markdown(card)
    lines += _adjudicators_markdown(card)
    lines += _classes_markdown(card)
    lines += _agreement_markdown(card)
    lines += _readers_vs_consensus_markdown(card)
    lines += audit_markdown(card)
    lines += ["", "## Files", ""]
    for item in card["files"]:
        lines.append(f"- `{item['name']}` ({item['bytes']} bytes), sha256 `{item['sha256']}`")
    lines += ["", "## Conventions", ""]
    lines += [f"- {text}" for text in card["conventions"]]
    return "\n".join(lines) + "\n"


def _text(value: object) -> str:
    """Free text as one Markdown table cell: a '|' would start a new column and a line break a new row
    (a batch's name is whatever its coordinator typed)."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _independence_markdown(card: dict[str, Any]) -> list[str]:
    """Under the batches: whether each reader read an exam once at most, and where not, the reason given."""
    rows = [(b["id"], b.get("independent_reads") or {}) for b in card["batches"]]
    lines = [""]
    for batch_id, row in rows:
        if row.get("independent") is False:
            reason = _text(row.get("off_reason") or "-")
            lines.append(
                f"Independent reads turned off in batch {batch_id}: a reader may have read an exam twice. "
                f"Reason given: {reason}  "
            )
        elif row.get("enforced_since_upgrade_only"):
            lines.append(
                f"Batch {batch_id}: independent reads enforced only since an upgrade; earlier hand-outs "
                "were not checked.  "
            )
    if len(lines) == 1:
        lines.append("Independent reads: no reader was handed an exam they knew from another batch.")
    return lines


def _also_shown(batch: dict[str, Any]) -> str:
    shown = batch.get("readers_were_shown") or {}
    named = [("earlier_ecgs", "earlier ECGs"), ("device_measurements", "the cart's measurements")]
    also = [text for key, text in named if shown.get(key)]
    if shown.get("blind_measurements") == "cart_and_computed":
        also.append("measurements computed from the signal")
    return ", ".join(also) or "-"


def _reads_per_exam(counts: dict[str, int]) -> str:
    """{"2": 1, "3": 3} as "2 reads on 1 exam; 3 reads on 3 exams", in the JSON's order (by reads)."""
    return (
        "; ".join(
            f"{reads} read{'s' * (int(reads) != 1)} on {exams} exam{'s' * (exams != 1)}"
            for reads, exams in counts.items()
        )
        or "-"
    )


def _adjudicators_markdown(card: dict[str, Any]) -> list[str]:
    """Each adjudicator's pseudonym with the decisions they signed, as dataset_card.json's "adjudicators"."""
    signed, exams = card.get("adjudicators") or {}, card.get("adjudicated_exams") or {}
    lines = ["", "## Adjudicators", ""]
    if not signed:
        return [*lines, "No adjudication was signed."]
    return lines + [
        f"- {name}: {count} class decision{'s' * (count != 1)} signed"
        + (f" on {exams[name]} exam{'s' * (exams[name] != 1)}" if name in exams else "")
        for name, count in sorted(signed.items())
    ]


def _counts_markdown(card: dict[str, Any]) -> list[str]:
    counts = card["counts"]
    return [
        "",
        "## Counts",
        "",
        f"Exams: {counts['exams']}; readers: {counts['readers']}; first reads: {counts['first_reads']}; "
        f"reads per exam: {_reads_per_exam(counts['reads_per_exam'])}",
        "",
        f"Exams with insufficient reads (no consensus): {counts.get('insufficient_reads', 0)}"
        + "".join(
            f"; {item['dataset']}/{item['exam_id']} ({item['reads']})"
            for item in card.get("insufficient_reads", [])[:50]
        ),
        "",
        "Exams of the batches with no submitted read (no row in this release): "
        f"{counts.get('not_read', 0)}"
        + "".join(f"; {item['dataset']}/{item['exam_id']}" for item in card.get("not_read", [])[:50]),
        "",
        f"Exams with undecided classes (left empty): {counts.get('undecided_exams', 0)} "
        f"({counts.get('undecided_cells', 0)} cells); an adjudication and a new release settle them.",
        "",
        "Consensus methods (stored cells): "
        + ", ".join(f"{k} {v}" for k, v in sorted(card["consensus_methods"].items())),
    ]


_FLOW_STEPS = (
    ("exams_imported", "Exams in the datasets imported"),
    ("exams_designed", "Exams designed into the batches"),
    ("exams_gold", "of which gold exams (read by every reader; left out of agreement)"),
    ("exams_read", "Exams with a submitted read"),
    ("exams_not_read", "Exams never read"),
    ("exams_with_a_skip", "Exams a reader skipped"),
    ("exams_escalated", "Exams given extra reads by escalation"),
    ("exams_disputed", "Exams with a disputed class"),
    ("exams_adjudicated", "Exams adjudicated"),
    ("exams_insufficient_reads", "Exams read too few times for a consensus"),
    ("exams_released", "Exams released (rows of the consensus table)"),
    ("adjudicated_cells", "Class decisions by adjudicators"),
    ("adjudication_overturned_majority", "of which against the readers' majority"),
    ("adjudication_settled_ties", "of which settling a tie"),
)


def _flow_markdown(card: dict[str, Any]) -> list[str]:
    """The flow of exams from import to release (STARD/GRRAS), one line per step; none for older cards."""
    flow = card.get("flow")
    if not flow:
        return []
    lines = ["", "## Flow", "", "| Step | Exams |", "|---|---|"]
    return lines + [f"| {title} | {flow[key]} |" for key, title in _FLOW_STEPS if key in flow]


def _classes_markdown(card: dict[str, Any]) -> list[str]:
    titles, rule = _coefficient_header()
    lines = [
        "",
        "## Classes",
        "",
        "Prevalence is among the exams with a consensus on the class; its range is the prevalence over every "
        "labelled exam had each undecided cell been absent, and present. † marks an interval from only part "
        "of the bootstrap resamples, the share given beside it.",
        "",
        "| Code | Name | Positive | Undecided | Prevalence | 95% CI | Range " + titles,
        "|---|---|---|---|---|---|---" + rule,
    ]
    for row in card["classes"]:
        if row.get("agreement") is None and _per_batch(card):
            agreement = "| per batch, below " + "| - " * (2 * len(_COEFFICIENTS) - 1) + "|"
        else:
            agreement = _coefficient_cells(row.get("agreement") or {})
        lines.append(
            f"| {_text(row['code'])} | {_text(row['name'])} | {row['positive']} | {row['undecided']} "
            f"| {_cell(row['prevalence'])} | {_range(row['prevalence_ci'])} "
            f"| {_range(row.get('prevalence_bounds'))} {agreement}"
        )
    return lines + _per_batch_markdown(card)


def _per_batch(card: dict[str, Any]) -> bool:
    """Whether the class table cannot carry one agreement figure per column: the readers of several
    batches (kappas of different readers are not pooled), or columns that map several statements."""
    return len(card["batches"]) > 1 or any(len(row.get("source_codes") or ()) > 1 for row in card["classes"])


def _per_batch_markdown(card: dict[str, Any]) -> list[str]:
    """Each batch's agreement on each statement behind each column, as dataset_card.json's "agreement"."""
    if not _per_batch(card):
        return []
    titles, rule = _coefficient_header()
    lines = [
        "",
        "## Reader agreement per batch and statement",
        "",
        "| Batch | Statement | Column | Exams read " + titles,
        "|---|---|---|---" + rule,
    ]
    for batch_id, agreement in sorted((card.get("agreement") or {}).items(), key=lambda item: int(item[0])):
        classes = agreement.get("classes") or {}
        for row in card["classes"]:
            for code in row.get("source_codes") or [row["code"]]:
                figures = classes.get(code)
                if figures is None:
                    continue
                lines.append(
                    f"| {batch_id} | {code} | {row['code']} | {_cell(figures.get('n_exams_read'))} "
                    + _coefficient_cells(figures)
                )
    return lines
