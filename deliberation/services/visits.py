"""What a member's request does before anything else: they are seen, and the study catches up.

Pages, polls and answers all go through here, so that "being here" means the same everywhere,
and deadlines hold even where no beat runs (the embedded default). A visit to a waiting step
leaves a poll snapshot (`services.versions`), so that the waiting page's next polls can answer
"nothing changed" without the database (`participant_poll_unchanged`).
"""

from datetime import timedelta

from django.utils import timezone

from deliberation.models import Participant
from deliberation.selectors.participant import WAITING_STEPS, Step, participant_step
from deliberation.services.deadlines import iteration_advance_if_overdue
from deliberation.services.participants import (
    TOUCH_SECONDS,
    participant_seen_at,
    participant_touch,
)
from deliberation.services.presence import participant_presence_check
from deliberation.services.versions import (
    poll_snapshot_current,
    poll_snapshot_save,
    poll_snapshot_store,
    view_versions,
)


def participant_seen(*, participant: Participant) -> None:
    """The member is here: noted (`participant_touch`); a member dropped as absent comes back,
    and a waiting pool that has waited too long forms or releases its members."""
    participant_touch(participant=participant)
    participant_presence_check(participant=participant)


def participant_visit(*, participant: Participant) -> Step:
    """A member opens their step page or polls it: `participant_seen`, then their group's phase
    is closed if its deadline has passed. Returns the member's step as it is then, and, for a
    waiting step, keeps a poll snapshot with the versions read before anything else."""
    versions = view_versions(
        deliberation_id=participant.deliberation_id,
        group_id=participant.group_id,
        participant_id=participant.pk,
    )
    group_id = participant.group_id
    participant_seen(participant=participant)
    step = participant_step(participant)
    if step.iteration is not None and iteration_advance_if_overdue(iteration=step.iteration):
        step = participant_step(participant)
    if step.kind in WAITING_STEPS and participant.group_id == group_id:
        poll_snapshot_save(
            participant_id=participant.pk,
            group_id=group_id,
            versions=versions,
            key=step.key,
            progress_key=step.progress_key,
            touch_at=participant.last_seen_at + timedelta(seconds=TOUCH_SECONDS),
            changes_at=step.changes_at,
            now=timezone.now(),
        )
    return step


def participant_poll_unchanged(
    *, participant_id: int, group_id: int | None, deliberation_id: int, key, seen, now=None
) -> bool:
    """The waiting page polls with the step `key` and progress `seen` it shows: True when its
    poll snapshot still holds, so nothing it shows has changed (no query; one more UPDATE, by id,
    when the member's presence is due to be noted). False when the step must be computed."""
    now = now or timezone.now()
    snapshot = poll_snapshot_current(
        participant_id=participant_id,
        group_id=group_id,
        deliberation_id=deliberation_id,
        key=key,
        seen=seen,
        now=now,
    )
    if snapshot is None:
        return False
    if now.timestamp() >= snapshot.touch_at:
        participant_seen_at(participant_id=participant_id, now=now)
        touch_at = min(now.timestamp() + TOUCH_SECONDS, snapshot.until)
        poll_snapshot_store(
            participant_id=participant_id, snapshot=snapshot._replace(touch_at=touch_at)
        )
    return True
