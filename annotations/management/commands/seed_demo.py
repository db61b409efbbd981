from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from annotations.services.demo import demo_seed
from ecgreview.inprocess import background


class Command(BaseCommand):
    help = "Create demo users (one per role), the shipped taxonomies, demo exams and a demo batch, once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even with DEBUG off (the demo passwords are public: never on a real server).",
        )

    def handle(self, *args, allow_without_debug=False, **options):
        if not settings.DEBUG and not allow_without_debug:
            raise CommandError("refusing to create demo users with public passwords while DEBUG is off")
        users = demo_seed()
        # The demo batch's suggestions and the exams' quality reports, which the embedded default computes
        # on the web process's background thread: here, while the interpreter runs, and not in its exit
        # hook, where importing the providers' libraries (neurokit2, scikit-learn) fails.
        background.drain()
        if users is None:
            self.stdout.write("Demo data already present; nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS("Demo data created. Log in as:"))
        for user in users:
            roles = ", ".join(sorted(role.value for role in user.roles))
            self.stdout.write(f"  {user.username:<8} password {user.password:<20} ({roles})")
