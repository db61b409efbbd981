"""The laptop path of `make run`: with nothing configured the schema and demo work on SQLite."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def manage(tmp_path, *args):
    environ = {"PATH": os.environ["PATH"], "DEBUG": "1", "VAR_DIR": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrate_taxonomy_and_demo_run_on_the_embedded_sqlite_default(tmp_path):
    for command in (["migrate", "--no-input"], ["load_taxonomy", "--shipped"], ["seed_demo"]):
        result = manage(tmp_path, *command)
        assert result.returncode == 0, result.stderr
    assert "Log in as" in result.stdout
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    (classes,) = database.execute(
        "SELECT count(*) FROM annotations_diagnosticclass c JOIN annotations_taxonomy t "
        "ON c.taxonomy_id = t.id WHERE t.key = 'tnmg'"
    ).fetchone()
    assert classes == 74  # TNMG 2026: the 73 statements of 2020 and sinus rhythm
    (assignments,) = database.execute("SELECT count(*) FROM annotations_assignment").fetchone()
    assert assignments > 0
    blobs = list((tmp_path / "waveforms").rglob("*.npy"))
    (exams,) = database.execute("SELECT count(DISTINCT waveform_sha256) FROM annotations_exam").fetchone()
    assert len(blobs) == exams


def test_the_audit_table_is_append_only_on_sqlite_too(tmp_path):
    assert manage(tmp_path, "migrate", "--no-input").returncode == 0
    database = sqlite3.connect(tmp_path / "db.sqlite3")
    database.execute(
        "INSERT INTO annotations_auditevent (occurred_at, actor_username, action, target_type, "
        "target_id) VALUES ('2026-01-01', '', 'x', '', '')"
    )
    for statement in ("UPDATE annotations_auditevent SET action = 'y'", "DELETE FROM annotations_auditevent"):
        try:
            database.execute(statement)
        except sqlite3.IntegrityError as error:
            assert "append-only" in str(error)
        else:
            raise AssertionError(f"{statement} was allowed")
