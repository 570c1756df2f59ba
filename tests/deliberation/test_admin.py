import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from deliberation import models
from deliberation.services.deliberations import deliberation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_with_data(admin_client):
    deliberation = deliberation_create(created_by=None, title="T", questions=["Q?"])
    group = models.Group.objects.create(deliberation=deliberation, number=1)
    participant = models.Participant.objects.create(deliberation=deliberation, group=group, seat=0)
    models.PanelIdentity.objects.create(
        participant=participant, panel="prolific", external_id="PROLIFIC-SECRET-ID"
    )
    return admin_client


def test_every_model_of_the_app_is_registered():
    # Question links are edited inline on their deliberation.
    inline_only = {models.DeliberationQuestion}
    app_models = set(apps.get_app_config("deliberation").get_models())
    assert app_models - inline_only - set(admin.site._registry) == set()


def test_every_changelist_and_add_page_renders(admin_client_with_data):
    # Tokens are made by their owner (the secret is shown once, there); export jobs by the Data
    # page and the API; worker heartbeats by the workers: the admin only looks them up.
    not_addable = {models.ApiToken, models.ExportJob, models.WorkerHeartbeat}
    for model in admin.site._registry:
        if model._meta.app_label != "deliberation":
            continue
        opts = model._meta
        for view in ("changelist", "add"):
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}")
            expected = 403 if view == "add" and model in not_addable else 200
            assert admin_client_with_data.get(url).status_code == expected, url


def test_panel_ids_show_only_on_the_panel_identity_pages(admin_client_with_data):
    participant = models.Participant.objects.get()
    pages = [
        reverse("admin:deliberation_participant_changelist"),
        reverse("admin:deliberation_participant_change", args=[participant.pk]),
    ]
    for url in pages:
        assert b"PROLIFIC-SECRET-ID" not in admin_client_with_data.get(url).content
    panel_page = admin_client_with_data.get(reverse("admin:deliberation_panelidentity_changelist"))
    assert b"PROLIFIC-SECRET-ID" in panel_page.content
