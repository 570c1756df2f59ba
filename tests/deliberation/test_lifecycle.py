"""A moderator clones a deliberation into a new draft and archives one (hidden from the lists,
closed, data kept), through the pages (Django's test client, real PostgreSQL)."""

import pytest

from deliberation.models import AuditLog, Deliberation, Opinion
from deliberation.selectors.participant import participant_step
from deliberation.services.deliberations import deliberation_create
from deliberation.services.participants import participant_consent, participant_join
from deliberation.services.texts import opinion_submit
from tests.commits import committed

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(moderator):
    return deliberation_create(
        created_by=moderator,
        title="Original",
        questions=["First question?", "Second question?"],
        group_size=3,
        min_group_size=3,
        critique_iterations=1,
        completion_code="C0DE",
        panel="prolific",
        conditions=[
            {"name": "plain"},
            {
                "name": "best",
                "comparisons": ["best_opinion"],
                "mediation_config": {"n_candidates": 2},
            },
        ],
        survey_items=[{"key": "fair", "text": "Fair?", "kind": "likert", "required": True}],
    )


def test_clone_makes_a_draft_with_the_same_set_up_and_none_of_the_people(
    study, mod_client, moderator, make_group
):
    response = mod_client.post(f"/moderate/d/{study.public_id}/clone/")
    assert response.status_code == 302
    copy = Deliberation.objects.exclude(pk=study.pk).get()
    assert response.url == f"/moderate/d/{copy.public_id}/"
    assert copy.title == "Copy of Original"
    assert copy.status == Deliberation.Status.DRAFT
    assert copy.created_by == moderator
    assert [link.question_id for link in copy.question_links.order_by("position")] == [
        link.question_id for link in study.question_links.order_by("position")
    ]
    for field in (
        "critique_iterations",
        "completion_code",
        "panel",
        "survey_items",
        "consent_text",
    ):
        assert getattr(copy, field) == getattr(study, field), field
    assert list(copy.conditions.values_list("name", "comparisons", "mediation_config")) == list(
        study.conditions.values_list("name", "comparisons", "mediation_config")
    )
    assert not copy.participants.exists()
    assert AuditLog.objects.filter(action="deliberation_clone", actor=moderator).exists()
    # A draft takes nobody until it is opened.
    assert mod_client.get(f"/j/{copy.public_id}/").status_code == 404


def test_archived_deliberation_leaves_the_lists_is_closed_and_keeps_its_data(
    study, mod_client, moderator
):
    members = []
    for _ in range(3):
        member = participant_join(deliberation=study)
        members.append(participant_consent(participant=member, version=study.consent_version))
    for member in members:
        member.refresh_from_db()
    step = participant_step(members[0])
    with committed():
        opinion_submit(participant=members[0], iteration=step.iteration, text="Keep this opinion.")
    link = f'href="/moderate/d/{study.public_id}/"'
    assert link in mod_client.get("/moderate/").content.decode()

    response = mod_client.post(f"/moderate/d/{study.public_id}/archive/")
    assert response.status_code == 302
    study.refresh_from_db()
    assert study.archived_at is not None and study.status == Deliberation.Status.CLOSED
    assert link not in mod_client.get("/moderate/").content.decode()
    page = mod_client.get(f"/moderate/d/{study.public_id}/").content.decode()
    assert "Archived on" in page
    assert Opinion.objects.filter(participant=members[0]).count() == 1
    assert study.participants.count() == 3
    assert AuditLog.objects.filter(action="deliberation_archive", actor=moderator).exists()

    mod_client.post(f"/moderate/d/{study.public_id}/restore/")
    study.refresh_from_db()
    assert study.archived_at is None and study.status == Deliberation.Status.CLOSED
    assert link in mod_client.get("/moderate/").content.decode()
