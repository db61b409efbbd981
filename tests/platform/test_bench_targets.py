"""`make bench` runs our own benchmarks only: the side-by-side with another product installs that product
(hundreds of MB from the package index) and runs for minutes, so it has its own target, `make bench-peer`."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEER = "bench/peer_label_studio.py"


def scripts_run_by(target: str) -> list[str]:
    """The scripts a target would run, each printed by `echo` in place of the interpreter."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", target, "PY=echo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [line.split()[0] for line in result.stdout.splitlines() if line.startswith("bench/")]


def test_make_bench_leaves_the_peer_comparison_out():
    scripts = scripts_run_by("bench")
    assert "bench/load_reads.py" in scripts and "bench/reader_page.py" in scripts
    assert PEER not in scripts
    assert (ROOT / PEER).exists()


def test_make_bench_peer_runs_the_peer_comparison_alone():
    assert scripts_run_by("bench-peer") == [PEER]
