"""manage.py agreement_report --batch ID --table classes|readers|pairs|pairs_by_class|reader_classes|exams
[--format csv|text]

Prints one stored agreement table exactly as the agreement page's CSV download gives it (the same
serialiser, selectors.agreement_tables.agreement_table): nothing is computed here.
"""

from __future__ import annotations

import csv

from django.core.management.base import BaseCommand, CommandError

from annotations.models import AgreementResult, ReviewBatch
from annotations.selectors.agreement.tables import TABLES, agreement_table


class Command(BaseCommand):
    help = "Print a batch's stored agreement table (as agreement.csv?table=... gives it)."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, required=True)
        parser.add_argument("--table", choices=TABLES, default="classes")
        parser.add_argument("--format", choices=("csv", "text"), default="text", dest="output")

    def handle(self, *args, batch, table, output, **options):
        if not ReviewBatch.objects.filter(pk=batch).exists():
            raise CommandError(f"no batch {batch}")
        result = AgreementResult.objects.filter(batch_id=batch).first()
        if result is None:
            raise CommandError(f"batch {batch} has no computed agreement yet (it is computed after reads)")
        header, rows = agreement_table(result, table)
        if output == "csv":
            writer = csv.writer(self.stdout, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
            return
        widths = [max(len(str(v)) for v in column) for column in zip(header, *rows, strict=True)]
        for line in (header, *rows):
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
