"""Export jobs: a researcher asks for one deliberation's data (from the Data page or the API), a
Celery task writes it with `deliberation.exports.export_write` into a temporary folder and
saves the file into the export storage (`STORAGES["exports"]`), and the researcher downloads
it until it expires (`EXPORT_DOWNLOAD_TTL_HOURS`); a periodic sweep deletes expired files.

Who may start, see and download a job is decided in `deliberation.access`; the export itself
writes its audit-log entry (who, what, which filters), and every download writes one more.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from deliberation.access import can_read_research_data, export_identifiers_allowed
from deliberation.errors import DomainError, NotAllowed
from deliberation.exports import export_write
from deliberation.models import AuditLog, Deliberation, ExportJob
from deliberation.services.enqueue import export_job_enqueue

logger = logging.getLogger(__name__)

ACTIVE_JOBS_PER_USER_MAX = 3
PROGRESS_EVERY_SECONDS = 0.5
EXTENSIONS = {"parquet": "parquet", "csv": "csv", "jsonl": "jsonl"}


def export_storage():
    return storages["exports"]


def export_job_create(
    *,
    deliberation: Deliberation,
    actor,
    schema: str,
    fmt: str,
    include_bots: bool = False,
    include_identifiers: bool = False,
) -> ExportJob:
    """Queue an export of `deliberation` for `actor` (who may read it: the caller checked); the
    Celery task runs it once the transaction commits. Identifiers need their own permission;
    a user has at most a few jobs waiting or running."""
    if schema not in ExportJob.Schema.values:
        raise DomainError(
            f"Unknown schema {schema!r}: choose hm or tidy.", code="export_schema", status=400
        )
    if fmt not in ExportJob.Format.values:
        raise DomainError(
            f"Unknown format {fmt!r}: choose parquet, csv or jsonl.", code="export_format"
        )
    if include_identifiers and not export_identifiers_allowed(actor):
        raise NotAllowed(
            "Panel identifiers are exported only for users with the export_identifiers permission.",
            code="identifiers_not_allowed",
        )
    with transaction.atomic():
        active = ExportJob.objects.select_for_update().filter(
            created_by=actor, status__in=[ExportJob.Status.QUEUED, ExportJob.Status.RUNNING]
        )
        if len(active) >= ACTIVE_JOBS_PER_USER_MAX:
            raise DomainError(
                f"You have {ACTIVE_JOBS_PER_USER_MAX} exports waiting or running; start another "
                "when one has finished.",
                code="too_many_exports",
                status=429,
            )
        job = ExportJob.objects.create(
            deliberation=deliberation,
            created_by=actor,
            schema=schema,
            fmt=fmt,
            include_bots=bool(include_bots),
            include_identifiers=bool(include_identifiers),
        )
        export_job_enqueue(job_id=job.pk)
    return job


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Run a queued job: claimed with a conditional update, so a repeated message does nothing.
    Any failure leaves the job `failed` with its reason; nothing half-written is kept."""
    claimed = ExportJob.objects.filter(pk=job_id, status=ExportJob.Status.QUEUED).update(
        status=ExportJob.Status.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return None
    job = ExportJob.objects.select_related("deliberation", "created_by").get(pk=job_id)
    if job.created_by is None or not can_read_research_data(job.created_by, job.deliberation):
        # Access was taken away (or the user removed) while the job waited.
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED,
            error="You may no longer read this deliberation's data.",
            finished_at=timezone.now(),
        )
        job.refresh_from_db()
        return job
    folder = Path(tempfile.mkdtemp(prefix="cg-export-"))
    progress = _ProgressWriter(job.pk)
    try:
        result = export_write(
            schema=job.schema,
            fmt=job.fmt,
            out=folder / _file_name(job),
            deliberations=[job.deliberation],
            include_bots=job.include_bots,
            include_identifiers=job.include_identifiers,
            actor=job.created_by,
            progress=progress,
        )
        path = Path(result.path)
        with path.open("rb") as handle:
            stored = export_storage().save(f"{job.public_id}-{path.name}", File(handle))
        done = timezone.now()
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.DONE,
            file_name=stored,
            size_bytes=path.stat().st_size,
            rows=dict(result.rows),
            finished_at=done,
            expires_at=done + timedelta(hours=settings.EXPORT_DOWNLOAD_TTL_HOURS),
        )
    except Exception as exc:  # every failure becomes a visible state with its reason
        logger.exception("export job %s failed", job.public_id)
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=message[:2000], finished_at=timezone.now()
        )
    finally:
        progress.close()
        shutil.rmtree(folder, ignore_errors=True)
    job.refresh_from_db()
    return job


