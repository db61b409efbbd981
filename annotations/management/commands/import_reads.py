"""manage.py import_reads --dataset D --batch NAME --taxonomy KEY --reader LABEL=FILE.csv ... [--user U]

Per-reader label files of another study as submitted first reads of external readers
(annotations.services.imports.reads): all files or nothing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.roles import Role, has_role
from annotations.services.imports.reads import ReaderFile, ReadsImportError, reads_import


def _coordinator(username: str):
    users = get_user_model().objects.filter(is_active=True)
    if username:
        user = users.filter(username=username).first()
        if user is None or not has_role(user, Role.COORDINATOR):
            raise CommandError(f"{username!r} is not an active coordinator")
        return user
    for user in users.filter(groups__name=Role.COORDINATOR).order_by("pk"):
        return user
    raise CommandError("no coordinator to record as the importer: name one with --user")


def _reader(value: str) -> ReaderFile:
    label, sep, path = value.partition("=")
    if not sep or not label or not path:
        raise CommandError(f"--reader {value!r}: expected LABEL=FILE.csv")
    return ReaderFile(label=label, path=Path(path))


class Command(BaseCommand):
    help = "Import per-reader CSV label files as submitted first reads of external readers."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Dataset whose exams the rows stand for.")
        parser.add_argument("--batch", required=True, help="Batch name: created, or added to when it exists.")
        parser.add_argument("--taxonomy", required=True, help="Taxonomy key; its codes are the columns.")
        parser.add_argument(
            "--reader",
            action="append",
            required=True,
            metavar="LABEL=FILE.csv",
            help="An external reader's name and label file (one column per class, 0/1); repeat per reader.",
        )
        parser.add_argument("--user", default="", help="Coordinator recorded as the importer.")
        parser.add_argument(
            "--pooled",
            action="append",
            default=[],
            metavar="LABEL",
            help="A --reader whose file pools several people (a residents' group); repeat per file.",
        )

    def handle(self, *args, dataset, batch, taxonomy, reader, user, pooled, **options):
        actor = _coordinator(user)
        files = [_reader(value) for value in reader]
        unknown = sorted(set(pooled) - {f.label for f in files})
        if unknown:
            raise CommandError(f"--pooled names no --reader: {', '.join(unknown)}")
        files = [replace(f, pooled=f.label in pooled) for f in files]
        try:
            report = reads_import(
                dataset=dataset,
                batch_name=batch,
                taxonomy_key=taxonomy,
                readers=files,
                actor=actor,
            )
        except ReadsImportError as error:
            raise CommandError(f"{error}; nothing was imported") from None
        verb = "created" if report.created_batch else "extended"
        self.stdout.write(
            f"batch {report.batch.pk} {report.batch.name!r} {verb}: {report.reads} reads by "
            f"{len(report.readers)} external readers ({', '.join(report.readers)}), {report.labels} marks"
        )
        for label in sorted(pooled):
            self.stdout.write(
                f"{label} pools several people in one file: it counts as one reader, and its agreement is "
                "a group's, not a person's (kept in the batch's design and the release card)"
            )
        if not pooled:
            self.stdout.write(
                "each file counts as one person; a file that pools several people (as CODE-test's resident "
                "groups do) is declared with --pooled LABEL"
            )
