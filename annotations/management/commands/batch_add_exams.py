"""Add exams to a running batch by the designer's criteria (as create_batch takes them)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotations.errors import Forbidden, NotFound
from annotations.management.criteria import add_criteria_arguments, criteria_options
from annotations.selectors.batches.access import batch_for_coordinator
from annotations.selectors.batches.spec import exam_criteria
from annotations.selectors.batches.wording import poor_left_out_text
from annotations.services.batches.lifecycle import BatchDesignError
from annotations.services.batches.queues import batch_add_matching_exams


class Command(BaseCommand):
    help = "Add the exams matching criteria that a running batch lacks; they join the end of the queues."

    def add_arguments(self, parser):
        parser.add_argument("batch", type=int, help="The batch's id.")
        parser.add_argument("--coordinator", required=True, help="Username of the coordinator adding them.")
        add_criteria_arguments(parser)
        parser.add_argument("--sample", type=int, help="Random sample of N of the matching exams (seeded).")
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args, **o):
        coordinator = get_user_model().objects.filter(username=o["coordinator"]).first()
        if coordinator is None:
            raise CommandError(f"no user {o['coordinator']!r}")
        if o["sample"] is not None and o["sample"] < 1:
            raise CommandError("--sample must be at least 1")
        criteria = exam_criteria(criteria_options(o))
        try:
            batch = batch_for_coordinator(coordinator, o["batch"])
            outcome = batch_add_matching_exams(
                batch=batch, criteria=criteria, actor=coordinator, sample_size=o["sample"], seed=o["seed"]
            )
        except Forbidden as error:
            raise CommandError(f"{o['coordinator']} is not a coordinator") from error
        except NotFound as error:
            raise CommandError(f"no batch {o['batch']}") from error
        except BatchDesignError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{outcome.added} exams added to batch {batch.pk} ({batch.name}).")
        if outcome.copies_left_out:
            self.stdout.write(
                f"{outcome.copies_left_out} matching exam{'s' if outcome.copies_left_out > 1 else ''} left "
                "out: the same waveform as an exam the batch holds or takes (copies, linked at import)."
            )
        if outcome.poor_left_out.exams:
            poor = outcome.poor_left_out
            self.stdout.write(poor_left_out_text(poor.exams, poor.flags))
