"""manage.py create_coordinator USERNAME: the first coordinator of a production install, opened on the
server's console (seed_demo refuses with DEBUG off, and the People page needs a coordinator)."""

from django.core.management.base import BaseCommand, CommandError

from annotations.roles import Role
from annotations.services.users import UserAdminError, user_create_from_console


class Command(BaseCommand):
    help = "Open a coordinator account with a one-time password, to be replaced at its first sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")

    def handle(self, *args, **options):
        try:
            user, password = user_create_from_console(
                username=options["username"],
                roles={Role.COORDINATOR},
                first_name=options["first_name"],
                last_name=options["last_name"],
            )
        except UserAdminError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"coordinator {user.get_username()} opened; one-time password: {password}")
        self.stdout.write("It is shown once, and must be replaced at the first sign-in.")
