"""Backup and restore: pg_dump plus the waveform store, restored into a fresh database, all verified."""

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from annotations.models import Assignment, AuditEvent, Exam
from annotations.services.reading import LabelInput, annotation_save_draft, annotation_submit
from tests.factories import batch_for, make_exam

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_database():
    db = connection.settings_dict
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield name, admin.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verify(
    backup: Path, database_url: str, waveforms: Path, releases: Path | None = None
) -> subprocess.CompletedProcess:
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ecgreview.settings",
        "DATABASE_URL": database_url,
        "WAVEFORM_STORAGE_URL": waveforms.as_uri(),
        "DEBUG": "0",
        **({"RELEASE_STORAGE_DIR": str(releases)} if releases else {}),
    }
    return subprocess.run(
        [sys.executable, "manage.py", "backup_verify", str(backup)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_backup_restored_into_a_fresh_database_has_every_row_and_blob(
    tmp_path, restore_database, ana, bruno, diego, tnmg
):
    exams = [make_exam(seed=i, heart_rate=60 + 10 * i) for i in range(3)]
    batch = batch_for(tnmg, diego, [ana, bruno], exams, name="Backed up")
    slot = Assignment.objects.filter(batch=batch, reader=ana).first()
    draft = annotation_save_draft(actor=ana, assignment=slot, labels=[], revision=0)
    annotation_submit(actor=ana, assignment=slot, labels=[LabelInput("SB")], revision=draft.revision)
    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    assert (backup / "database.dump").stat().st_size > 0
    from django.core.files.storage import storages

    stored = {p.name for p in Path(storages["waveforms"].location).rglob("*.npy")}
    assert {p.name for p in (backup / "waveforms").rglob("*.npy")} == stored
    assert {f"{e.waveform_sha256}.npy" for e in Exam.objects.all()} <= stored

    name, url = restore_database
    db = connection.settings_dict
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "-h",
            db["HOST"] or "127.0.0.1",
            "-p",
            str(db["PORT"] or 5432),
            "-U",
            db["USER"],
            "-d",
            name,
            str(backup / "database.dump"),
        ],
        check=True,
    )
    restored_waveforms = tmp_path / "restored-waveforms"
    shutil.copytree(backup / "waveforms", restored_waveforms)
    result = verify(backup, url, restored_waveforms)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout
    with psycopg.connect(url) as conn:
        assert (
            conn.execute("SELECT count(*) FROM annotations_exam").fetchone()[0] == Exam.objects.count() == 3
        )
        assert (
            conn.execute("SELECT count(*) FROM annotations_auditevent").fetchone()[0]
            == AuditEvent.objects.count()
        )

    # A damaged blob or a lost row is found and named.
    victim = restored_waveforms / exams[0].waveform_key
    damaged = bytearray(victim.read_bytes())
    damaged[-1] ^= 0xFF
    victim.write_bytes(bytes(damaged))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DELETE FROM annotations_annotationlabel")
    result = verify(backup, url, restored_waveforms)
    assert result.returncode != 0
    assert "differs from the backup" in result.stderr
    assert "table annotations_annotationlabel: 0 rows, backup had 1" in result.stderr


def test_a_backup_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "old").write_text("x")
    with pytest.raises(CommandError, match="is not empty"):
        call_command("backup", str(tmp_path))


def restore(backup: Path, name: str) -> None:
    db = connection.settings_dict
    where = ["-h", db["HOST"] or "127.0.0.1", "-p", str(db["PORT"] or 5432), "-U", db["USER"]]
    subprocess.run(
        ["pg_restore", "--no-owner", *where, "-d", name, str(backup / "database.dump")], check=True
    )


