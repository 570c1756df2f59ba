"""The statistics of one deliberation (`analysis.report`): a readable summary, or one JSON object.

    python manage.py report --deliberation PUBLIC_ID [--json] [--resamples N] [--seed S]
                            [--include-bots] [--export PATH]

On the database it writes the deliberation's tidy export to a temporary folder (Parquet) and
reads it back, as a notebook would; with `--export PATH` it reads a downloaded tidy export (a
folder or .zip) instead, and `--deliberation` picks the deliberation when the export holds
several. The JSON's shape is documented in the README ("Results and statistics") and in
`analysis/report.py`. People only unless `--include-bots`.
"""

from __future__ import annotations

import json
import uuid

from django.core.management.base import BaseCommand, CommandError

from analysis.report import report, report_text
from analysis.tidy import load_tidy
from deliberation.errors import DomainError
from deliberation.models import Deliberation
from deliberation.services.reports import RESAMPLES, SEED, report_compute

RESAMPLES_MAX = 100_000


class Command(BaseCommand):
    help = "Win rates, exclusion effect, positions, critique uptake and calibration of a study."

    def add_arguments(self, parser):
        parser.add_argument("--deliberation", metavar="PUBLIC_ID", help="The deliberation.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")
        parser.add_argument(
            "--resamples",
            type=int,
            default=RESAMPLES,
            help=f"Bootstrap resamples for the intervals (default {RESAMPLES}).",
        )
        parser.add_argument(
            "--seed", type=int, default=SEED, help=f"Bootstrap seed (default {SEED})."
        )
        parser.add_argument(
            "--include-bots",
            action="store_true",
            help="Count bot participants in the figures too (they are left out by default).",
        )
        parser.add_argument(
            "--export",
            metavar="PATH",
            help="Read a downloaded tidy export (folder or .zip) instead of the database.",
        )

    def handle(self, *args, **options):
        resamples = options["resamples"]
        if not 1 <= resamples <= RESAMPLES_MAX:
            raise CommandError(f"--resamples must be from 1 to {RESAMPLES_MAX}.")
        public_id = options["deliberation"]
        if public_id is not None:
            try:
                public_id = str(uuid.UUID(public_id))
            except ValueError:
                raise CommandError(f"{public_id!r} is not a deliberation id (a UUID).") from None
        common = {
            "resamples": resamples,
            "seed": options["seed"],
            "include_bots": options["include_bots"],
        }
        if options["export"]:
            try:
                tables = load_tidy(options["export"])
                result = report(tables, deliberation=public_id, **common)
            except (OSError, ValueError, KeyError) as exc:
                raise CommandError(f"Cannot report on {options['export']}: {exc}") from exc
        else:
            if public_id is None:
                raise CommandError("Name the deliberation: --deliberation PUBLIC_ID.")
            deliberation = Deliberation.objects.filter(public_id=public_id).first()
            if deliberation is None:
                raise CommandError(f"There is no deliberation {public_id}.")
            try:
                result = report_compute(deliberation=deliberation, **common)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(report_text(result))
