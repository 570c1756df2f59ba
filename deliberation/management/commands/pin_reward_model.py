"""Pin a registered reward model version to a deliberation or to one of its conditions.

    python manage.py pin_reward_model PUBLIC_ID VERSION_ID [--condition NAME]
    python manage.py pin_reward_model PUBLIC_ID --unpin [--condition NAME]

Sets `"reward_model_version": VERSION_ID` in the deliberation's (or the condition's)
`mediation_config`: mediations not yet run are scored by that version whatever is promoted
(`deliberation.services.model_versions`). Audit-logged.
"""

from __future__ import annotations

import uuid

from django.core.management.base import BaseCommand, CommandError

from deliberation.errors import DomainError
from deliberation.models import Deliberation
from deliberation.selectors.model_versions import reward_version_get
from deliberation.services.model_versions import reward_model_pin


class Command(BaseCommand):
    help = "Pin (or --unpin) a trained reward model version for a deliberation or a condition."

    def add_arguments(self, parser):
        parser.add_argument("deliberation", help="The deliberation's public id.")
        parser.add_argument("version", type=int, nargs="?", help="The ModelVersion id.")
        parser.add_argument("--condition", help="Pin for this condition only (its name).")
        parser.add_argument("--unpin", action="store_true", help="Remove the pin.")

    def handle(self, *args, **options):
        try:
            key = uuid.UUID(options["deliberation"])
        except ValueError:
            raise CommandError(f"{options['deliberation']!r} is not a public id.") from None
        deliberation = Deliberation.objects.filter(public_id=key).first()
        if deliberation is None:
            raise CommandError(f"There is no deliberation {options['deliberation']}.")
        condition = None
        if options["condition"]:
            condition = deliberation.conditions.filter(name=options["condition"]).first()
            if condition is None:
                raise CommandError(f"The deliberation has no condition {options['condition']!r}.")
        if options["unpin"] == (options["version"] is not None):
            raise CommandError("Give a version id to pin, or --unpin (not both).")
        try:
            version = None if options["unpin"] else reward_version_get(options["version"])
            reward_model_pin(deliberation=deliberation, version=version, condition=condition)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        where = f"Condition {condition.name!r}" if condition else "The deliberation"
        what = "unpinned" if version is None else f"pinned to reward model version {version.pk}"
        self.stdout.write(f"{where} {what}; mediations not yet run follow it.")