def _file_name(job: ExportJob) -> str:
    stem = f"commonground-{job.deliberation.public_id}-{job.schema}"
    if job.schema == ExportJob.Schema.TIDY:
        return f"{stem}-{job.fmt}.zip"
    return f"{stem}.{EXTENSIONS[job.fmt]}"


class _ProgressWriter:
    """A `progress(done, total)` callback that writes to the job row at most twice a second.

    `export_write` reads inside one snapshot transaction, so a write on the same connection
    would be seen only at the end. On PostgreSQL the writer has a connection of its own, in
    autocommit, so that the Data page sees the progress while the export runs (elsewhere, the
    embedded SQLite default, progress lands with the result). A failed progress write is logged
    and never fails the export."""

    def __init__(self, job_id: int):
        self.job_id = job_id
        self.last = 0.0
        self.own = (
            connections.create_connection(DEFAULT_DB_ALIAS)
            if connection.vendor == "postgresql"
            else None
        )

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_SECONDS and done < total:
            return
        self.last = now
        done, total = max(int(done), 0), max(int(total), 0)
        try:
            if self.own is None:
                ExportJob.objects.filter(pk=self.job_id).update(
                    progress_done=done, progress_total=total
                )
                return
            with self.own.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {ExportJob._meta.db_table} SET progress_done = %s, "
                    "progress_total = %s WHERE id = %s",
                    [done, total, self.job_id],
                )
        except DatabaseError:
            logger.warning("could not record the progress of export job %s", self.job_id)

    def close(self) -> None:
        if self.own is not None:
            self.own.close()


def export_job_open(*, job: ExportJob, actor):
    """The finished job's file, opened for reading, for `actor` (who may: the caller checked).
    A job not done is a 409; an expired one is a 410 and its file is removed. Audit-logged."""
    if job.status == ExportJob.Status.FAILED:
        raise DomainError(f"This export failed: {job.error}", code="export_failed", status=409)
    if job.status != ExportJob.Status.DONE or not job.file_name:
        raise DomainError("This export has not finished yet.", code="export_not_ready", status=409)
    if job.expires_at is not None and job.expires_at <= timezone.now():
        export_job_expire(job=job)
        raise DomainError(
            "This download has expired; start the export again.", code="export_expired", status=410
        )
    handle = export_storage().open(job.file_name, "rb")
    AuditLog.objects.create(
        actor=actor,
        action="export_download",
        target_type="export_job",
        target_id=job.pk,
        data={
            "deliberation": str(job.deliberation.public_id),
            "schema": job.schema,
            "format": job.fmt,
            "include_bots": job.include_bots,
            "include_identifiers": job.include_identifiers,
            "file": job.file_name,
        },
    )
    return handle


def export_job_expire(*, job: ExportJob) -> None:
    """Delete an expired job's file and forget its name (the job row stays, for the record)."""
    if job.file_name:
        export_storage().delete(job.file_name)
    ExportJob.objects.filter(pk=job.pk).update(file_name="")
    job.file_name = ""


def export_jobs_sweep_expired() -> int:
    """Delete the files of every job past its download time; how many were deleted."""
    expired = ExportJob.objects.filter(expires_at__lte=timezone.now()).exclude(file_name="")
    count = 0
    for job in expired.iterator():
        export_job_expire(job=job)
        count += 1
    return count