def test_a_backup_taken_while_the_app_writes_counts_the_rows_its_dump_holds(
    tmp_path, restore_database, monkeypatch, diego
):
    """The rows were counted before pg_dump started, in another snapshot: a row written in between made
    backup_verify fail a good backup ("annotations_suggestion: 6752 rows, backup had 6751")."""
    from annotations.management.commands import backup as command

    make_exam(seed=1)
    real_run = command.subprocess.run
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"

    def meanwhile(*args, **kwargs):  # a worker writes while the backup runs
        with psycopg.connect(url, autocommit=True) as other:
            other.execute(
                "INSERT INTO annotations_auditevent (occurred_at, actor_username, action, target_type, "
                "target_id) VALUES (now(), 'worker', 'meanwhile', '', '')"
            )
        return real_run(*args, **kwargs)

    monkeypatch.setattr(command.subprocess, "run", meanwhile)
    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    name, restored_url = restore_database
    restore(backup, name)
    restored_waveforms = tmp_path / "restored-waveforms"
    shutil.copytree(backup / "waveforms", restored_waveforms)
    result = verify(backup, restored_url, restored_waveforms)
    assert result.returncode == 0, result.stderr


def test_a_backup_holds_the_release_files_and_the_restore_serves_them(
    tmp_path, restore_database, ana, bruno, carla, diego, tnmg
):
    """The release files live beside the database, not in it: restored without them, every release said
    "done" and answered 404 for its files."""
    from annotations.services.releases.builds import release_build, release_create
    from tests.exporting import labelled_study
    from tests.factories import UserFactory

    carol = UserFactory(username="carol", roles=["reader"])
    study = labelled_study(readers=[ana, bruno, carol], coordinator=diego, adjudicator=carla, taxonomy=tnmg)
    release = release_build(release_create(actor=diego, batches=[study.batch], hdf5=False).pk)
    backup = tmp_path / "backup"
    call_command("backup", str(backup))
    assert {f["name"] for f in release.files} <= {
        p.name for p in (backup / "releases").rglob("*") if p.is_file()
    }
    name, url = restore_database
    restore(backup, name)
    restored_waveforms, restored_releases = tmp_path / "restored-waveforms", tmp_path / "restored-releases"
    shutil.copytree(backup / "waveforms", restored_waveforms)
    shutil.copytree(backup / "releases", restored_releases)
    result = verify(backup, url, restored_waveforms, restored_releases)
    assert result.returncode == 0, result.stderr
    assert "release files" in result.stdout
    from annotations.selectors.releases.builds import release_file_key

    card = restored_releases / release_file_key(release, "dataset_card.json")
    card.write_text(card.read_text() + " ")
    result = verify(backup, url, restored_waveforms, restored_releases)
    assert result.returncode != 0 and "dataset_card.json" in result.stderr


def test_a_backup_names_what_is_wrong_instead_of_a_traceback(tmp_path, monkeypatch):
    """An operator's mistakes: a file where the folder should be, no pg_dump on the PATH (the slim image
    had none). Each is a clear message and leaves no half-made backup behind."""
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    with pytest.raises(CommandError, match="is a file"):
        call_command("backup", str(a_file))
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(CommandError, match="pg_dump was not found"):
        call_command("backup", str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()


def test_a_backup_is_readable_by_its_owner_alone(tmp_path):
    """The dump holds password hashes and the patients' age, sex and acquisition dates."""
    make_exam(seed=1)
    call_command("backup", str(tmp_path / "b"))
    assert (tmp_path / "b").stat().st_mode & 0o077 == 0


def test_backup_verify_names_a_missing_or_broken_manifest(tmp_path):
    with pytest.raises(CommandError, match=r"no MANIFEST\.json"):
        call_command("backup_verify", str(tmp_path / "nothing"))
    (tmp_path / "MANIFEST.json").write_text("{not json")
    with pytest.raises(CommandError, match=r"MANIFEST\.json is not a backup manifest"):
        call_command("backup_verify", str(tmp_path))


def test_backup_verify_names_each_problem_once_on_its_own_line(tmp_path):
    """A blob two exams share, gone: one line for it, not one per exam, and one line per problem."""
    from django.core.files.storage import storages

    first, second = make_exam(seed=4), make_exam(seed=4)  # one waveform, two datasets
    assert first.waveform_key == second.waveform_key
    make_exam(seed=5)
    call_command("backup", str(tmp_path / "b"))
    Path(storages["waveforms"].path(first.waveform_key)).unlink()
    Exam.objects.filter(pk=second.pk).update(age=99)  # no table count changes
    with pytest.raises(CommandError) as refused:
        call_command("backup_verify", str(tmp_path / "b"))
    said = str(refused.value)
    assert said.count(f"waveform {first.waveform_key} is missing") == 1
    assert said.startswith("1 problem:\n")
