from django.core.management.base import BaseCommand, CommandError

from annotations.services.exams.quality import exams_quality_backfill


class Command(BaseCommand):
    help = (
        "Compute the signal-quality report of exams: --missing for those imported before reports "
        "existed (or whose report failed), --all to recompute every exam."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--missing", action="store_true", help="Only exams without a report.")
        which.add_argument("--all", action="store_true", help="Every exam, replacing stored reports.")
        parser.add_argument("--limit", type=int, help="At most this many exams.")

    def handle(self, *args, **options):
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be a positive number")
        outcome = exams_quality_backfill(missing_only=options["missing"], limit=options["limit"])
        self.stdout.write(f"{outcome['computed']} report(s) computed, {outcome['failed']} failed")
        if outcome["failed"]:
            raise CommandError(f"{outcome['failed']} exam(s) have no report; the log says why")
