"""Work handed to the Celery workers, always after the current transaction commits.

The services below `deliberation.tasks` name the tasks they enqueue rather than importing the
module that defines them (which imports the services). Every process registers the tasks at start
(`DeliberationConfig.ready`), so the lookup by name finds them, and the embedded default's eager
mode still runs them in-process.
"""

from celery import current_app
from django.db import transaction

from deliberation.models import Group, Provenance

MEDIATE_ITERATION = "deliberation.tasks.mediate_iteration"
BOTS_ACT = "deliberation.tasks.bots_act"
RUN_EXPORT_JOB = "deliberation.tasks.run_export_job"


def task_enqueue_on_commit(*, name: str, args: tuple = ()) -> None:
    """Run the task `name` with `args` once the current transaction commits (at once when there
    is none); nothing is enqueued for work that is rolled back."""
    # robust: a broker that is down must not turn a stored answer into an error page (the
    # failure is logged; the recovery sweep sends waiting work again once the broker is back).
    transaction.on_commit(lambda: current_app.tasks[name].delay(*args), robust=True)


def mediation_enqueue(*, iteration_id: int) -> None:
    task_enqueue_on_commit(name=MEDIATE_ITERATION, args=(iteration_id,))


def bots_enqueue(*, group: Group) -> None:
    """Let the group's bots act, if it has any."""
    if group.members.filter(provenance=Provenance.BOT_CITIZEN).exists():
        task_enqueue_on_commit(name=BOTS_ACT, args=(group.pk,))


def export_job_enqueue(*, job_id: int) -> None:
    task_enqueue_on_commit(name=RUN_EXPORT_JOB, args=(job_id,))
