"""`manage.py backup OUT_DIR`: a consistent copy of the database and the waveform store.

The database goes through pg_dump's custom format (restorable with pg_restore into an empty
database); waveform blobs are copied as files (they are content-addressed and never change, so a
copy taken after the dump holds every blob the dump references). MANIFEST.json lists every file
with its SHA-256 and the row count of every table, for `manage.py backup_verify`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError
from django.db import connection


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def table_counts() -> dict[str, int]:
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
        if connection.vendor != "postgresql":
            raise CommandError("backup supports PostgreSQL; for the SQLite demo copy the var/ folder instead")
        storage = storages["waveforms"]
        if not hasattr(storage, "path"):
            raise CommandError(
                "the waveform store is not a local folder: back up its bucket with its own tools"
            )
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty")
        out.mkdir(parents=True, exist_ok=True)
        counts = table_counts()
        dump = out / "database.dump"
        subprocess.run(
            ["pg_dump", "--format=custom", "--no-owner", "--file", str(dump)],
            env=pg_environment(),
            check=True,
        )
        source = Path(storage.location)
        target = out / "waveforms"
        if source.exists():
            shutil.copytree(source, target)
        else:
            target.mkdir()
        files = {str(p.relative_to(out)): file_sha256(p) for p in sorted(out.rglob("*")) if p.is_file()}
        manifest = {
            "tables": counts,
            "files": files,
            "waveform_storage": str(source),
            "database": settings.DATABASES["default"]["NAME"],
        }
        (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        blobs = sum(1 for name in files if name.startswith("waveforms/"))
        self.stdout.write(
            f"backed up {sum(counts.values())} rows in {len(counts)} tables and {blobs} waveform blobs"
        )
