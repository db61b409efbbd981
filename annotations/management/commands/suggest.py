"""manage.py suggest EXAM_ID [--provider NAME] [--json]: one exam's suggestions, for operators and checks.

Shows the stored rows; a configured provider with no row for the exam's current version is run first
(and its result stored, exactly as the worker would)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from annotations.lib.providers.base import ProviderConfigError
from annotations.models import Exam
from annotations.selectors.suggestions.summary import exam_suggestions, suggestion_summary
from annotations.services.suggestions import suggestion_compute, suggestion_providers


class Command(BaseCommand):
    help = (
        "Print a provider's scores, statements above threshold, why a rule scored them and measurements "
        "for one exam."
    )

    def add_arguments(self, parser):
        parser.add_argument("exam_id", type=int, help="Exam id (database id).")
        parser.add_argument("--provider", default="", help="Only this provider (default: every one).")
        parser.add_argument("--json", action="store_true", help="Print JSON instead of text.")

    def handle(self, *args, exam_id, provider, json: bool = False, **options):
        if not Exam.objects.filter(pk=exam_id).exists():
            raise CommandError(f"no exam {exam_id}")
        try:
            configured = suggestion_providers()
        except ProviderConfigError as error:
            raise CommandError(f"provider configuration: {error}") from None
        for name, instance in configured.items():
            if not provider or provider == name:
                suggestion_compute(exam_id, instance, retry_failed=False)
        rows = exam_suggestions(exam_id, provider or None)
        if not rows:
            raise CommandError(
                f"exam {exam_id} has no suggestion"
                + (f" from provider {provider!r}" if provider else "")
                + f"; configured providers: {', '.join(configured) or 'none'}"
            )
        summaries = [suggestion_summary(row) for row in rows]
        if json:
            self.stdout.write(_dumps(summaries[0] if provider else summaries))
            return
        for summary in summaries:
            self._text(summary)

    def _text(self, summary: dict) -> None:
        write = self.stdout.write
        write(f"{summary['provider']} {summary['version']} ({summary['status']}) exam {summary['exam']}")
        if summary["error"]:
            write(f"  error: {summary['error']}")
        for code, score in sorted(summary["scores"].items(), key=lambda item: -item[1]):
            mark = "*" if code in summary["suggested"] else " "
            write(f"  {mark} {code:<10} {score:.3f}  (threshold {summary['thresholds'].get(code, 0.5):g})")
            reason = summary["rationale"].get(code)
            if reason:
                write(f"      criterion: {reason['criterion']} ({reason['source']})")
                write(f"      finding: {reason['finding']}")
        for key, value in summary["measurements"].items():
            write(f"  {key}: {value}")


def _dumps(value) -> str:
    return json.dumps(value, indent=2, sort_keys=False)
