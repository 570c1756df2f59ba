"""Joining, consent and group formation."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext

from deliberation.errors import DomainError, WrongPhase
from deliberation.models import (
    ConsentRecord,
    Deliberation,
    Group,
    Participant,
    Provenance,
)
from deliberation.selectors.consent import consent_sha256
from deliberation.services.conditions import condition_for_new_group
from deliberation.services.panels import PanelIds, panel_identity_attach
from deliberation.services.rounds import group_start
from deliberation.services.setup_lock import setup_lock_for_join
from deliberation.services.versions import member_views_changed

# A member's presence is noted at most this often; a page view or poll in between writes nothing.
TOUCH_SECONDS = 15


def participant_join(
    *, deliberation: Deliberation, provenance: str = Provenance.HUMAN_CITIZEN
) -> Participant:
    """A new pseudonymous participant who has not consented yet. Holds the deliberation's
    set-up lock (shared with other joins) until the surrounding transaction ends, so that an
    edit of the set-up cannot miss this participant (`services.setup_lock`)."""
    if deliberation.status != Deliberation.Status.OPEN:
        raise WrongPhase(
            gettext("This deliberation is not open for new participants."), code="closed"
        )
    with transaction.atomic():
        setup_lock_for_join(deliberation.pk)
        return Participant.objects.create(deliberation=deliberation, provenance=provenance)


@transaction.atomic
def participant_enter(
    *,
    deliberation: Deliberation,
    participant: Participant | None,
    panel_ids: PanelIds | None,
    version: str,
) -> Participant:
    """Consent given on the invitation page: the session's participant, or else a new one, who
    then consents and is seated (`participant_consent`). A deliberation that recruits from a panel
    takes a new participant only with the panel ids their link brought, which are stored with
    them; when the same panel member joined a moment ago in another tab, that participant is the
    one who consents. Nothing is stored when consent is refused."""
    if participant is None:
        if deliberation.panel != Deliberation.Panel.NONE and panel_ids is None:
            raise DomainError(
                gettext(
                    "Please open the study again from the page that sent you here; the link "
                    "needs your panel ID."
                ),
                code="panel_ids_missing",
            )
        participant = participant_join(deliberation=deliberation)
        if panel_ids is not None:
            participant = panel_identity_attach(participant=participant, ids=panel_ids)
    return participant_consent(participant=participant, version=version)


@transaction.atomic
def participant_consent(*, participant: Participant, version: str) -> Participant:
    """Record consent to the deliberation's current consent text and put the participant in a group.

    Consenting twice (a double click, a second tab) is harmless: the record is kept once and the
    participant keeps their group.
    """
    participant = Participant.objects.select_for_update().get(pk=participant.pk)
    deliberation = participant.deliberation
    if version != deliberation.consent_version:
        raise DomainError(
            gettext(
                "The consent text has changed since you opened this page. Please read it again."
            ),
            code="consent_version",
        )
    ConsentRecord.objects.get_or_create(
        participant=participant,
        version=version,
        defaults={"text_sha256": consent_sha256(deliberation)},
    )
    if participant.status == Participant.Status.JOINED:
        participant.status = Participant.Status.WAITING
        participant.save(update_fields=["status"])
        participant_assign_group(participant=participant)
    return participant


def participant_assign_group(*, participant: Participant) -> Group:
    """Seat a waiting participant in the first group still forming, or in a new one.

    Seats are handed out under the forming group's row lock, taken with `SKIP LOCKED`: a join
    never waits behind another join's group, it takes the next forming group instead, so joins
    on several web processes do not queue behind each other and never overfill a group. Only
    opening a new group (its number, its condition) takes the deliberation's row lock. A group
    starts when it is full; in a deliberation that fills with bots, a human's arrival fills the
    rest of the group with bots at once.
    """
    with transaction.atomic():
        deliberation = participant.deliberation
        group = _forming_group_locked(deliberation.pk)
        if group is None:
            # Opening a group: numbers and the balance of conditions are decided one at a time.
            deliberation = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
            group = _forming_group_locked(deliberation.pk)
        if group is None:
            number = (
                Group.objects.filter(deliberation=deliberation).aggregate(n=Max("number"))["n"] or 0
            ) + 1
            group = Group.objects.create(
                deliberation=deliberation,
                number=number,
                condition=condition_for_new_group(deliberation=deliberation),
            )
        _seat(participant, group)
        if deliberation.fill_with_bots and not participant.is_bot:
            while group.members.count() < deliberation.group_size:
                bot = Participant.objects.create(
                    deliberation=deliberation,
                    provenance=Provenance.BOT_CITIZEN,
                    status=Participant.Status.WAITING,
                )
                _seat(bot, group)
        if group.members.count() >= deliberation.group_size:
            group_start(group=group)
        return group


def _forming_group_locked(deliberation_id: int) -> Group | None:
    """The lowest-numbered forming group no other transaction is seating, locked."""
    return (
        Group.objects.select_for_update(skip_locked=True)
        .filter(deliberation_id=deliberation_id, status=Group.Status.FORMING)
        .order_by("number")
        .first()
    )


def _seat(participant: Participant, group: Group) -> None:
    taken = set(group.members.values_list("seat", flat=True))
    participant.group = group
    participant.seat = next(i for i in range(len(taken) + 1) if i not in taken)
    participant.grouped_at = timezone.now()
    participant.save(update_fields=["group", "seat", "grouped_at"])
    # The pool's count of who has joined changes for everyone waiting in the group.
    member_views_changed(group_ids=[group.pk], participant_ids=[participant.pk])


def participant_touch(*, participant: Participant) -> None:
    """Note that the participant is still here (a cheap update, at most once every
    `TOUCH_SECONDS`); `participant.last_seen_at` is updated in place."""
    now = timezone.now()
    last = participant.last_seen_at
    if last is None or (now - last).total_seconds() > TOUCH_SECONDS:
        participant_seen_at(participant_id=participant.pk, now=now)
        participant.last_seen_at = now


def participant_seen_at(*, participant_id: int, now) -> None:
    """Note that the participant was here at `now`: one UPDATE, by id (the poll's cheap path has
    no row loaded). Presence is not something a member sees: no version changes."""
    Participant.objects.filter(pk=participant_id).update(last_seen_at=now)
