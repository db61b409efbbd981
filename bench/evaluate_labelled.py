"""The figures of docs/suggestions-evaluation.md: every built-in provider on the 113 labelled records.

Imports tests/data/ecg-labelled/records with the real import_exams into a throwaway SQLite database (a
temporary VAR_DIR, as the embedded default runs), configures the measurement, quality and openecg
providers, runs `manage.py evaluate_suggestions --json` (which computes and stores every suggestion as
the worker does) and writes the markdown tables: per class and provider with bootstrap intervals, the
rhythm confusion matrix, the statements reached, and the project's goals with the figures that decide
them. Prints the markdown; --write puts it into the doc between its markers. Asserts nothing.

    .venv/bin/python bench/evaluate_labelled.py [--bootstrap 1000] [--seed 0] [--write]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(variable, "1")

ROOT = Path(__file__).resolve().parent.parent
RECORDS = ROOT / "tests" / "data" / "ecg-labelled" / "records"
DOC = ROOT / "docs" / "suggestions-evaluation.md"
BEGIN, END = "<!-- evaluate_labelled:begin -->", "<!-- evaluate_labelled:end -->"
DATASET = "ecg-labelled"
PROVIDERS = [
    "annotations.lib.providers.measurements.MeasurementProvider",
    "annotations.lib.providers.quality.QualityProvider",
    "annotations.lib.providers.openecg_codec.OpenEcgProvider",
]
# The records' own ventricular tachycardia labels (SNOMED CT): TNMG's crosswalk maps 164895002 to VT and
# leaves paroxysmal VT (425856008) unmapped, sustained or not being unknown, so the goal reads them here.
VT_SNOMED = ("164895002", "425856008")
GOALS = {
    "AF": {"sensitivity": 0.8, "specificity": 0.95},
    "RBBB": {"sensitivity": 0.7, "specificity": 0.95},
}
GOAL_STATEMENTS = 35
PR_LIMIT_MS = 200.0


def setup(var_dir: str) -> None:
    """Django on a fresh SQLite file in var_dir, no broker, the three built-in providers."""
    sys.path.insert(0, str(ROOT))
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("ALLOWED_HOSTS", "localhost")
    os.environ.update(
        {
            "VAR_DIR": var_dir,
            "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
            "SUGGESTION_PROVIDERS": json.dumps(PROVIDERS),
        }
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("load_taxonomy", "--shipped", verbosity=0)


def evaluate(bootstrap: int, seed: int) -> tuple[dict, dict]:
    """(the command's JSON report, per-exam facts for the goals the report's tables do not decide)."""
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("import_exams", str(RECORDS), "--dataset", DATASET, "--no-progress", stdout=io.StringIO())
    imported = time.perf_counter()
    out = io.StringIO()
    call_command(
        "evaluate_suggestions", "--dataset", DATASET, "--bootstrap", str(bootstrap), "--seed", str(seed),
        "--json", stdout=out,
    )  # fmt: skip
    done = time.perf_counter()
    print(f"imported in {imported - started:.0f} s, evaluated in {done - imported:.0f} s", file=sys.stderr)
    return json.loads(out.getvalue()), exam_facts()


def exam_facts() -> dict:
    """Per record: its VT source labels, the PR the measurement provider measured and what the stack
    suggested (codes at or over their thresholds, any provider)."""
    from annotations.lib.stats.classification import RHYTHM_PRECEDENCE
    from annotations.models import Dataset, ReferenceLabel
    from annotations.selectors.suggestions.evaluation import dataset_exam_ids, stored_suggestions
    from annotations.services.suggestions import suggestion_providers

    exams = dataset_exam_ids(Dataset.objects.get(name=DATASET))
    names = {pk: external_id for external_id, pk in exams.items()}
    vt = set(
        ReferenceLabel.objects.filter(
            exam_id__in=names, code_system="snomed", code__in=VT_SNOMED
        ).values_list("exam_id", flat=True)
    )
    suggested: dict[int, set[str]] = {pk: set() for pk in names}
    pr: dict[int, float | None] = {}
    for name, provider in suggestion_providers().items():
        for pk, row in stored_suggestions(names, provider).items():
            suggested[pk] |= {c for c, s in row.scores.items() if s >= row.thresholds.get(c, 0.5)}
            if name == "measurements":
                pr[pk] = row.measurements.get("pr_ms")
    return {
        names[pk]: {
            "vt": pk in vt,
            "pr_ms": pr.get(pk),
            "suggested": sorted(suggested[pk]),
            "rhythms": [c for c in RHYTHM_PRECEDENCE if c in suggested[pk]],
        }
        for pk in names
    }


# --- Markdown -------------------------------------------------------------------------------------------
def _figure(value: dict) -> str:
    from annotations.lib.stats.classification import estimate_text  # after sys.path holds the project

    return estimate_text(value, "()")


def class_table(report: dict) -> list[str]:
    lines = [
        "| Class | Provider | Pos | Neg | Sensitivity | Specificity | PPV | AUROC |",
        "| --- | --- | ---: | ---: | --- | --- | --- | --- |",
    ]
    for entry in report["classes"]:
        for i, row in enumerate(entry["rows"]):
            cls = f"{entry['code']}" if i == 0 else ""
            figures = " | ".join(_figure(row[m]) for m in ("sensitivity", "specificity", "ppv", "auroc"))
            lines.append(
                f"| {cls} | {row['provider']} | {entry['positives']} | {entry['negatives']} | {figures} |"
            )
    uncovered = [f"{e['code']} ({e['positives']})" for e in report["classes"] if not e["rows"]]
    if uncovered:
        lines += ["", f"Labelled here, suggested by no provider (positives): {', '.join(uncovered)}."]
    return lines


def rhythm_table(report: dict, name: str) -> list[str]:
    labels, matrix = report["rhythm"]["labels"], report["rhythm"]["matrices"][name]
    lines = [
        "| Reference \\ suggested | " + " | ".join(labels) + " |",
        "| --- |" + " ---: |" * len(labels),
    ]
    for label, row in zip(labels, matrix, strict=True):
        if any(row):
            lines.append(f"| {label} | " + " | ".join(str(n) if n else "." for n in row) + " |")
    return lines


def _row(report: dict, code: str, provider: str) -> dict | None:
    for entry in report["classes"]:
        if entry["code"] == code:
            return next((row for row in entry["rows"] if row["provider"] == provider), None)
    return None


def goals(report: dict, facts: dict) -> list[str]:
    stack = "stack" if len(report["providers"]) > 1 else report["providers"][0]["name"]
    lines = ["| Goal | Figure (stack) | Met |", "| --- | --- | --- |"]
    for code, wanted in GOALS.items():
        goal = f"{code}: sensitivity >= {wanted['sensitivity']}, specificity >= {wanted['specificity']}"
        row = _row(report, code, stack)
        if row is None:
            lines.append(f"| {goal} | not suggested by any provider | no |")
            continue
        sens, spec = row["sensitivity"]["value"], row["specificity"]["value"]
        met = sens is not None and spec is not None
        met = met and sens >= wanted["sensitivity"] and spec >= wanted["specificity"]
        lines.append(
            f"| {goal} | sensitivity {_figure(row['sensitivity'])}, specificity "
            f"{_figure(row['specificity'])} | {'yes' if met else 'no'} |"
        )
    vt = {r: f for r, f in facts.items() if f["vt"]}
    wrong = {r: f["rhythms"] for r, f in vt.items() if {"SR", "AF"} & set(f["rhythms"])}
    shown = ", ".join(f"{r}: {'/'.join(f['rhythms']) or 'no rhythm'}" for r, f in sorted(vt.items()))
    lines.append(
        f"| No VT suggested as SR or AF ({len(vt)} records labelled VT, SNOMED {' or '.join(VT_SNOMED)}) | "
        f"{len(wrong)} suggested SR or AF; rhythms suggested: {shown} | "
        f"{'yes' if vt and not wrong else 'no'} |"
    )
    long_pr = {r: f for r, f in facts.items() if f["pr_ms"] is not None and f["pr_ms"] > PR_LIMIT_MS}
    found = [r for r, f in long_pr.items() if "1dAVb" in f["suggested"]]
    shown = ", ".join(
        f"{r} ({f['pr_ms']:.0f} ms{'' if '1dAVb' in f['suggested'] else ', not suggested'})"
        for r, f in sorted(long_pr.items())
    )
    lines.append(
        f"| 1dAVb suggested where PR > {PR_LIMIT_MS:g} ms (the PR the measurement provider measures, "
        f"its pr_ms) | {len(found)} of {len(long_pr)} records: "
        f"{shown or 'none'} | {'yes' if len(found) == len(long_pr) else 'no'} |"
    )
    reached = report["statements"]["providers"][stack]
    total = report["statements"]["diagnostic_statements"]
    lines.append(
        f"| >= {GOAL_STATEMENTS} of {total} statements reached | {reached['can_suggest']} can be suggested, "
        f"{reached['suggested']} suggested on these records | "
        f"{'yes' if reached['suggested'] >= GOAL_STATEMENTS else 'no'} |"
    )
    return lines


def markdown(report: dict, facts: dict, commit: str) -> str:
    intervals = report["intervals"]
    truth = report["truth"]
    unmapped = ", ".join(f"{label} ({n})" for label, n in truth["unmapped"].items()) or "none"
    versions = ", ".join(
        f"{p['name']} {p['version']} ({p['ok']} ok, {p['failed']} failed)" for p in report["providers"]
    )
    statements = report["statements"]
    reached = "; ".join(
        f"{name}: {s['can_suggest']} can be suggested, {s['suggested']} suggested"
        for name, s in statements["providers"].items()
    )
    parts = [
        f"Generated by `bench/evaluate_labelled.py` at commit {commit}: {report['exams']} records, truth "
        f"from their own labels; labels no TNMG statement stands for (records): {unmapped}.",
        "",
        f"Providers: {versions}.",
        "",
        f"Intervals: {intervals['confidence']:.0%} {intervals['method']} ({intervals['resamples']} "
        f"resamples, seed {intervals['seed']}); * marks a figure some resamples left undefined (no positive "
        "drawn). Sensitivity, specificity and PPV at each provider's thresholds; AUROC over the records a "
        "provider scored. `stack`: suggested when any provider suggests, score the highest.",
        "",
        "### Goals",
        "",
        *goals(report, facts),
        "",
        "### Per class",
        "",
        *class_table(report),
        "",
        "### Rhythm (stack)",
        "",
        "Rows: the reference's rhythm (ventricular before atrial before sinus when a record has several); "
        "columns: the top-scoring suggested rhythm, `none` when none is suggested.",
        "",
        *rhythm_table(
            report, "stack" if "stack" in report["rhythm"]["matrices"] else report["providers"][0]["name"]
        ),
        "",
        "### Statements reached",
        "",
        f"Of the taxonomy's {statements['diagnostic_statements']} diagnostic statements: {reached}.",
    ]
    return "\n".join(parts) + "\n"


def write_doc(text: str) -> None:
    doc = DOC.read_text(encoding="utf-8")
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC} lacks the markers {BEGIN} and {END}")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    DOC.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "annotations"], cwd=ROOT, capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "") or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help=f"Put the tables into {DOC.relative_to(ROOT)}.")
    parser.add_argument("--commit", help="The code's commit, when run from an export rather than a checkout.")
    args = parser.parse_args()
    commit = args.commit or _commit()
    with tempfile.TemporaryDirectory(prefix="evaluate-labelled-") as var_dir:
        setup(var_dir)
        report, facts = evaluate(args.bootstrap, args.seed)
    text = markdown(report, facts, commit)
    print(text)
    if args.write:
        write_doc(text)
        print(f"written into {DOC.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
