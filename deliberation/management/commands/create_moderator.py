"""Create a moderator account, or give an existing user the moderate permission and a password."""

import getpass
import os
import sys

from django.core.management.base import BaseCommand, CommandError

from deliberation.errors import DomainError
from deliberation.services.moderators import moderator_ensure

PASSWORD_ENV = "MODERATOR_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a moderator (or update one): sets the password and grants "
        "deliberation.moderate. The password comes from --password, else the "
        f"{PASSWORD_ENV} environment variable, else an interactive prompt."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help=f"Prefer {PASSWORD_ENV}: argv is visible to others.")

    def handle(self, *args, username: str, password: str | None, **options):
        password = password or os.environ.get(PASSWORD_ENV)
        if not password:
            if not sys.stdin.isatty():
                raise CommandError(f"Give a password with --password or {PASSWORD_ENV}.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            _user, created = moderator_ensure(username=username, password=password)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} moderator {username!r} with the moderate permission.")
