"""Benchmark: a release's suggestions.csv, its size, time and the writer's peak memory, as the release grows.

Uses bench/export.py's database (ecgreview_bench_export) and its batches of N exams with two submitted
reads each, gives every exam three suggestions by SQL (a rule provider scoring every TNMG statement with
a threshold of 0.5 and a rationale each, shown to one reader on half the exams; two versions of a model
scoring six), then writes the file and prints, per size, the rows (one per suggested statement) per
exam beside the statements scored, the bytes, the time, the peak memory the writer allocated in Python
(tracemalloc) and the process's peak resident memory, and what that makes for a release of CODE-II's
2.7M exams. The writer streams the exams and reads their suggestions CHUNK_EXAMS exams at a time, so
the traced peak should stay flat as the exams grow. Asserts nothing.

The scores are spread so that each provider suggests (score >= 0.5) as many statements per exam as the
built-in providers did on the 113 labelled records (SUGGESTED_PER_EXAM): the rows, and so the file,
scale with those, not with the statements scored.

    .venv/bin/python bench/release_suggestions.py [--exams 5000 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import math
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
# Statements suggested per exam on the 113 labelled records (docs/suggestions-evaluation.md, its per-class
# table: sensitivity x positives + (1 - specificity) x negatives, summed over classes, over 113): the
# measurement provider 3.2 of the 51 it can suggest, openecg 1.0 of 12. The rule provider here stands for
# the first, each model version for the second.
SUGGESTED_PER_EXAM = {"rules": 3.2, "codec": 1.0}
# Written into each suggestion's measurements: suggestions of an earlier run with other scores are
# replaced rather than measured.
SCORES_LAYOUT = "suggested-per-exam-1"
CODE_II_EXAMS = 2_700_000


def _exponent(provider: str, n_codes: int) -> float:
    """k such that u**k, u uniform on [0, 1), is >= 0.5 for SUGGESTED_PER_EXAM of n_codes statements."""
    share = SUGGESTED_PER_EXAM[provider] / n_codes
    return math.log(0.5) / math.log(1 - share)


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
    """Three suggestions per exam of the batch, unless it has them already, scored as SCORES_LAYOUT says
    (an earlier run's are rescored in place: readers' exposures protect them from deletion)."""
    from django.db import connection, transaction

    from annotations.models import DiagnosticClass, ReviewBatch, Suggestion

    batch = ReviewBatch.objects.get(pk=batch_id)
    existing = Suggestion.objects.filter(exam_id__in=batch.batch_exams.values("exam_id"))
    if existing.filter(measurements__bench_scores=SCORES_LAYOUT).exists():
        return
    codes = list(DiagnosticClass.objects.filter(taxonomy=batch.taxonomy).values_list("code", flat=True))
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        if not existing.exists():
            _insert_suggestions(cursor, batch, codes)
        _score(cursor, batch_id, len(codes))
        cursor.execute("ANALYZE")
    print(f"three suggestions per exam of batch {batch_id} ready in {time.perf_counter() - started:.1f} s")


def _insert_suggestions(cursor, batch, codes: list[str]) -> None:
    """The suggestions, their score rows (scored by _score) and one reader's exposures."""
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
            [provider, version, measurements, minutes, batch.pk],
        )
    cursor.execute(
        """INSERT INTO annotations_suggestionscore (suggestion_id, diagnostic_class_id, score)
           SELECT s.id, c.id, 0.0
           FROM annotations_suggestion s
           JOIN annotations_batchexam be ON be.exam_id = s.exam_id AND be.batch_id = %s
           JOIN annotations_diagnosticclass c ON c.taxonomy_id = %s
             AND (s.provider = 'rules' OR c.code = ANY(%s))""",
        [batch.pk, batch.taxonomy_id, list(MODEL_CODES)],
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
        [batch.pk, batch.pk],
    )


def _score(cursor, batch_id: int, n_codes: int) -> None:
    """Pseudo-random scores, u**k of a u spread evenly over [0, 1), with k per provider (_exponent)."""
    cursor.execute(
        """UPDATE annotations_suggestionscore sc
           SET score = power(((s.id * 31 + sc.diagnostic_class_id * 17) %% 1000) / 1000.0,
               CASE WHEN s.provider = 'rules' THEN %s ELSE %s END)
           FROM annotations_suggestion s
           JOIN annotations_batchexam be ON be.exam_id = s.exam_id AND be.batch_id = %s
           WHERE sc.suggestion_id = s.id""",
        [_exponent("rules", n_codes), _exponent("codec", len(MODEL_CODES)), batch_id],
    )
    cursor.execute(
        """UPDATE annotations_suggestion s SET measurements = s.measurements || %s::jsonb
           FROM annotations_batchexam be WHERE be.exam_id = s.exam_id AND be.batch_id = %s""",
        [json.dumps({"bench_scores": SCORES_LAYOUT}), batch_id],
    )


def scored_statements(batch_id: int) -> int:
    """The scores of the suggestions the file gives for the batch's exams, suggested or not (a row each
    before the file kept only the suggested): rules 1, shown, and codec 2, the model's newest; codec 1
    is neither."""
    from django.db.models import Q

    from annotations.models import SuggestionScore

    given = Q(suggestion__provider="rules") | Q(
        suggestion__provider="codec", suggestion__provider_version="2"
    )
    return SuggestionScore.objects.filter(
        given, suggestion__exam__batch_memberships__batch_id=batch_id
    ).count()


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
    parser.add_argument("--repeat", type=int, default=3, help="timed writes, the fastest printed")
    args = parser.parse_args()
    setup("ecgreview_bench_export")
    for n_exams in args.exams:
        batch_id = populate(n_exams)
        add_suggestions(batch_id)
        with tempfile.TemporaryDirectory() as folder:
            # The fastest of a few: the time is the database's as much as Python's, on a shared machine.
            seen = min(
                (write(batch_id, Path(folder), traced=False) for _ in range(args.repeat)),
                key=lambda run: run["seconds"],
            )
            peak = write(batch_id, Path(folder), traced=True)["peak_mb"]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
        print(
            f"{seen['exams']} exams: {seen['rows']} rows, {seen['mb']:.1f} MB in {seen['seconds']:.1f} s "
            f"({seen['rows'] / seen['seconds']:,.0f} rows/s); writer's traced peak {peak:.1f} MB, "
            f"process max RSS so far {rss:.0f} MB"
        )
        print(project(n_exams, seen, scored_statements(batch_id)))


def project(n_exams: int, seen: dict, scored: int) -> str:
    """Rows per exam (over the batch's exams, with a row or not) and the file for CODE-II's exams."""
    scale = CODE_II_EXAMS / n_exams
    return (
        f"  {seen['rows'] / n_exams:.2f} rows per exam (of {scored / n_exams:.1f} statements scored); "
        f"at {CODE_II_EXAMS:,} exams: {seen['rows'] * scale / 1e6:,.1f}M rows, "
        f"{seen['mb'] * scale / 1e3:,.2f} GB, {seen['seconds'] * scale / 60:,.1f} min"
    )


if __name__ == "__main__":
    main()
