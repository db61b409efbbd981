"""mypy, with the Django and DRF plugins, finds no error in annotations/ and ecgreview/ (pyproject.toml),
strict on the pure numpy library, the services and the selectors. `make lint` and .ci/run run the
same command; this test keeps `make test` holding it too."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
STRICT_FLAGS = {
    "disallow_any_generics", "disallow_subclassing_any", "disallow_untyped_calls", "disallow_untyped_defs",
    "disallow_incomplete_defs", "disallow_untyped_decorators", "warn_return_any", "strict_equality",
    "extra_checks",
}  # fmt: skip


@pytest.mark.slow
def test_mypy_finds_no_error_in_the_configured_tree():
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    print(f"mypy took {time.monotonic() - started:.1f} s")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_strict_covers_the_library_services_and_selectors():
    strict = [o for o in CONFIG["overrides"] if STRICT_FLAGS <= {k for k, v in o.items() if v is True}]
    modules = {m for o in strict for m in o["module"]}
    assert {"annotations.lib.*", "annotations.services.*", "annotations.selectors.*"} <= modules
    assert all(o.get("implicit_reexport") is False for o in strict)
    assert {"mypy_django_plugin.main", "mypy_drf_plugin.main"} <= set(CONFIG["plugins"])


def test_make_lint_and_ci_run_mypy():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    lint = makefile[makefile.index("\nlint:") :].split("\n\n")[0]
    assert "mypy" in lint
    ci = (ROOT / ".ci/run").read_text(encoding="utf-8")
    assert ".venv/bin/mypy" in ci[: ci.rindex("make test")]
