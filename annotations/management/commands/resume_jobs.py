"""manage.py resume_jobs: on the embedded default, finish the imports and releases the last web process
left queued or running, before a new one serves (`make run` runs it first)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from annotations.services.jobs.sweeps import jobs_resume
from annotations.services.webhooks.deliveries import webhooks_resume
from ecgreview.inprocess import background


class Command(BaseCommand):
    help = "Finish the imports, releases and benchmarks a stopped web process left unfinished (embedded)."

    def handle(self, *args, **options):
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("a broker is configured: its workers and the jobs sweep finish unfinished jobs")
            return
        resumed = jobs_resume()
        sent = webhooks_resume()
        if sent:
            self.stdout.write(f"{sent} webhook deliveries tried")
        if not resumed:
            self.stdout.write("nothing to resume")
            return
        for kind, pk in resumed:
            self.stdout.write(f"{kind} #{pk} resumed")
        background.drain()  # here, before the web process starts: the jobs' pages then show them done
        self.stdout.write(self.style.SUCCESS(f"{len(resumed)} job(s) finished"))
