"""`manage.py backup_verify BACKUP_DIR`: after a restore, prove every row, blob and release file came back.

Compares the restored database's row counts with the manifest, every waveform blob the database
references with the file checksums of the backup (content addressing: a blob's name is its SHA-256, so
a changed byte is found too), and every file of every built release with the checksum its row keeps.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError

from annotations.management.commands.backup import file_sha256, table_counts
from annotations.models import Exam, Release
from annotations.selectors.releases.builds import release_file_key


class Command(BaseCommand):
    help = "Check the current database and waveform store against a backup's MANIFEST.json."

    def add_arguments(self, parser):
        parser.add_argument("backup", type=Path)

    def handle(self, *args, backup: Path, **options):
        manifest = _manifest(backup)
        problems = []
        counts = table_counts()
        for table, expected in manifest["tables"].items():
            if counts.get(table) != expected:
                problems.append(f"table {table}: {counts.get(table)} rows, backup had {expected}")
        storage = storages["waveforms"]
        # order_by(): the model's default ordering would join the DISTINCT, one row per exam of a blob.
        blobs = Exam.objects.order_by().values_list("waveform_key", "waveform_sha256").distinct()
        for key, sha in blobs:
            path = Path(storage.path(key))
            if not path.exists():
                problems.append(f"waveform {key} is missing")
            elif file_sha256(path) != manifest["files"].get(f"waveforms/{key}"):
                problems.append(f"waveform {key} differs from the backup")
            elif not key.endswith(f"{sha}.npy"):
                problems.append(f"waveform {key} does not carry its exam's checksum {sha}")
        released = _release_problems(problems)
        if problems:
            heading = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}:"
            raise CommandError("\n".join([heading, *(f"- {problem}" for problem in problems)]))
        self.stdout.write(
            f"verified {sum(counts.values())} rows, every waveform blob and {released} release files "
            f"against {backup}"
        )


def _release_problems(problems: list[str]) -> int:
    """Each built release's files against the checksums its row keeps; returns how many were checked."""
    storage = storages["releases"]
    if not hasattr(storage, "path"):
        return 0
    checked = 0
    for release in Release.objects.filter(status=Release.Status.DONE):
        for entry in release.files:
            if not entry.get("sha256"):
                continue
            path = Path(storage.path(release_file_key(release, entry["name"])))
            checked += 1
            if not path.exists():
                problems.append(f"release {release.pk}: {entry['name']} is missing")
            elif file_sha256(path) != entry["sha256"]:
                problems.append(f"release {release.pk}: {entry['name']} differs from its checksum")
    return checked


def _manifest(backup: Path) -> dict:
    try:
        manifest = json.loads((backup / "MANIFEST.json").read_text())
    except FileNotFoundError:
        raise CommandError(f"{backup} holds no MANIFEST.json: not a folder manage.py backup wrote") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CommandError(f"{backup}/MANIFEST.json is not a backup manifest (not JSON)") from None
    if not isinstance(manifest, dict) or not {"tables", "files"} <= manifest.keys():
        raise CommandError(f"{backup}/MANIFEST.json is not a backup manifest (no tables and files)")
    return manifest
