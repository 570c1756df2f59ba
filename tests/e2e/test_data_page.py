"""A researcher exports a deliberation shared with them from its Data page, in a real browser
(Debian's chromium) against the live server and a real Celery worker: the job waits while the
worker is paused, the page shows it queued with its progress bar, then done (htmx polling, no
reload), and the download is the file the worker stored."""

import io
import os
import zipfile

import pytest
from django.contrib.auth.models import Permission, User

from deliberation.models import AuditLog, DeliberationShare, ExportJob
from deliberation.services.deliberations import deliberation_create
from deliberation.services.participants import participant_consent, participant_join

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(240)]

WAIT_MS = 60_000
PASSWORD = "a-long-researcher-password"


@pytest.fixture(scope="module", autouse=True)
def export_folder(tmp_path_factory):
    """One export storage folder for the live server and the worker (started after this)."""
    folder = tmp_path_factory.mktemp("exports")
    before = os.environ.get("EXPORT_STORAGE_LOCATION")
    os.environ["EXPORT_STORAGE_LOCATION"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("EXPORT_STORAGE_LOCATION", None)
    else:
        os.environ["EXPORT_STORAGE_LOCATION"] = before


def test_a_researcher_exports_from_the_data_page_and_downloads_the_file(
    transactional_db, live_server, live_worker, browser, settings, export_folder
):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(export_folder)},
        },
    }
    owner = User.objects.create_user("owner", password="unused-owner-password")
    owner.user_permissions.add(Permission.objects.get(codename="moderate"))
    deliberation = deliberation_create(
        created_by=owner,
        title="Night buses",
        questions=["Should night buses run every hour?"],
        group_size=3,
        min_group_size=3,
    )
    for _ in range(3):
        participant = participant_join(deliberation=deliberation)
        participant_consent(participant=participant, version=deliberation.consent_version)
    researcher = User.objects.create_user("researcher", password=PASSWORD)
    researcher.user_permissions.add(Permission.objects.get(codename="research"))
    DeliberationShare.objects.create(
        deliberation=deliberation, user=researcher, role="researcher", created_by=owner
    )

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/research/")
    page.get_by_label("Username").fill("researcher")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Night buses").click()
    expect(page.get_by_role("heading", name="Data: Night buses")).to_be_visible()
    # Not allowed to export identifiers: the choice is not offered.
    expect(page.get_by_label("Include panel identifiers (Prolific, MTurk, xid)")).to_have_count(0)

    page.get_by_label("Tidy tables with a data dictionary (zip)").check()
    page.get_by_label("CSV").check()
    live_worker.pause()
    try:
        page.get_by_role("button", name="Start the export").click()
        row = page.locator("tr[id^=export-]").first
        expect(row.get_by_text("Queued")).to_be_visible()
        expect(row.get_by_role("progressbar", name="Export progress")).to_be_visible()
    finally:
        live_worker.resume()
    # The row updates itself (htmx polling) to done, with the download link.
    expect(row.get_by_text("Done")).to_be_visible()
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.DONE and job.rows["participants"] == 3
    live_worker.wait_for(
        r"run_export_job\[[^\]]+\] succeeded in [\d.]+s: 'done'",
        timeout=30,
        what="the worker to run the export",
    )

    with page.expect_download() as info:
        row.get_by_role("link", name="Download").click()
    download = info.value
    body = open(download.path(), "rb").read()
    assert body == (export_folder / job.file_name).read_bytes()
    names = zipfile.ZipFile(io.BytesIO(body)).namelist()
    assert "datapackage.json" in names and "participants.csv" in names
    assert AuditLog.objects.filter(action="export_download", actor=researcher).count() == 1
    assert AuditLog.objects.filter(action="export", actor=researcher).count() == 1
    context.close()


def test_the_api_docs_render_offline_within_the_csp(live_server, browser):
    """Swagger UI and Redoc draw the schema from files of this server only (drf-spectacular-
    sidecar), with nothing fetched elsewhere and nothing refused by the Content-Security-Policy
    but Redoc's "by Redocly" logo (an image on their CDN that its footer always draws: the CSP
    keeps it from loading, which is the point)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    elsewhere, refused = [], []
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(live_server.url)
            else (elsewhere.append(route.request.url), route.abort())
        ),
    )
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.goto(f"{live_server.url}/api/v1/docs/")
    expect(page.get_by_text("/api/v1/ratings/", exact=True)).to_be_visible()
    page.goto(f"{live_server.url}/api/v1/redoc/")
    expect(page.get_by_role("heading", name="Common Ground API")).to_be_visible()
    expect(page.get_by_text("/api/v1/ratings/").first).to_be_attached()
    refused = [text for text in refused if "cdn.redoc.ly/redoc/logo-mini.svg" not in text]
    assert elsewhere == [] and refused == []
    context.close()
