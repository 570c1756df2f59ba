"""Export jobs from the Data page: run by the task into the export storage, downloaded with an
audit-log entry, refused and removed once expired (on access and by the sweep), a failure kept
visible with its reason, at most a few at once per user, and a repeated message harmless. Also
the owner's share page and `manage.py grant_role`."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.utils import timezone

from config import celery_app
from deliberation.models import AuditLog, DeliberationShare, ExportJob, Statement
from deliberation.services.export_jobs import (
    ACTIVE_JOBS_PER_USER_MAX,
    export_job_run,
    export_jobs_sweep_expired,
)
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit
from deliberation.tasks import sweep_expired_exports
from tests.commits import CommittingClient, committed

pytestmark = pytest.mark.django_db

OPINIONS = [
    "Parks should stay open at night in summer. Lighting the paths would make them safe.",
    "Night opening brings noise for the neighbours. Keep the gates locked after ten.",
    "Open a few parks late on weekends first and ask the neighbours after a month.",
]


@pytest.fixture
def export_storage(settings, tmp_path):
    folder = tmp_path / "exports"
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    return folder


@pytest.fixture
def researcher(django_user_model):
    user = django_user_model.objects.create_user("res", password="pw-for-tests-only")
    user.user_permissions.add(Permission.objects.get(codename="research"))
    return user


@pytest.fixture
def shared(make_group, moderator, researcher, export_storage):
    deliberation, members = make_group(3, n_candidates=3)
    DeliberationShare.objects.create(deliberation=deliberation, user=researcher, role="researcher")
    iteration = members[0].group.rounds.get().iterations.get()
    for member, text in zip(members, OPINIONS, strict=True):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    for member in members:
        with committed():
            rating_submit(participant=member, statement=winner, agreement=6, quality=5)
    client = CommittingClient()
    client.force_login(researcher)
    return deliberation, client


def _start(client, deliberation, **fields) -> ExportJob:
    data = {"schema": "tidy", "fmt": "csv", **fields}
    response = client.post(f"/research/d/{deliberation.public_id}/data/", data)
    assert response.status_code == 302, response.content
    return ExportJob.objects.filter(deliberation=deliberation).latest("id")


# The export writes its progress on a connection of its own, which sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_an_export_from_the_data_page_is_stored_downloaded_and_logged(
    shared, researcher, export_storage
):
    deliberation, client = shared
    job = _start(client, deliberation)
    assert job.status == ExportJob.Status.DONE, job.error
    assert job.progress_total > 0 and job.progress_done == job.progress_total
    assert job.rows["ratings"] == 3
    stored = export_storage / job.file_name
    assert stored.is_file() and stored.stat().st_size == job.size_bytes
    assert job.expires_at == job.finished_at + timedelta(hours=24)
    export_log = AuditLog.objects.get(action="export", actor=researcher)
    assert export_log.data["filters"]["include_identifiers"] is False
    assert export_log.target_id == deliberation.pk

    page = client.get(f"/research/d/{deliberation.public_id}/data/").content.decode()
    assert f"/research/exports/{job.public_id}/download/" in page

    response = client.get(f"/research/exports/{job.public_id}/download/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == stored.read_bytes()
    assert "ratings.csv" in zipfile.ZipFile(io.BytesIO(body)).namelist()
    download = AuditLog.objects.get(action="export_download")
    assert download.actor == researcher and download.target_id == job.pk
    assert download.data["deliberation"] == str(deliberation.public_id)


def test_an_expired_download_is_refused_and_its_file_removed(shared, export_storage):
    deliberation, client = shared
    job = _start(client, deliberation)
    stored = export_storage / job.file_name
    ExportJob.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(f"/research/exports/{job.public_id}/download/")
    assert response.status_code == 410
    assert "expired" in response.content.decode()
    assert not stored.exists()
    job.refresh_from_db()
    assert job.file_name == ""
    api = client.get(f"/api/v1/exports/{job.public_id}/download/")
    assert api.status_code == 409 and api.json()["error"]["code"] == "export_not_ready"
    assert "expired" in client.get(f"/research/d/{deliberation.public_id}/data/").content.decode()
    assert not AuditLog.objects.filter(action="export_download").exists()


def test_the_sweep_deletes_expired_files_and_keeps_live_ones(shared, export_storage):
    deliberation, client = shared
    old, new = _start(client, deliberation), _start(client, deliberation, fmt="jsonl")
    ExportJob.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert sweep_expired_exports() == 1
    assert not (export_storage / old.file_name).exists()
    assert (export_storage / new.file_name).exists()
    assert export_jobs_sweep_expired() == 0


def test_a_failed_export_shows_its_reason_and_leaves_no_file(shared, settings, tmp_path):
    deliberation, client = shared
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the storage folder should be")
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(blocker)},
        },
    }
    job = _start(client, deliberation)
    assert job.status == ExportJob.Status.FAILED
    assert job.error and job.file_name == "" and job.finished_at is not None
    page = client.get(f"/research/d/{deliberation.public_id}/data/").content.decode()
    assert "Failed" in page
    response = client.get(f"/research/exports/{job.public_id}/download/")
    assert response.status_code == 409


def test_a_repeated_message_does_nothing_and_a_user_has_few_jobs_at_once(
    shared, researcher, eager_tasks
):
    deliberation, client = shared
    done = _start(client, deliberation)
    assert export_job_run(job_id=done.pk) is None  # already run: not claimed again
    celery_app.conf.task_always_eager = False  # queue them without a worker
    try:
        for _ in range(ACTIVE_JOBS_PER_USER_MAX):
            _start(client, deliberation)
        response = client.post(
            f"/research/d/{deliberation.public_id}/data/", {"schema": "tidy", "fmt": "csv"}
        )
    finally:
        celery_app.conf.task_always_eager = True
    assert response.status_code == 429
    assert "exports waiting or running" in response.content.decode()
    assert ExportJob.objects.filter(status="queued").count() == ACTIVE_JOBS_PER_USER_MAX


def test_the_owner_shares_and_unshares_and_both_are_logged(make_group, moderator, researcher):
    deliberation, _ = make_group(3)
    owner = CommittingClient()
    owner.force_login(moderator)
    url = f"/moderate/d/{deliberation.public_id}/share/"
    for username, role, error in (
        ("nobody", "researcher", "There is no active user called"),
        ("res", "moderator", "does not hold the moderator permission"),
        ("mod", "researcher", "created this deliberation already"),
        ("res", "boss", "Choose a role"),
    ):
        response = owner.post(url, {"username": username, "role": role})
        assert response.status_code == 400 and error in response.content.decode()
        assert f'value="{username}"' in response.content.decode()  # kept as typed
    assert not DeliberationShare.objects.exists()

    assert owner.post(url, {"username": " res ", "role": "researcher"}).status_code == 302
    share = DeliberationShare.objects.get()
    assert (share.user, share.role, share.created_by) == (researcher, "researcher", moderator)
    again = owner.post(url, {"username": "res", "role": "researcher"})
    assert "already has access" in again.content.decode()
    reader = CommittingClient()
    reader.force_login(researcher)
    assert reader.get(f"/research/d/{deliberation.public_id}/data/").status_code == 200

    owner.post(f"/moderate/d/{deliberation.public_id}/share/{share.pk}/remove/")
    assert not DeliberationShare.objects.exists()
    assert reader.get(f"/research/d/{deliberation.public_id}/data/").status_code == 404
    logged = list(AuditLog.objects.order_by("id").values_list("action", "actor", "data"))
    assert logged == [
        ("share_add", moderator.pk, {"username": "res", "role": "researcher"}),
        ("share_remove", moderator.pk, {"username": "res", "role": "researcher"}),
    ]


def test_grant_role_grants_and_revokes_a_role(django_user_model):
    user = django_user_model.objects.create_user("ana", password="pw-for-tests-only")
    call_command("grant_role", "ana", "researcher")
    assert django_user_model.objects.get(pk=user.pk).has_perm("deliberation.research")
    call_command("grant_role", "ana", "researcher", "--revoke")
    assert not django_user_model.objects.get(pk=user.pk).has_perm("deliberation.research")
    with pytest.raises(CommandError, match="There is no user called 'nobody'"):
        call_command("grant_role", "nobody", "view_all")


def test_a_job_whose_user_lost_access_while_it_waited_fails_with_the_reason(
    shared, researcher, export_storage
):
    deliberation, client = shared
    celery_app.conf.task_always_eager = False
    try:
        job = _start(client, deliberation)
    finally:
        celery_app.conf.task_always_eager = True
    DeliberationShare.objects.filter(user=researcher).delete()
    job = export_job_run(job_id=job.pk)
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "You may no longer read this deliberation's data."
    assert list(export_storage.glob("*")) == []
    assert not AuditLog.objects.filter(action="export").exists()


def test_signing_in_leads_moderators_to_their_list_and_researchers_to_data(
    client, researcher, moderator
):
    for username, landing in (("res", "/research/"), ("mod", "/moderate/")):
        client.logout()
        response = client.post(
            "/accounts/login/",
            {"username": username, "password": "pw-for-tests-only"},
            follow=True,
        )
        assert response.redirect_chain[-1][0] == landing
        assert response.status_code == 200
