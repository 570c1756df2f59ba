"""Work handed to the Celery workers, always after the current transaction commits.

The services below `deliberation.tasks` name the tasks they enqueue rather than importing the
module that defines them (which imports the services). Every process registers the tasks at start
(`DeliberationConfig.ready`), so the lookup by name finds them, and the embedded default's eager
mode still runs them in-process: in a background thread after the response
(`EAGER_TASKS_IN_BACKGROUND`, on when no broker is configured), or inline where a test follows a
whole chain.
"""

import contextlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from functools import cache

from celery import current_app
from django.conf import settings
from django.db import connections, transaction

from deliberation.models import Group, Provenance

MEDIATE_ITERATION = "deliberation.tasks.mediate_iteration"
BOTS_ACT = "deliberation.tasks.bots_act"
RUN_EXPORT_JOB = "deliberation.tasks.run_export_job"


# The queue of `tasks_run_here`, while one is open in this context.
_here: ContextVar[deque | None] = ContextVar("tasks_run_here", default=None)


def task_enqueue_on_commit(*, name: str, args: tuple = ()) -> None:
    """Run the task `name` with `args` once the current transaction commits (at once when there
    is none); nothing is enqueued for work that is rolled back."""
    # robust: a broker that is down must not turn a stored answer into an error page (the
    # failure is logged; the recovery sweep sends waiting work again once the broker is back).
    transaction.on_commit(lambda: _send(name, args), robust=True)


def _send(name: str, args: tuple) -> None:
    queue = _here.get()
    if queue is None:
        if current_app.conf.task_always_eager and settings.EAGER_TASKS_IN_BACKGROUND:
            # The embedded default has no broker: the task runs in this process, but after the
            # response, so that the member who sent the last opinion gets the waiting page at once
            # and watches the mediation there instead of a page that hangs.
            _background().submit(_run_here, name, args)
        else:
            current_app.tasks[name].delay(*args)
        return
    queue.append((name, args))
    if len(queue) > 1:
        return  # the outermost send is running the queue and will come to it
    try:
        while queue:
            task_name, task_args = queue[0]
            try:
                current_app.tasks[task_name].apply(args=task_args)  # failures are logged
            finally:
                queue.popleft()
    except BaseException:
        queue.clear()  # the next send starts afresh rather than waiting on this one
        raise


@contextlib.contextmanager
def tasks_run_here() -> Iterator[None]:
    """Run the tasks enqueued during the block in this process, one at a time, in the order they
    were sent, instead of handing them to the broker (a pilot study, `manage.py simulate`).

    Celery's eager mode runs a task inside the call that sent it, and in a study every phase
    sends the next one (a mediation sends the bots, whose last rating starts the next iteration,
    which sends the bots again...), so a long study would nest one level per phase and exhaust
    Python's recursion limit. Here the outermost send runs the queue until it is empty.
    """
    token = _here.set(deque())
    try:
        yield
    finally:
        _here.reset(token)


@cache
def _background() -> ThreadPoolExecutor:
    """One thread, so that the embedded default's SQLite sees one background writer at a time."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="cg-eager-task")


def _run_here(name: str, args: tuple) -> None:
    try:
        current_app.tasks[name].apply(args=args)
    finally:
        connections.close_all()  # this thread's connections; the next task opens its own


def mediation_enqueue(*, iteration_id: int) -> None:
    task_enqueue_on_commit(name=MEDIATE_ITERATION, args=(iteration_id,))


def bots_enqueue(*, group: Group) -> None:
    """Let the group's bots act, if it has any."""
    if group.members.filter(provenance=Provenance.BOT_CITIZEN).exists():
        task_enqueue_on_commit(name=BOTS_ACT, args=(group.pk,))


def export_job_enqueue(*, job_id: int) -> None:
    task_enqueue_on_commit(name=RUN_EXPORT_JOB, args=(job_id,))
