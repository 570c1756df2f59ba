"""Commits in tests that run inside one transaction (plain `django_db`), not a test module.

Nothing commits there, so the work the services hand on after their commit
(`transaction.on_commit`: a mediation, the bots, an export) would never run. `committed()` runs
it when its block ends, as the commit of a real request or task would (Django's
`captureOnCommitCallbacks`, which pytest-django gives as `django_capture_on_commit_callbacks`),
and work rolled back with a savepoint inside the block is dropped, as it would be. Tests that need
real commits (another connection, a thread, a worker process, a live server, a browser) stay on
`django_db(transaction=True)`, where these helpers change nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connection
from django.test import Client, TestCase


@contextlib.contextmanager
def committed() -> Iterator[None]:
    """Run what the block hands on after its commit when the block ends, then forget it, so that
    an enclosing block (this one or `django_capture_on_commit_callbacks`) does not run it again."""
    start = len(connection.run_on_commit)
    try:
        with TestCase.captureOnCommitCallbacks(execute=True):
            yield
    finally:
        del connection.run_on_commit[start:]


class CommittingClient(Client):
    """Django's test client, each request of which ends as a real one does: what the request
    handed on after its commit runs before the response comes back to the test."""

    def request(self, **request):
        with committed():
            return super().request(**request)
