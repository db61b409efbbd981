"""`manage.py backup OUT_DIR`: a consistent copy of the database, the waveform store and the releases.

The database goes through pg_dump's custom format (restorable with pg_restore into an empty
database), in the snapshot the rows are counted in: a transaction exports its snapshot and pg_dump
reads that one, so rows written meanwhile by the app and its workers are in neither. Waveform blobs
are copied as files (they are content-addressed and never change, so a copy taken after the dump
holds every blob the dump references); so are the built releases' files, which the database names
by checksum. MANIFEST.json lists every file with its SHA-256 and the row count of every table, for
`manage.py backup_verify`.

On the embedded default (`make run`, SQLite) the database is copied with SQLite's online backup, in one
step: the copy is one committed state of the file even while the demo's server writes, and the rows are
counted in the copy, so the manifest and the copy agree.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def table_counts() -> dict[str, int]:
    """Rows per table, in the current transaction's snapshot."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            # Table names come from the database's own catalogue, quoted: nothing user-supplied.
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def pg_environment() -> dict[str, str]:
    db = connection.settings_dict
    import os

    env = dict(os.environ)
    env.update(
        {
            "PGHOST": db["HOST"] or "127.0.0.1",
            "PGPORT": str(db["PORT"] or 5432),
            "PGUSER": db["USER"],
            "PGDATABASE": db["NAME"],
        }
    )
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return env


class Command(BaseCommand):
    help = "Back up the PostgreSQL database (pg_dump) and the waveform store into OUT_DIR, with a manifest."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path)

    def handle(self, *args, out: Path, **options):
        if connection.vendor not in ("postgresql", "sqlite"):
            raise CommandError(f"backup supports PostgreSQL and SQLite, not {connection.vendor}")
        storage = storages["waveforms"]
        if not hasattr(storage, "path"):
            raise CommandError(
                "the waveform store is not a local folder: back up its bucket with its own tools"
            )
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} is a file: name a new or empty folder")
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty")
        if connection.vendor == "postgresql" and shutil.which("pg_dump") is None:
            raise CommandError(
                "pg_dump was not found on the PATH: install PostgreSQL's client tools (Debian's "
                "postgresql-client), of the server's major version or newer"
            )
        out.mkdir(parents=True, exist_ok=True)
        # The dump holds password hashes and the patients' age, sex and acquisition dates.
        out.chmod(0o700)
        if connection.vendor == "sqlite":
            counts = _sqlite_copy(out / "database.sqlite3")
        else:
            counts = self._dump(out / "database.dump")
        # A local folder (checked above): a FileSystemStorage, whose location the Storage stub lacks.
        source = Path(storage.location)  # type: ignore[attr-defined]
        _copy_folder(source, out / "waveforms")
        releases = storages["releases"]
        if hasattr(releases, "path"):
            _copy_folder(Path(releases.location), out / "releases")  # type: ignore[attr-defined]
        files = {str(p.relative_to(out)): file_sha256(p) for p in sorted(out.rglob("*")) if p.is_file()}
        manifest = {
            "tables": counts,
            "files": files,
            "waveform_storage": str(source),
            "database": str(settings.DATABASES["default"]["NAME"]),
            "engine": connection.vendor,
        }
        (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        blobs = sum(1 for name in files if name.startswith("waveforms/"))
        released = sum(1 for name in files if name.startswith("releases/"))
        self.stdout.write(
            f"backed up {sum(counts.values())} rows in {len(counts)} tables, {blobs} waveform blobs and "
            f"{released} release files"
        )

    @staticmethod
    def _dump(path: Path) -> dict[str, int]:
        """pg_dump of the snapshot the rows are counted in (pg_export_snapshot, held open while it runs)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            counts = table_counts()
            done = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", f"--snapshot={snapshot}", "--file", str(path)],
                env=pg_environment(),
                check=False,
            )
            if done.returncode:
                raise CommandError(f"pg_dump failed (exit {done.returncode}); its message is above")
        return counts


def _sqlite_copy(path: Path) -> dict[str, int]:
    """The SQLite database copied by its online backup in one step (one read transaction over every page:
    a writer goes on in the write-ahead log and none of its uncommitted rows are copied), then the rows
    of each of the app's tables counted in the copy."""
    connection.ensure_connection()
    tables = sorted(connection.introspection.table_names())
    copy = sqlite3.connect(path)
    try:
        connection.connection.backup(copy)
        counts = {}
        for table in tables:
            # Table names come from the database's own catalogue, quoted: nothing user-supplied.
            query = f"SELECT count(*) FROM {connection.ops.quote_name(table)}"  # noqa: S608
            counts[table] = copy.execute(query).fetchone()[0]
    finally:
        copy.close()
    return counts


def _copy_folder(source: Path, target: Path) -> None:
    if source.exists():
        shutil.copytree(source, target)
    else:
        target.mkdir()
