"""manage.py import_exams PATH... : import ECG files on the server, with a progress bar and a summary.

Run by the operator on the server, so any path the operator names is accepted (uploads and the API are
confined to IMPORT_ROOT); names *inside* files and folders (WFDB signal files, PTB-XL filename columns)
must still stay inside their folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from annotations.lib.formats.registry import FORMATS
from annotations.services.imports.exams import exams_import, exams_plan
from annotations.services.imports.outcomes import (
    ImportOptions,
    ImportRefused,
    ImportReport,
    amplitude_scale_checked,
    unmapped_label_text,
)


class Command(BaseCommand):
    help = (
        "Import exams from HDF5 (CODE), WFDB/PTB-XL, HL7 aECG, DICOM, GE MUSE, Philips XML, SCP-ECG, EDF "
        "or CPSC-2018 files."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", help="Files or folders (folders are searched).")
        parser.add_argument("--format", choices=FORMATS, help="Skip content detection and use this reader.")
        parser.add_argument("--dataset", default="imported", help="Dataset name (created if new).")
        parser.add_argument(
            "--metadata", type=Path, help="exams.csv (CODE HDF5) or ptbxl_database.csv (PTB-XL folder)."
        )
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="Import the valid records of a multi-record file and report the others.",
        )
        parser.add_argument(
            "--amplitude-scale",
            type=_amplitude_scale,
            default=1.0,
            help="CODE HDF5 only: multiply stored values by this (the published CODE-15%% "
            "files are about 2x too large: 0.5 corrects them). Default 1 (as stored).",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(
        self,
        *args,
        paths,
        format=None,
        dataset="imported",
        metadata=None,
        skip_invalid=False,
        amplitude_scale=1.0,
        no_progress=False,
        **options,
    ):
        if metadata is not None and not metadata.is_file():
            # Checked here for every format: a DICOM import ignored it, an HDF5 one blamed the HDF5 file.
            raise CommandError(f"metadata file {metadata} not found")
        import_options = ImportOptions(
            format=format, metadata=metadata, skip_invalid=skip_invalid, amplitude_scale=amplitude_scale
        )
        try:
            plan = exams_plan(paths, import_options)
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        total = sum(max(count, 0) for _, _, count in plan)
        # The command's stderr stream; django-stubs types OutputWrapper._out as a write method.
        bar = tqdm(  # type: ignore[call-overload]
            total=total,
            unit="exam",
            disable=no_progress,
            file=self.stderr._out,
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} exams [{elapsed}<{remaining}, {rate_fmt}]",
        )
        try:
            report = exams_import(
                paths, dataset=dataset, options=import_options, plan=plan, progress=bar.update
            )
        except ImportRefused as error:
            raise CommandError(str(error)) from None
        finally:
            bar.close()
        self._problems(report)
        self._unmapped(report)
        self._summary(report)

    def _problems(self, report: ImportReport) -> None:
        for file in report.files:
            if not file.ok:
                self.stderr.write(self.style.ERROR(f"FAILED {file.error}"))
            for record in file.records:
                if record.outcome in {"error", "skipped", "duplicate"}:
                    self.stderr.write(
                        f"{record.outcome.upper()} {file.path} record {record.record}: {record.message}"
                    )
        for path, reason in report.ignored:
            self.stderr.write(f"IGNORED {path} {reason}")
        for file in report.files:
            if note := file.metadata_note():
                self.stdout.write(f"METADATA {file.metadata} {note}")

    def _unmapped(self, report: ImportReport) -> None:
        unmapped = report.unmapped_labels()
        if unmapped:
            listed = ", ".join(
                unmapped_label_text(system, code, count)
                for (system, code), count in sorted(unmapped.items(), key=lambda item: (-item[1], item[0]))
            )
            self.stdout.write(
                f"{len(unmapped)} reference label(s) map to no class of {report.taxonomy}: {listed}"
            )

    def _summary(self, report: ImportReport) -> None:
        """The counts line; a run that imported no file, or failed one, exits with an error."""
        summary = report.summary()
        line = (
            f"{summary['files']} file(s), {summary['files_failed']} failed, "
            f"{summary['files_ignored']} ignored; exams: "
            f"{summary['created']} created, {summary['unchanged']} unchanged, "
            f"{summary['skipped']} skipped, {summary['error']} invalid, {summary['duplicate']} duplicate(s)"
        )
        self.stdout.write(
            self.style.SUCCESS(line) if not summary["files_failed"] else self.style.WARNING(line)
        )
        if not summary["files"]:
            raise CommandError(
                f"nothing imported: none of the {summary['files_ignored']} file(s) found is an ECG record "
                "in a format ECG Review reads; see the IGNORED lines above"
            )
        if summary["files_failed"]:
            raise CommandError(f"{summary['files_failed']} file(s) were not imported; see the messages above")


def _amplitude_scale(text: str) -> float:
    try:
        return amplitude_scale_checked(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
