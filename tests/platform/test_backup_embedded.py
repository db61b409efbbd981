"""Backup and restore on the embedded default (`make run`: SQLite under VAR_DIR), as an operator runs them:
`manage.py backup` on the demo while it may be written, a restore into a new folder, `backup_verify`."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.platform.test_embedded_default import demo_var_dir, manage

pytestmark = pytest.mark.slow


@pytest.fixture
def demo(tmp_path) -> Path:
    """A copy of `make run`'s demo folder: database, waveforms, static files."""
    folder = tmp_path / "var"
    shutil.copytree(demo_var_dir(), folder)
    return folder


def rows(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def restore(backup: Path, folder: Path) -> None:
    """What docs/operations.md tells the operator: the database file, then the waveforms and the releases."""
    folder.mkdir()
    shutil.copy(backup / "database.sqlite3", folder / "db.sqlite3")
    shutil.copytree(backup / "waveforms", folder / "waveforms")
    shutil.copytree(backup / "releases", folder / "releases")


def test_the_embedded_default_backs_up_and_a_restore_in_a_new_folder_verifies(demo, tmp_path):
    backup = tmp_path / "backup"
    made = manage(demo, "backup", str(backup))
    assert made.returncode == 0, made.stderr[-3000:]
    assert "waveform blobs" in made.stdout
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    assert manifest["engine"] == "sqlite"
    live = rows(demo / "db.sqlite3")
    assert manifest["tables"] and all(live[t] == n for t, n in manifest["tables"].items())
    assert manifest["tables"]["annotations_exam"] > 0
    blobs = sorted(p.relative_to(demo).as_posix() for p in (demo / "waveforms").rglob("*") if p.is_file())
    assert blobs and all(name in manifest["files"] for name in blobs)
    assert oct((backup).stat().st_mode & 0o777) == "0o700"  # password hashes and patients' data

    restored = tmp_path / "restored"
    restore(backup, restored)
    checked = manage(restored, "backup_verify", str(backup))
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert f"verified {sum(manifest['tables'].values())} rows" in checked.stdout

    with sqlite3.connect(restored / "db.sqlite3") as db:  # a row lost in the restore is named
        db.execute("DELETE FROM django_migrations WHERE id = (SELECT max(id) FROM django_migrations)")
    lost = manage(restored, "backup_verify", str(backup))
    assert lost.returncode != 0
    assert "table django_migrations" in lost.stderr


def test_a_backup_taken_while_the_demo_writes_is_one_state_and_verifies(demo, tmp_path):
    """The demo's server and its background thread go on writing, in short transactions, while the
    operator backs up: the copy is one committed state (SQLite's online backup), its manifest counts
    that state, and a restore of it verifies, though the live database has moved on."""
    stop, written = threading.Event(), []

    def write() -> None:
        db = sqlite3.connect(demo / "db.sqlite3", isolation_level=None, timeout=30)
        while not stop.is_set():
            db.execute("BEGIN IMMEDIATE")
            db.execute(
                "INSERT INTO annotations_auditevent (occurred_at, actor_username, action, target_type, "
                "target_id, before, after) "
                "VALUES (datetime('now'), 'demo', 'test.write', 't', '1', '{}', '{}')"
            )
            db.execute("COMMIT")
            written.append(1)
            time.sleep(0.002)
        db.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        made = manage(demo, "backup", str(tmp_path / "backup"))
    finally:
        stop.set()
        writer.join()
    assert made.returncode == 0, made.stderr[-3000:]
    backup = tmp_path / "backup"
    manifest = json.loads((backup / "MANIFEST.json").read_text())
    copied = rows(backup / "database.sqlite3")  # every table the manifest counts, counted alike in the copy
    assert all(copied[table] == n for table, n in manifest["tables"].items())
    assert rows(demo / "db.sqlite3")["annotations_auditevent"] > manifest["tables"]["annotations_auditevent"]
    assert len(written) > 10
    restored = tmp_path / "restored"
    restore(backup, restored)
    checked = manage(restored, "backup_verify", str(backup))
    assert checked.returncode == 0, checked.stderr[-3000:]


def test_an_embedded_backup_refuses_a_folder_that_is_not_empty_and_writes_nothing(demo, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    refused = manage(demo, "backup", str(taken))
    assert refused.returncode != 0
    assert "is not empty" in refused.stderr
    assert sorted(p.name for p in taken.iterdir()) == ["keep.txt"]
