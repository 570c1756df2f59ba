"""Fine-tuning data for the generator: highly rated statements as chat-format JSON Lines.

    python manage.py export_sft --out PATH [--min-quality 5] [--deliberation PUBLIC_ID ...]
                                [--include-bots] [--json]

Exports the deliberations (all by default) as `tidy` tables, then writes one chat example per
mediator statement whose mean quality rating is above the threshold, with the generator's own
prompt templates (`inference.training.sft`). People's ratings only unless `--include-bots`.
Train on it with `inference/training/lora.py` (README, "Fine-tuning the generator").
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.tidy import load_tidy
from deliberation.errors import DomainError
from deliberation.exports import export_write
from deliberation.models import Deliberation
from inference.training.datasets import DatasetError
from inference.training.sft import DEFAULT_MIN_QUALITY, sft_records, write_sft_jsonl


class Command(BaseCommand):
    help = "Write chat-format JSONL of statements rated above a quality threshold (for SFT)."

    def add_arguments(self, parser):
        parser.add_argument("--out", required=True, help="The .jsonl file to write.")
        parser.add_argument(
            "--min-quality",
            type=float,
            default=DEFAULT_MIN_QUALITY,
            help="Keep statements whose mean quality is above this (default 5 of 7).",
        )
        parser.add_argument("--deliberation", action="append", default=[], metavar="PUBLIC_ID")
        parser.add_argument("--include-bots", action="store_true", help="Bots' ratings too.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        deliberations = None
        if options["deliberation"]:
            deliberations = []
            for public_id in options["deliberation"]:
                try:
                    key = uuid.UUID(public_id)
                except ValueError:
                    raise CommandError(
                        f"{public_id!r} is not a deliberation's public id."
                    ) from None
                found = Deliberation.objects.filter(public_id=key).first()
                if found is None:
                    raise CommandError(f"There is no deliberation {public_id}.")
                deliberations.append(found)
        population = "all" if options["include_bots"] else "people"
        with contextlib.redirect_stdout(sys.stderr), tempfile.TemporaryDirectory() as tmp:
            try:
                export_write(
                    schema="tidy",
                    fmt="parquet",
                    out=Path(tmp) / "export",
                    deliberations=deliberations,
                    include_bots=options["include_bots"],
                )
                tables = load_tidy(Path(tmp) / "export")
                count = write_sft_jsonl(
                    sft_records(tables, min_quality=options["min_quality"], population=population),
                    Path(options["out"]),
                )
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            except DatasetError as exc:
                raise CommandError(str(exc)) from exc
        result = {"out": str(Path(options["out"]).resolve()), "examples": count,
                  "min_quality": options["min_quality"], "population": population}  # fmt: skip
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(
                f"Wrote {count} example(s) with mean quality above {options['min_quality']} "
                f"({population}) to {result['out']}"
            )
