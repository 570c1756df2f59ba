"""Grant a role (a permission) to an existing user, or take it away with --revoke."""

from django.core.management.base import BaseCommand, CommandError

from deliberation.errors import DomainError
from deliberation.services.moderators import ROLES, user_role_set


class Command(BaseCommand):
    help = (
        "Grant a role to a user: moderator (create and run deliberations), researcher (read and "
        "export deliberations shared with them), view_all (read and export every deliberation), "
        "export_identifiers (include panel identifiers in exports). --revoke takes it away."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=sorted(ROLES))
        parser.add_argument("--revoke", action="store_true")

    def handle(self, *args, username: str, role: str, revoke: bool, **options):
        try:
            user_role_set(username=username, role=role, granted=not revoke)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        verb = "Took" if revoke else "Granted"
        prep = "from" if revoke else "to"
        self.stdout.write(f"{verb} the {role} role {prep} {username!r}.")
