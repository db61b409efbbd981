"""manage.py export_labels --batch ID [--batch ID] --out DIR: write a release's files synchronously.

The same writer as the release task (annotations.services.releases.export.export_write), so the files are
byte-identical to a release of the same state and options, except for the card's release date: here
it is --date, or by default the time of the latest read or adjudication the export contains, so running
the command twice on the same state gives the same bytes. Records an audit event of what was written.
"""

from __future__ import annotations

import getpass
from datetime import datetime
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from annotations.lib.release_files.files import utc_iso
from annotations.roles import Role, has_role
from annotations.selectors.releases.facts import export_data_as_of
from annotations.selectors.releases.plan import ExportRefused, export_plan
from annotations.services.agreement.compute import agreement_catch_up
from annotations.services.audit import audit_record
from annotations.services.releases.export import (
    AgreementBehind,
    ExportResult,
    export_write,
    export_write_current,
)
from annotations.services.releases.layout import ExportOptions


class Command(BaseCommand):
    help = "Export consensus labels, reads, tracings and a dataset card for one or more batches."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch", type=int, action="append", required=True, help="Batch id (repeatable)."
        )
        parser.add_argument("--out", type=Path, required=True, help="Folder to write into (created).")
        parser.add_argument(
            "--map", dest="target", choices=["code15", "ptbxl-scp"], default="", help="Map the columns."
        )
        parser.add_argument("--native-rate", action="store_true", help="Tracings at the recorded rate.")
        parser.add_argument("--no-hdf5", action="store_true", help="No tracings file.")
        parser.add_argument("--date", default="", help="Release date for the card (default: data as of).")
        parser.add_argument("--user", default="", help="Coordinator to record as the exporter.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, batch, out, target, native_rate, no_hdf5, date, user, no_progress, **options):
        _check_out(out)
        _check_date(date)
        actor = self._actor(user)
        try:
            plan = export_plan(batch, target=target)
        except ExportRefused as error:
            raise CommandError(str(error)) from None
        export_options = ExportOptions(hdf5=not no_hdf5, native_rate=native_rate)
        result = self._write(plan, out, export_options, date, no_progress)
        with transaction.atomic():
            audit_record(
                actor=actor,
                actor_username=f"manage.py export_labels ({getpass.getuser()})",
                action="export.command",
                after={
                    "batches": plan.batch_ids,
                    "target": plan.target,
                    "options": export_options.as_dict(),
                    "out": str(out),
                    "exams": result.card["counts"]["exams"],
                    "files": {f["name"]: f["sha256"] for f in result.files},
                },
            )
        for entry in result.files:
            self.stdout.write(f"{entry['sha256']}  {entry['name']}  ({entry['bytes']} bytes)")
        self.stdout.write(self.style.SUCCESS(f"{result.card['counts']['exams']} exams written to {out}"))

    def _actor(self, user: str):
        if not user:
            return None
        actor = get_user_model().objects.filter(username=user).first()
        if actor is None or not has_role(actor, Role.COORDINATOR):
            raise CommandError(f"{user!r} is not a coordinator")
        return actor

    def _catch_up(self, batch_ids: list[int]) -> list[int]:
        recomputed = agreement_catch_up(batch_ids)
        for batch_id in recomputed:
            self.stderr.write(f"batch {batch_id}: agreement and consensus recomputed from its latest reads")
        return recomputed

    def _write(
        self, plan, out: Path, export_options: ExportOptions, date: str, no_progress: bool
    ) -> ExportResult:
        """The files, from consensus brought up to date with every read they export (export_write_current)."""
        with tqdm(total=0, unit="exam", disable=no_progress, file=self.stderr) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            def attempt() -> ExportResult:
                return export_write(
                    plan,
                    out,
                    export_options,
                    title=f"ECG Review export of batch {', '.join(str(pk) for pk in plan.batch_ids)}",
                    release_date=date or utc_iso(export_data_as_of(plan.batch_ids)),
                    progress=progress,
                    current_consensus=True,
                )

            try:
                return export_write_current(plan.batch_ids, attempt, self._catch_up)
            except (ExportRefused, AgreementBehind) as error:
                raise CommandError(str(error)) from None


def _check_out(out: Path) -> None:
    """A new or empty folder: files written beside others (a backup, an earlier export) would mix."""
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out} is a file: name a new or empty folder")
    if out.exists() and any(out.iterdir()):
        raise CommandError(f"{out} is not empty: export into a new or empty folder")


def _check_date(date: str) -> None:
    """The card's release date is read by people and programs: an ISO 8601 date or date and time."""
    if not date:
        return
    try:
        datetime.fromisoformat(date)
    except ValueError:
        raise CommandError(f"--date {date!r}: an ISO 8601 date such as 2026-11-26") from None
