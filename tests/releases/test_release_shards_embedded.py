"""The laptop path of `make run` (SQLite, Celery eager): a release above the shard size is built in
shards there too, one task after the other inside the process, and its zip verifies."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from tests.platform.test_embedded_default import RELEASE_SCRIPT, demo_var_dir
from tests.releases.sharding import hdf5_arrays

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path, *args, script: str | None = None):
    environ = {
        "PATH": os.environ["PATH"],
        "DEBUG": "1",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "RELEASE_SHARD_EXAMS": "2",
    }
    command = [sys.executable, "-c", script, *args] if script else [sys.executable, "manage.py", *args]
    result = subprocess.run(command, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def test_a_sharded_release_builds_in_process_on_the_embedded_default(tmp_path):
    shutil.copytree(demo_var_dir(), tmp_path, dirs_exist_ok=True)  # make run's set-up, made once
    result = run(tmp_path, str(tmp_path / "release.zip"), script=RELEASE_SCRIPT)
    built = json.loads(result.stdout.strip().splitlines()[-1])
    assert built["exams"] > 2
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(tmp_path / "release.zip").extractall(unpacked)
    folder = unpacked / f"release-{built['release']}"
    shards = sorted(folder.glob("tracings-0*.hdf5"))
    assert len(shards) == -(-built["exams"] // 2) and (folder / "tracings-index.csv").exists()
    assert not (folder / "tracings.hdf5").exists()
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # The command writes one file of the same state: the shards end to end are that file.
    out = tmp_path / "export"
    run(tmp_path, "export_labels", "--batch", str(built["batch"]), "--out", str(out), "--no-progress")
    whole = hdf5_arrays(out / "tracings.hdf5")
    parts = [hdf5_arrays(path) for path in shards]
    for key in ("tracings", "exam_id", "dataset"):
        np.testing.assert_array_equal(np.concatenate([part[key] for part in parts]), whole[key])
