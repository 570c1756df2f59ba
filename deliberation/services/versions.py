"""Versions of what members see, kept in the shared cache, so that the waiting page's poll can
answer "nothing changed" from one cache read, without the database.

Three scopes, one version each:

- a deliberation: what changes every member's page (a new consent text, its status);
- a group: its phase, its members' answers and presence, a moderator's action on it;
- a participant: what only they see (their own end-of-round answers, their seat).

Every service that changes what a member sees calls `member_views_changed` inside its
transaction; the versions change once it commits, so a change rolled back changes nothing, and a
poll that read the rows between the write and the commit cannot keep what it read (the version
changes after it). A version is a random token, not a counter: only equality matters, and a
version the cache forgot (evicted, Redis restarted) reads as missing, which differs from every
token kept before.

A poll snapshot is what a member's last full look at their step found: the versions read *before*
the step was computed, the step's keys, when their presence is next due to be noted
(`participants.TOUCH_SECONDS`), and until when it holds by time alone (a deadline, the pool's wait,
a mediation turning slow; at most `SNAPSHOT_SECONDS`, so that a change whose version was lost, in a
Redis outage, is seen within that time). `poll_snapshot_current` compares it with the versions now,
in one `get_many`. The cache fails open (`config.cache`): while Redis is away every read misses,
and every poll computes the step from the database, as it did before versions existed.

Only a cache shared by every process (Redis) can carry versions: with `CHEAP_POLL` off (the
embedded default's per-process memory cache) nothing is read or written here.
"""

import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

# A snapshot holds by time alone for at most this long; then the step is computed again.
SNAPSHOT_SECONDS = 60
# A version outlives every snapshot that could have read it.
VERSION_SECONDS = 24 * 60 * 60


class Versions(NamedTuple):
    deliberation: str | None
    group: str | None
    participant: str | None


class PollSnapshot(NamedTuple):
    group_id: int | None
    versions: Versions
    key: str
    progress_key: str
    touch_at: float  # when the member's presence is next due to be noted (epoch seconds)
    until: float  # when the step may change by time alone (epoch seconds)


def _deliberation_key(deliberation_id: int) -> str:
    return f"cg:view:d:{deliberation_id}"


def _group_key(group_id: int) -> str:
    return f"cg:view:g:{group_id}"


def _participant_key(participant_id: int) -> str:
    return f"cg:view:p:{participant_id}"


def _snapshot_key(participant_id: int) -> str:
    return f"cg:poll:{participant_id}"


def _version_keys(*, deliberation_id: int, group_id: int | None, participant_id: int) -> list[str]:
    return [
        _deliberation_key(deliberation_id),
        _group_key(group_id) if group_id is not None else "",
        _participant_key(participant_id),
    ]


def member_views_changed(
    *,
    deliberation_id: int | None = None,
    group_ids: Iterable[int | None] = (),
    participant_ids: Iterable[int] = (),
) -> None:
    """What the members of the deliberation, of the groups or the participants see has changed:
    their versions change once the current transaction commits (at once outside one)."""
    if not settings.CHEAP_POLL:
        return
    keys = [_group_key(pk) for pk in group_ids if pk is not None]
    keys += [_participant_key(pk) for pk in participant_ids]
    if deliberation_id is not None:
        keys.append(_deliberation_key(deliberation_id))
    if keys:
        transaction.on_commit(lambda: _bump(keys), robust=True)


def _bump(keys: list[str]) -> None:
    version = secrets.token_hex(8)
    cache.set_many(dict.fromkeys(keys, version), timeout=VERSION_SECONDS)


def view_versions(*, deliberation_id: int, group_id: int | None, participant_id: int) -> Versions:
    """The versions a participant's view has now (None for each when `CHEAP_POLL` is off)."""
    if not settings.CHEAP_POLL:
        return Versions(None, None, None)
    keys = _version_keys(
        deliberation_id=deliberation_id, group_id=group_id, participant_id=participant_id
    )
    found = cache.get_many([k for k in keys if k])
    return Versions(*(found.get(k) if k else None for k in keys))


def poll_snapshot_save(
    *,
    participant_id: int,
    group_id: int | None,
    versions: Versions,
    key: str,
    progress_key: str,
    touch_at: datetime,
    changes_at: datetime | None,
    now: datetime,
) -> PollSnapshot | None:
    """Keep what a full look at the step found (see the module's docstring): `versions` as read
    before the step was computed, the step's `key` and `progress_key`, when the member's presence
    is next due to be noted, and when the step changes by time alone (`changes_at`, None when it
    does not)."""
    if not settings.CHEAP_POLL:
        return None
    until = now.timestamp() + SNAPSHOT_SECONDS
    if changes_at is not None:
        until = min(until, changes_at.timestamp())
    snapshot = PollSnapshot(
        group_id, versions, key, progress_key, min(touch_at.timestamp(), until), until
    )
    poll_snapshot_store(participant_id=participant_id, snapshot=snapshot)
    return snapshot


def poll_snapshot_store(*, participant_id: int, snapshot: PollSnapshot) -> None:
    timeout = max(1, int(snapshot.until - time.time()) + 1)
    cache.set(_snapshot_key(participant_id), snapshot, timeout=timeout)


def poll_snapshot_current(
    *,
    participant_id: int,
    group_id: int | None,
    deliberation_id: int,
    key: str | None,
    seen: str | None,
    now: datetime,
) -> PollSnapshot | None:
    """The participant's poll snapshot when it still holds: the page shows the step and progress
    it found (`key`, `seen`), no version changed since, and no time limit passed. One cache read
    (`get_many`), no query. None when the step must be computed again."""
    if not settings.CHEAP_POLL or key is None or seen is None:
        return None
    version_keys = _version_keys(
        deliberation_id=deliberation_id, group_id=group_id, participant_id=participant_id
    )
    snapshot_key = _snapshot_key(participant_id)
    found = cache.get_many([snapshot_key, *(k for k in version_keys if k)])
    snapshot = found.get(snapshot_key)
    if (
        not isinstance(snapshot, PollSnapshot)
        or snapshot.group_id != group_id
        or snapshot.key != key
        or snapshot.progress_key != seen
        or now.timestamp() >= snapshot.until
    ):
        return None
    versions = Versions(*(found.get(k) if k else None for k in version_keys))
    return snapshot if versions == snapshot.versions else None
