"""Train a reward model on collected ratings, evaluate it on held-out questions, register it.

    python manage.py train_reward_model --kind head|cross-encoder --out DIR
        [--export PATH | --deliberation PUBLIC_ID ...] [--epochs N] [--include-bots]
        [--seed S] [--heldout-fraction F] [--max-length T] [--json]

Reads a `tidy` export (`--export`, a folder or .zip), or exports the deliberations named (all
when neither is given) to a temporary folder first. Trains on the train questions
(`inference.training`: split by question), evaluates the prior, the model now serving (the
promoted version, or the server's configured reward model) and the new model on the held-out
questions, writes DIR (weights or head, metrics.json, provenance.json, reward_config.json) and
records a `ModelVersion` (status `trained`) with the metrics. It does not promote: see
`promote_model`.

People's ratings only, unless `--include-bots` (then bots' and people's, pooled and counted
apart in the provenance). Prints a table, or with `--json` one object:
{"model_version", "dir", "examples": {"train", "heldout"},
 "heldout": {"prior": {"mae", "spearman", "pairwise_accuracy"}, "serving": {...},
             "trained": {...}}}. Bad input exits 1 with the reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import tempfile
import uuid
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from analysis.tidy import load_tidy
from deliberation.errors import DomainError
from deliberation.exports import export_write
from deliberation.mediator import resolved_config
from deliberation.models import Deliberation
from deliberation.services.model_versions import reward_model_register
from inference.base import InferenceError
from inference.training.datasets import DatasetError, tables_digest
from inference.training.evaluate import comparison_table, headline
from inference.training.reward import KINDS, train_reward_model

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Train a reward model (embedding head or MiniLM cross-encoder) on a tidy export, "
        "evaluate it on held-out questions beside the prior and the serving model, register it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, help=f"One of: {', '.join(KINDS)}.")
        parser.add_argument("--out", required=True, help="The model directory to write.")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--export", help="A tidy export (folder or .zip) to train from.")
        source.add_argument(
            "--deliberation",
            action="append",
            default=[],
            metavar="PUBLIC_ID",
            help="Export these deliberations and train on them (repeatable). Default: all.",
        )
        parser.add_argument("--epochs", type=int, default=1, help="Cross-encoder epochs (1).")
        parser.add_argument(
            "--include-bots",
            action="store_true",
            help="Train on bots' ratings too (pooled with people's; counted apart).",
        )
        parser.add_argument("--seed", type=int, default=0, help="Seed of split and training.")
        parser.add_argument(
            "--heldout-fraction",
            type=float,
            default=0.25,
            help="Share of questions without a bank split held out (0.25).",
        )
        parser.add_argument(
            "--max-length", type=int, default=160, help="Cross-encoder tokens per example."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        kind = options["kind"]
        if kind not in KINDS:
            raise CommandError(f"Unknown --kind {kind!r}; choose one of: {', '.join(KINDS)}.")
        if options["epochs"] < 1:
            raise CommandError("--epochs must be at least 1.")
        out = Path(options["out"]).resolve()
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} exists and is not empty; give a new directory.")
        population = "all" if options["include_bots"] else "people"
        with contextlib.redirect_stdout(sys.stderr), tempfile.TemporaryDirectory() as tmp:
            tables = self._tables(options, Path(tmp))
            config, serving = resolved_config([])
            serving_label = f"version {serving.pk}" if serving else "server default"
            logger.info("training %s on %s ratings; serving: %s", kind, population, serving_label)
            try:
                trained = train_reward_model(
                    tables,
                    kind=kind,
                    out=out,
                    export_digest=tables_digest(tables),
                    population=population,
                    seed=options["seed"],
                    epochs=options["epochs"],
                    heldout_fraction=options["heldout_fraction"],
                    serving=config.reward,
                    serving_label=serving_label,
                    cross_encoder_options={"max_length": options["max_length"]},
                    progress=not options["json"] or sys.stderr.isatty(),
                )
            except (DatasetError, InferenceError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
            metrics = {**trained.metrics, "serving_version_id": serving.pk if serving else None}
            version = reward_model_register(
                kind=kind,
                directory=trained.directory,
                config=trained.config,
                description=trained.description,
                metrics=metrics,
                provenance=trained.provenance,
            )
        heldout = trained.metrics["heldout"]
        result = {
            "model_version": version.pk,
            "dir": str(trained.directory),
            "examples": trained.metrics["examples"],
            "heldout": {
                name: (headline(m) if m is not None else None) for name, m in heldout.items()
            },
        }
        if options["json"]:
            self.stdout.write(json.dumps(result))
            return
        counts = trained.dataset.counts
        self.stdout.write(
            f"Trained {kind} -> {trained.directory} (ModelVersion {version.pk}, not promoted)\n"
            f"Ratings: {counts['ratings']['train']} train / {counts['ratings']['heldout']} "
            f"held out, on {counts['questions']['train']} / {counts['questions']['heldout']} "
            f"questions ({population})\n"
            f"Held-out figures (serving = {serving_label}):\n"
            + comparison_table(
                {
                    "prior": heldout["prior"],
                    "serving": heldout["serving"],
                    "trained": heldout["trained"],
                }
            )
            + f"\nPromote with: python manage.py promote_model {version.pk}"
        )

    def _tables(self, options, tmp: Path):
        if options["export"]:
            try:
                return load_tidy(options["export"])
            except (FileNotFoundError, KeyError, ValueError) as exc:
                raise CommandError(f"Cannot read the export {options['export']}: {exc}") from exc
        deliberations = None
        if options["deliberation"]:
            deliberations = []
            for public_id in options["deliberation"]:
                found = Deliberation.objects.filter(public_id=_uuid(public_id)).first()
                if found is None:
                    raise CommandError(f"There is no deliberation {public_id}.")
                deliberations.append(found)
        try:
            export_write(
                schema="tidy",
                fmt="parquet",
                out=tmp / "export",
                deliberations=deliberations,
                include_bots=options["include_bots"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        return load_tidy(tmp / "export")


def _uuid(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a deliberation's public id.") from None
