"""manage.py import_predictions --dataset D --provider NAME --version V [--classes A,B] [--threshold C=T] FILE

Scores made elsewhere (CSV or NPY) stored as one provider version (annotations.services.imports.predictions):
the whole file or nothing."""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.roles import Role, has_role
from annotations.services.imports.predictions import PredictionsImportError, predictions_import


def _threshold(value: str) -> tuple[str, float]:
    code, sep, number = value.partition("=")
    try:
        if not sep or not code:
            raise ValueError
        return code.strip(), float(number)
    except ValueError:
        raise CommandError(f"--threshold {value!r}: expected CODE=NUMBER") from None


def _actor(username: str):
    if not username:
        return None
    user = get_user_model().objects.filter(is_active=True, username=username).first()
    if user is None or not has_role(user, Role.COORDINATOR):
        raise CommandError(f"{username!r} is not an active coordinator")
    return user


class Command(BaseCommand):
    help = "Import scores computed elsewhere (CSV or NPY, by exam_id or by row) as a provider version."

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version names the provider version here; Django's own --version (its release) gives way.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (header of class codes, optional exam_id column) or NPY.")
        parser.add_argument("--dataset", required=True, help="Dataset whose exams the rows stand for.")
        parser.add_argument("--provider", required=True, help="Provider name the scores are stored under.")
        parser.add_argument("--version", required=True, help="Provider version (a new one per import).")
        parser.add_argument("--classes", default="", help="Comma-separated class codes of an NPY's columns.")
        parser.add_argument(
            "--threshold",
            action="append",
            default=[],
            metavar="CODE=VALUE",
            help="Score at which a class counts as suggested (default 0.5); repeat per class.",
        )
        parser.add_argument("--user", default="", help="Coordinator recorded as the importer.")

    def handle(self, *args, file, dataset, provider, version, classes, threshold, user, **options):
        try:
            report = predictions_import(
                dataset=dataset,
                provider=provider,
                version=version,
                path=Path(file),
                classes=[c for c in classes.split(",")] if classes else None,
                thresholds=dict(_threshold(value) for value in threshold),
                actor=_actor(user),
            )
        except PredictionsImportError as error:
            raise CommandError(f"{error}; nothing was imported") from None
        self.stdout.write(
            f"{report.provider} {report.version}: {report.exams} exams of {report.dataset!r}, "
            f"{report.scores} class scores ({', '.join(report.codes)}), file sha256 {report.sha256[:12]}"
        )
        for taxonomy_id, codes in report.unmapped.items():
            self.stdout.write(f"taxonomy {taxonomy_id} has no class for {', '.join(codes)}")
