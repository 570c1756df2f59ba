"""A simulated study shared by the export tests of one module: the issue's study, small
(two groups of three bots, two rounds of two iterations, conditions best_opinion and baseline),
created once per module through `manage.py simulate` and flushed at the end."""

import io
import json

import pytest
from django.core.management import call_command
from django.test import override_settings

from deliberation.models import Deliberation

STUDY = [
    "--groups", "2", "--size", "3", "--rounds", "2", "--iterations", "2",
    "--conditions", "best_opinion,baseline", "--json", "--seed", "3",
]  # fmt: skip


@pytest.fixture(scope="module", name="study")
def simulated_study(django_db_setup, django_db_blocker):
    """The simulated deliberation (committed, visible to every test of the module)."""
    from config import celery_app

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    with django_db_blocker.unblock():
        try:
            with override_settings(
                INFERENCE_ENV={"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"}
            ):
                out = io.StringIO()
                call_command("simulate", *STUDY, stdout=out)
            report = json.loads(out.getvalue())
            yield Deliberation.objects.get(public_id=report["deliberation"])
        finally:
            celery_app.conf.task_always_eager = eager
            call_command("flush", interactive=False, verbosity=0)
