"""Make a trained reward model the default for new mediations, if it beats the one serving.

    python manage.py promote_model ID [--force] [--json]

The gate (`deliberation.services.model_versions`): the version's held-out mean absolute error
must be lower than the serving model's on the same held-out questions, measured when it was
trained, and that model must still be the one serving. Otherwise the command refuses, says by
how much, and exits 1. `--force` promotes anyway; the audit log records it as forced, with the
figures. Mediations already run keep the model that scored them.
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from deliberation.models import ModelVersion
from deliberation.services.model_versions import PromotionRefused, reward_model_promote


class Command(BaseCommand):
    help = "Promote a trained reward model version if it beats the serving model (or --force)."

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, help="The ModelVersion id.")
        parser.add_argument(
            "--force", action="store_true", help="Promote even if it does not beat it (logged)."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args, **options):
        version = ModelVersion.objects.filter(pk=options["version"]).first()
        if version is None:
            raise CommandError(f"There is no model version {options['version']}.")
        try:
            check = reward_model_promote(version=version, force=options["force"])
        except PromotionRefused as exc:
            raise CommandError(exc.message + " Use --force to promote anyway.") from exc
        if options["json"]:
            self.stdout.write(json.dumps({**check, "promoted": version.pk}))
            return
        forced = " (forced)" if not check["passes"] else ""
        self.stdout.write(
            f"Promoted reward model version {version.pk}{forced}: {check['reason']}. "
            "New mediations use it."
        )
