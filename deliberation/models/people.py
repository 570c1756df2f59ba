"""Participants, the groups they deliberate in, and their consent and panel records."""

import uuid

from django.db import models
from django.db.models import Q

from deliberation.models.studies import Condition, Deliberation, Provenance


class Group(models.Model):
    class Status(models.TextChoices):
        FORMING = "forming", "Forming"
        ACTIVE = "active", "Active"
        DONE = "done", "Done"
        ENDED = "ended", "Ended by a moderator"

    deliberation = models.ForeignKey(Deliberation, on_delete=models.CASCADE, related_name="groups")
    number = models.PositiveIntegerField()
    condition = models.ForeignKey(
        Condition, null=True, blank=True, on_delete=models.PROTECT, related_name="groups"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.FORMING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["deliberation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["deliberation", "number"], name="group_number_unique")
        ]

    def __str__(self) -> str:
        return f"{self.deliberation} · group {self.number}"


class Participant(models.Model):
    """A pseudonymous member. Panel ids live apart, in `PanelIdentity`."""

    class Status(models.TextChoices):
        JOINED = "joined", "Joined (not consented)"
        WAITING = "waiting", "Waiting for a group"
        ACTIVE = "active", "Active"
        DROPPED = "dropped", "Dropped out"
        COMPLETED = "completed", "Completed"
        RELEASED = "released", "Released from the pool"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deliberation = models.ForeignKey(
        Deliberation, on_delete=models.CASCADE, related_name="participants"
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    seat = models.PositiveSmallIntegerField(null=True, blank=True)
    provenance = models.CharField(
        max_length=32, choices=Provenance.choices, default=Provenance.HUMAN_CITIZEN
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.JOINED)
    joined_at = models.DateTimeField(auto_now_add=True)
    grouped_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "seat"],
                condition=Q(group__isnull=False),
                name="one_member_per_seat",
            )
        ]

    def __str__(self) -> str:
        return str(self.public_id)[:8]

    @property
    def is_bot(self) -> bool:
        return self.provenance == Provenance.BOT_CITIZEN


class ConsentRecord(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="consents")
    version = models.CharField(max_length=32)
    text_sha256 = models.CharField(max_length=64)
    accepted_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "version"], name="consent_once_per_version"
            )
        ]


class PanelIdentity(models.Model):
    """External panel ids (Prolific, MTurk, ?xid=), kept out of exports unless hashed."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="panel_identity"
    )
    deliberation = models.ForeignKey(
        Deliberation, null=True, on_delete=models.CASCADE, related_name="panel_identities"
    )
    panel = models.CharField(max_length=16, choices=Deliberation.Panel.choices)
    external_id = models.CharField(max_length=128)
    study_id = models.CharField(max_length=128, blank=True)
    session_id = models.CharField(max_length=128, blank=True)
    extra = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # The same panel member joining twice resumes, never becomes a second participant.
            models.UniqueConstraint(
                fields=["deliberation", "panel", "external_id"], name="panel_member_once"
            )
        ]
