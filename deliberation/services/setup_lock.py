"""The lock that keeps joining a deliberation and editing its set-up apart (PostgreSQL).

A join holds it shared and a set-up edit exclusive, each until its transaction ends: joins never
wait for one another, an edit waits for the joins in flight to commit (and then sees their
participants), and a join that arrives during an edit waits until the edit has committed (and
then reads the new set-up). The joiner's `Participant` row cannot serve as the lock: Django
makes foreign keys DEFERRABLE INITIALLY DEFERRED, so PostgreSQL checks the row's key, and locks
the deliberation's row FOR KEY SHARE, only when the join commits; until then an edit's
`SELECT ... FOR UPDATE` of the deliberation does not wait for it and does not see it.

On SQLite (the embedded demo) both are no-ops; it runs one writer at a time anyway.
"""

from django.db import connection

# The first of the two 32-bit keys of the advisory lock (the second is the deliberation's id);
# "CG" 0002. The import lock of `services.questions` uses the single 64-bit key space.
SETUP_LOCK_CLASS = 0x43470002


def setup_lock_for_join(deliberation_id: int) -> None:
    """Take the deliberation's set-up lock shared, until the current transaction ends."""
    _lock("pg_advisory_xact_lock_shared", deliberation_id)


def setup_lock_for_edit(deliberation_id: int) -> None:
    """Take the deliberation's set-up lock exclusive, until the current transaction ends.
    Take it before any row lock, so that a join it waits for never waits for the edit."""
    _lock("pg_advisory_xact_lock", deliberation_id)


def _lock(function: str, deliberation_id: int) -> None:
    if connection.vendor != "postgresql":
        return
    if not connection.in_atomic_block:
        raise RuntimeError("The set-up lock is held until the transaction ends: open one first.")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {function}(%s, %s)", [SETUP_LOCK_CLASS, deliberation_id & 0x7FFFFFFF]
        )
