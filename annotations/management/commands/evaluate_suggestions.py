"""manage.py evaluate_suggestions --dataset D [--truth FILE] [--provider NAME ...] [--bootstrap N]
[--seed S] [--json]: how well the configured providers' suggestions find a dataset's reference labels.

Truth: the exams' own reference labels mapped to TNMG (as the importer maps them), or FILE: a CSV
`external_id,codes` (TNMG or SNOMED CT codes, separated by ';' or spaces) or a CinC records.tsv. Every
input is checked before anything is computed; then each provider's missing suggestions are computed
through the service the worker uses, stored as in production, and read back for the figures
(selectors/suggestions/evaluation.py)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotations.lib.providers.base import Provider, ProviderConfigError
from annotations.lib.stats.classification import estimate_text
from annotations.lib.truth_file import TruthFileError, truth_codes, truth_rows_read
from annotations.models import Dataset
from annotations.selectors.suggestions.evaluation import (
    dataset_exam_ids,
    dataset_reference_truth,
    evaluation_taxonomy,
    snomed_crosswalk,
    suggestion_evaluation,
    suggestions_missing,
    taxonomy_codes,
)
from annotations.services.suggestions import suggestion_compute, suggestion_providers

DATASETS_LISTED = 10
EXAMS_LISTED = 8


class Command(BaseCommand):
    help = (
        "Per class and provider: positives, negatives, sensitivity, specificity, PPV and AUROC with "
        "bootstrap 95% intervals over exams, a rhythm confusion matrix and the statements reached."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Name of an imported dataset.")
        parser.add_argument(
            "--truth",
            type=Path,
            help="CSV external_id,codes (TNMG or SNOMED CT codes) or a CinC records.tsv; default: the "
            "exams' own reference labels.",
        )
        parser.add_argument(
            "--provider",
            nargs="+",
            action="extend",
            default=[],
            metavar="NAME",
            help="Only these configured providers (default: every one).",
        )
        parser.add_argument("--bootstrap", type=int, default=1000, help="Resamples (0: no intervals).")
        parser.add_argument("--seed", type=int, default=0, help="Seed of the resamples.")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of tables.")

    def handle(self, *args, dataset, truth=None, provider=(), bootstrap=1000, seed=0, json=False, **options):
        if bootstrap < 0:
            raise CommandError(f"--bootstrap {bootstrap}: give 0 (no intervals) or more resamples")
        found = _dataset(dataset)
        taxonomy = evaluation_taxonomy()
        if taxonomy is None:
            raise CommandError("the TNMG taxonomy is not loaded: run manage.py load_taxonomy --shipped")
        providers = _providers(provider)
        labels, source = (
            _file_truth(found, truth, taxonomy) if truth is not None else _label_truth(found, taxonomy)
        )
        for name, instance in providers.items():
            missing = suggestions_missing(labels, instance)
            if missing:
                self.stderr.write(f"{name}: computing {len(missing)} missing suggestions")
            for exam_id in missing:
                suggestion_compute(exam_id, instance, retry_failed=False)
        report = {
            "dataset": found.name,
            "truth": source,
            **suggestion_evaluation(taxonomy, labels, providers, n_resamples=bootstrap, seed=seed),
        }
        if json:
            self.stdout.write(_dumps(report))
        else:
            self.stdout.write("\n".join(text_report(report)))


def _dataset(name: str) -> Dataset:
    found = Dataset.objects.filter(name__iexact=name).first()
    if found is None:
        names = list(Dataset.objects.order_by("name").values_list("name", flat=True)[: DATASETS_LISTED + 1])
        shown = ", ".join(names[:DATASETS_LISTED]) + (", ..." if len(names) > DATASETS_LISTED else "")
        raise CommandError(f"no dataset {name!r}; datasets: {shown or 'none (import exams first)'}")
    return found


def _providers(names: list[str]) -> dict[str, Provider]:
    try:
        configured = suggestion_providers()
    except ProviderConfigError as error:
        raise CommandError(f"provider configuration: {error}") from None
    unknown = [name for name in names if name not in configured]
    if unknown:
        raise CommandError(
            f"no configured provider {', '.join(map(repr, unknown))}; configured (SUGGESTION_PROVIDERS): "
            f"{', '.join(configured) or 'none'}"
        )
    chosen = {name: p for name, p in configured.items() if not names or name in names}
    if not chosen:
        raise CommandError("no suggestion provider is configured (SUGGESTION_PROVIDERS)")
    return chosen


def _label_truth(dataset: Dataset, taxonomy) -> tuple[dict[int, set[str]], dict]:
    reference = dataset_reference_truth(dataset, taxonomy)
    if not reference.labels:
        raise CommandError(
            f"no exam of dataset {dataset.name!r} has a reference label; give the truth with --truth FILE"
        )
    return reference.labels, {
        "source": "reference labels",
        "unmapped": reference.unmapped,
        "exams_left_out": reference.unlabelled,
    }


def _file_truth(dataset: Dataset, path: Path, taxonomy) -> tuple[dict[int, set[str]], dict]:
    try:
        rows = truth_rows_read(path)
        truth = truth_codes(
            rows,
            tnmg_codes=[c.code for c in taxonomy_codes(taxonomy)],
            snomed_to_tnmg=snomed_crosswalk(taxonomy),
        )
    except TruthFileError as error:
        raise CommandError(f"truth file {error}") from None
    exams = dataset_exam_ids(dataset)
    unknown = [external_id for external_id in truth.labels if external_id not in exams]
    if unknown:
        shown = ", ".join(f"{e} (line {rows.lines[e]})" for e in unknown[:EXAMS_LISTED])
        more = f" and {len(unknown) - EXAMS_LISTED} more" if len(unknown) > EXAMS_LISTED else ""
        raise CommandError(f"truth file {path}: dataset {dataset.name!r} has no exam {shown}{more}")
    return {exams[e]: codes for e, codes in truth.labels.items()}, {
        "source": str(path),
        "format": rows.format,
        "codes": truth.code_system,
        "unmapped": {f"snomed {code}": n for code, n in truth.unmapped.items()},
        "exams_left_out": len(exams) - len(truth.labels),
    }


# --- Text ------------------------------------------------------------------------------------------------
def text_report(report: dict) -> list[str]:
    truth, intervals = report["truth"], report["intervals"]
    described = truth["source"] + (
        f" ({truth['format']}, {truth['codes'].upper()} codes)" if "codes" in truth else ""
    )
    lines = [
        f"Dataset {report['dataset']}: {report['exams']} exams evaluated against {described}; "
        f"{truth['exams_left_out']} exams without truth left out.",
    ]
    if truth["unmapped"]:
        listed = ", ".join(f"{label} ({n})" for label, n in truth["unmapped"].items())
        lines.append(f"Labels no TNMG statement stands for (exams): {listed}.")
    for p in report["providers"]:
        lines.append(f"Provider {p['name']} {p['version']}: {p['ok']} ok, {p['failed']} failed.")
    if intervals["resamples"]:
        lines.append(
            f"Intervals: {intervals['confidence']:.0%} {intervals['method']}, "
            f"{intervals['resamples']} resamples, seed {intervals['seed']}; * where some resamples left the "
            "figure undefined. Sensitivity, "
            "specificity and PPV at each provider's thresholds; AUROC over the exams a provider scored."
        )
    lines += ["", *_class_table(report["classes"]), ""]
    lines += _rhythm_tables(report["rhythm"])
    lines += ["", *statements_lines(report["statements"])]
    return lines


def _class_table(classes: list[dict]) -> list[str]:
    width = max([5, *(len(e["code"]) for e in classes)])
    header = f"{'class':<{width}} {'provider':<14} {'pos':>4} {'neg':>4}  " + "  ".join(
        f"{name:<18}" for name in ("sensitivity", "specificity", "PPV", "AUROC")
    )
    lines = [header, "-" * len(header)]
    for entry in classes:
        for i, row in enumerate(entry["rows"]):
            code = entry["code"] if i == 0 else ""
            figures = "  ".join(
                f"{estimate_text(row[m]):<18}" for m in ("sensitivity", "specificity", "ppv", "auroc")
            )
            counts = f"{entry['positives']:>4} {entry['negatives']:>4}"
            lines.append(f"{code:<{width}} {row['provider']:<14} {counts}  {figures}".rstrip())
    uncovered = [f"{e['code']} ({e['positives']})" for e in classes if not e["rows"]]
    if uncovered:
        lines.append(f"With positives but no provider that suggests them: {', '.join(uncovered)}.")
    return lines


def _rhythm_tables(rhythm: dict) -> list[str]:
    labels = rhythm["labels"]
    width = max(6, *(len(label) + 1 for label in labels))
    lines = []
    for name, matrix in rhythm["matrices"].items():
        lines.append(f"Rhythm, {name}: rows the reference's rhythm, columns the top-scoring suggested one")
        lines.append(f"{'':<{width}}" + "".join(f"{label:>{width}}" for label in labels))
        for label, row in zip(labels, matrix, strict=True):
            if any(row):
                lines.append(f"{label:<{width}}" + "".join(f"{n or '.':>{width}}" for n in row))
        lines.append("")
    return lines


def statements_lines(statements: dict) -> list[str]:
    total = statements["diagnostic_statements"]
    parts = [
        f"{name} {s['can_suggest']} can be suggested, {s['suggested']} suggested"
        for name, s in statements["providers"].items()
    ]
    return [f"Statements reached (of {total} diagnostic): " + "; ".join(parts) + "."]


def _dumps(value) -> str:
    return json.dumps(value, indent=2, allow_nan=False)
