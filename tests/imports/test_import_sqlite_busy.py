"""`import_exams` on the embedded SQLite file while another writer holds it: the files wait their turn.

SQLite takes one writer at a time, and a writer gives up after its busy timeout. An import running
beside another (an upload's job on the web process's thread, a second command) had 50 of 145 files fail
with "database is locked". Here a second connection holds the write lock from before the command starts
until 8 s later, eight times the busy timeout this run is given (SQLITE_BUSY_TIMEOUT_S=1): every file is
imported, none fails.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.importing import DATA
from tests.platform.test_embedded_default import ROOT, demo_var_dir

pytestmark = pytest.mark.slow
RECORDS = sorted((DATA / "ecg-labelled" / "records").glob("*.hea"))[:5]  # 5 real WFDB records


def stored(database, sql: str) -> int:
    with sqlite3.connect(database, timeout=60) as connection:
        return connection.execute(sql).fetchone()[0]


def test_import_exams_waits_for_another_writer_instead_of_failing_files(tmp_path):
    shutil.copytree(demo_var_dir(), tmp_path, dirs_exist_ok=True)
    database = tmp_path / "db.sqlite3"
    environ = {
        "PATH": os.environ["PATH"],
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
        "SQLITE_BUSY_TIMEOUT_S": "1",
    }
    # --skip-checks: Django's system checks probe SQLite's JSON support with a query that a held write
    # lock makes fail ("does not support JSONFields"); the command's own work is what is tested here.
    command = [sys.executable, "manage.py", "import_exams", *map(str, RECORDS), "--dataset", "busy"]
    holder = sqlite3.connect(database, timeout=60, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with subprocess.Popen(
        [*command, "--no-progress", "--skip-checks"],
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as running:
        time.sleep(8)
        holder.execute("COMMIT")
        holder.close()
        out, err = running.communicate(timeout=300)
    assert running.returncode == 0, out[-2000:] + err[-3000:]
    assert f"{len(RECORDS)} file(s), 0 failed" in out, out[-2000:]
    assert "the database is busy with another writer; trying again" in err
    created = stored(
        database,
        "SELECT count(*) FROM annotations_exam e JOIN annotations_dataset d ON e.dataset_id = d.id "
        "WHERE d.name = 'busy'",
    )
    assert created == len(RECORDS)
