"""`manage.py export`: a study's data as files for researchers (see README, "Research data")."""

import sys
import uuid
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from deliberation.access import export_identifiers_allowed
from deliberation.errors import DomainError
from deliberation.exports import FORMATS, SCHEMAS, export_write
from deliberation.models import Deliberation


class Command(BaseCommand):
    help = (
        "Export deliberation data: --schema hm (one row per participant per iteration, the "
        "Habermas Machine's columns) or tidy (documented tables with datapackage.json)."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def error(message: str):
            # One clear line and exit status 1, as for every other refusal of this command.
            if not self._called_from_command_line:
                raise CommandError(f"Error: {message}")
            sys.stderr.write(f"CommandError: {message}\n")
            sys.exit(1)

        parser.error = error
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--schema", required=True, choices=SCHEMAS)
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument(
            "--out",
            required=True,
            help="hm: a file; tidy: a new folder, or a .zip file when it ends in .zip.",
        )
        parser.add_argument(
            "--deliberation",
            action="append",
            default=[],
            metavar="PUBLIC_ID",
            help="Export only this deliberation (repeat for more). Default: all.",
        )
        parser.add_argument("--include-bots", action="store_true", help="Include bot members.")
        parser.add_argument(
            "--include-identifiers",
            action="store_true",
            help="Include panel identifiers (needs --user with the export_identifiers permission).",
        )
        parser.add_argument("--user", help="The user the export is made for (audit log).")

    def handle(self, *args, **options):
        actor = self._user(options["user"], options["include_identifiers"])
        deliberations = self._deliberations(options["deliberation"])
        bars: list[tqdm] = []  # opened at the first progress: a refusal prints one line only

        def progress(done: int, total: int) -> None:
            if not bars:
                bars.append(tqdm(total=total, unit="rows", file=sys.stderr, desc="export"))
            bars[0].total = total
            bars[0].update(done - bars[0].n)

        try:
            result = export_write(
                schema=options["schema"],
                fmt=options["fmt"],
                out=Path(options["out"]),
                deliberations=deliberations,
                include_bots=options["include_bots"],
                include_identifiers=options["include_identifiers"],
                actor=actor,
                progress=progress,
            )
        except DomainError as error:
            raise CommandError(error.message) from None
        finally:
            for bar in bars:
                bar.close()
        tables = ", ".join(f"{name} {rows}" for name, rows in result.rows.items())
        self.stdout.write(f"Wrote {result.path} ({result.bytes} bytes): {tables}")

    def _user(self, name: str | None, identifiers: bool):
        if name is None:
            if identifiers:
                raise CommandError("--include-identifiers needs --user NAME.")
            return None
        user = get_user_model().objects.filter(username=name).first()
        if user is None:
            raise CommandError(f"No user {name!r}.")
        if identifiers and not export_identifiers_allowed(user):
            raise CommandError(f"{name} may not export panel identifiers.")
        return user

    def _deliberations(self, public_ids: list[str]) -> list[Deliberation] | None:
        if not public_ids:
            return None
        found = []
        for public_id in public_ids:
            try:
                deliberation = Deliberation.objects.filter(public_id=uuid.UUID(public_id)).first()
            except ValueError:  # not a UUID
                deliberation = None
            if deliberation is None:
                raise CommandError(f"No deliberation {public_id!r}.")
            found.append(deliberation)
        return found
