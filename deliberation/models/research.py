"""Who else may see a deliberation (shares), how scripts sign in (API tokens), and the export
jobs started from the Data page or the API. Who may do what is decided in `deliberation.access`."""

import uuid

from django.conf import settings
from django.db import models

from deliberation.models.studies import Deliberation


class DeliberationShare(models.Model):
    """The owner of `deliberation` lets `user` in: as a moderator (run it) or a researcher (read
    its results and export its data). A share grants its role only while the user also holds
    that role's permission."""

    class Role(models.TextChoices):
        MODERATOR = "moderator", "Moderator (runs it)"
        RESEARCHER = "researcher", "Researcher (reads and exports its data)"

    deliberation = models.ForeignKey(Deliberation, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliberation_shares"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["deliberation", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["deliberation", "user"], name="one_share_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.deliberation} → {self.user} ({self.role})"


class ApiToken(models.Model):
    """A secret a script sends as `Authorization: Token <secret>`. Only its SHA-256 is stored;
    the secret is shown once, when it is made. `prefix` (the secret's first characters) lets
    the owner tell their tokens apart."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    key_sha256 = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=16)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ExportJob(models.Model):
    """One export of one deliberation's data, run by a Celery task into the file storage."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Schema(models.TextChoices):
        HM = "hm", "Habermas Machine (one row per participant per iteration)"
        TIDY = "tidy", "Tidy tables with a data dictionary (zip)"

    class Format(models.TextChoices):
        PARQUET = "parquet", "Parquet"
        CSV = "csv", "CSV"
        JSONL = "jsonl", "JSON Lines"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    deliberation = models.ForeignKey(
        Deliberation, on_delete=models.CASCADE, related_name="export_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="export_jobs"
    )
    schema = models.CharField(max_length=8, choices=Schema.choices)
    fmt = models.CharField(max_length=8, choices=Format.choices)
    include_bots = models.BooleanField(default=False)
    include_identifiers = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress_done = models.PositiveBigIntegerField(default=0)
    progress_total = models.PositiveBigIntegerField(default=0)
    file_name = models.CharField(max_length=300, blank=True, help_text="Name in the storage.")
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    rows = models.JSONField(default=dict, blank=True, help_text="Rows written per table.")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"export {self.public_id} ({self.schema}, {self.fmt}, {self.status})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, int(100 * self.progress_done / self.progress_total))
