"""Benchmark: a release's suggestions.csv, its time and the writer's peak memory, as the release grows.

Uses bench/export.py's database (ecgreview_bench_export) and its batches of N exams with two submitted
reads each, gives every exam three suggestions by SQL (a rule provider
scoring every TNMG statement with a threshold and a rationale each, shown to one reader on half the
exams; two versions of a model scoring six), then writes the file and prints, per size, the rows, the
bytes, the time and the peak memory the writer allocated in Python (tracemalloc) and the process's
peak resident memory. The writer streams the exams and reads their suggestions CHUNK_EXAMS exams at a
time, so the traced peak should stay flat as the exams grow. Asserts nothing.

    .venv/bin/python bench/release_suggestions.py [--exams 5000 20000]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from bench._django import setup
from bench.export import populate

MODEL_CODES = ("1dAVb", "RBBB", "LBBB", "SB", "AF", "ST")


def _rules_measurements(codes: list[str]) -> str:
    """What a rule provider stores: a threshold and a rationale of a few dozen words per code."""
    scoring = {
        "scores": {},
        "thresholds": {code: 0.5 for code in codes},
        "rationale": {
            code: {
                "criterion": f"{code}: the published criterion, in words, with its limits (QRS >= 120 ms)",
                "source": "AHA/ACCF/HRS 2009 recommendations, part III; SBC guideline (2016, 2022)",
                "finding": "QRS 148 ms, rSR' in V1 (terminal 0.35 mV), broad S in I and V6, axis -30",
            }
            for code in codes
        },
    }
    return json.dumps({"_scoring": scoring, "qrs_ms": 148.0})


def add_suggestions(batch_id: int) -> None:
    """Three suggestions per exam of the batch, unless it has them already."""
    from django.db import connection, transaction

    from annotations.models import DiagnosticClass, ReviewBatch, Suggestion

    batch = ReviewBatch.objects.get(pk=batch_id)
    exams = batch.batch_exams.values("exam_id")
    if Suggestion.objects.filter(exam_id__in=exams).exists():
        return
    codes = list(DiagnosticClass.objects.filter(taxonomy=batch.taxonomy).values_list("code", flat=True))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for provider, version, minutes, measurements in (
            ("rules", "1", 3, _rules_measurements(codes)),
            ("codec", "1", 2, "{}"),
            ("codec", "2", 1, "{}"),
        ):
            cursor.execute(
                """INSERT INTO annotations_suggestion (exam_id, provider, provider_version, status,
                       measurements, error, computed_at)
                   SELECT exam_id, %s, %s, 'ok', %s::jsonb, '', now() - %s * interval '1 minute'
                   FROM annotations_batchexam WHERE batch_id = %s""",
                [provider, version, measurements, minutes, batch_id],
            )
        cursor.execute(
            """INSERT INTO annotations_suggestionscore (suggestion_id, diagnostic_class_id, score)
               SELECT s.id, c.id, ((s.id * 31 + c.id * 17) %% 1000) / 1000.0
               FROM annotations_suggestion s
               JOIN annotations_batchexam be ON be.exam_id = s.exam_id AND be.batch_id = %s
               JOIN annotations_diagnosticclass c ON c.taxonomy_id = %s
                 AND (s.provider = 'rules' OR c.code = ANY(%s))""",
            [batch_id, batch.taxonomy_id, list(MODEL_CODES)],
        )
        # The first reader was shown the rule provider's suggestion on every other exam.
        cursor.execute(
            """INSERT INTO annotations_suggestionexposure (assignment_id, suggestion_id, reader_id, stage,
                   mode, shown_at)
               SELECT a.id, s.id, a.reader_id, 'revised', 'two_stage', now()
               FROM annotations_assignment a
               JOIN annotations_suggestion s ON s.exam_id = a.exam_id AND s.provider = 'rules'
               WHERE a.batch_id = %s AND a.exam_id %% 2 = 0
                 AND a.reader_id = (SELECT min(reader_id) FROM annotations_assignment WHERE batch_id = %s)""",
            [batch_id, batch_id],
        )
        cursor.execute("ANALYZE")
    print(f"inserted three suggestions per exam of batch {batch_id} in {time.perf_counter() - started:.1f} s")


def write(batch_id: int, folder: Path, traced: bool) -> dict:
    """One write of the file: its counts, size and time, and with `traced` the writer's peak Python
    allocation (tracemalloc slows Python several times over, so the time comes from an untraced run)."""
    from django.db import transaction

    from annotations.selectors.releases.plan import export_plan
    from annotations.services.releases.tables import write_suggestions

    plan = export_plan([batch_id])
    path = folder / "suggestions.csv"
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    with transaction.atomic():
        counts = write_suggestions(plan, path)
    seen = {**counts, "mb": path.stat().st_size / 1e6, "seconds": time.perf_counter() - started}
    if traced:
        seen["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exams", type=int, nargs="+", default=[5_000, 20_000])
    args = parser.parse_args()
    setup("ecgreview_bench_export")
    for n_exams in args.exams:
        batch_id = populate(n_exams)
        add_suggestions(batch_id)
        with tempfile.TemporaryDirectory() as folder:
            seen = write(batch_id, Path(folder), traced=False)
            peak = write(batch_id, Path(folder), traced=True)["peak_mb"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(
            f"{seen['exams']} exams: {seen['rows']} rows, {seen['mb']:.1f} MB in {seen['seconds']:.1f} s "
            f"({seen['rows'] / seen['seconds']:,.0f} rows/s); writer's traced peak {peak:.1f} MB, "
            f"process max RSS so far {rss:.0f} MB"
        )


if __name__ == "__main__":
    main()
