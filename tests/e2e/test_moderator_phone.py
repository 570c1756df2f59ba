"""The moderator's pages on a 390 px phone (Debian's chromium against the live server): no page
is wider than the screen, and axe-core finds no serious or critical violation. The deliberation
has two conditions and a group whose first iteration was mediated (in-process, with the fake
model servers), so the group page shows candidates, predictions and ratings."""

import re

import pytest
from django.urls import reverse

from config import celery_app
from deliberation.models import Condition, Participant
from deliberation.selectors.participant import participant_step
from deliberation.services.deliberations import deliberation_create
from deliberation.services.moderators import moderator_ensure
from deliberation.services.participants import participant_consent, participant_join
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit
from tests.e2e.a11y import assert_accessible, assert_fits_viewport

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

PHONE = {"width": 390, "height": 844}
OPINIONS = [
    "Closing the centre makes it calmer and safer. People who walk stay longer in the shops.",
    "Traders depend on drivers and a closure would hurt small shops. Buses are not good enough.",
    "A trial on a few Saturdays would show what happens. We should decide on evidence.",
]


@pytest.fixture
def mediated_deliberation(transactional_db, settings):
    settings.INFERENCE_ENV = {"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"}
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        # The moderator who logs in below owns it (others get a 404 for it).
        owner, _ = moderator_ensure(
            username="mod", password="a-long-moderator-password", validate=False
        )
        deliberation = deliberation_create(
            created_by=owner,
            title="A deliberation whose title is long enough to need wrapping on a phone screen",
            questions=[
                "Should towns close their central streets to cars on weekends, and if so, "
                "which streets and for how long?",
                "Should public libraries open on Sundays?",
            ],
            group_size=3,
            min_group_size=3,
            n_candidates=4,
            critique_iterations=1,
            conditions=[
                {"name": "mediator-only"},
                {"name": "best-opinion-and-baseline", "comparisons": ["best_opinion"]},
            ],
        )
        members = []
        for _ in range(3):
            member = participant_join(deliberation=deliberation)
            participant_consent(participant=member, version=deliberation.consent_version)
            members.append(member.pk)
        members = list(Participant.objects.filter(pk__in=members).order_by("pk"))
        for member, text in zip(members, OPINIONS, strict=True):
            step = participant_step(member)
            opinion_submit(participant=member, iteration=step.iteration, text=text)
        for member in members:
            member.refresh_from_db()
            step = participant_step(member)
            if step.kind == "rate":
                rating_submit(participant=member, statement=step.statement, agreement=5, quality=4)
        yield deliberation
    finally:
        celery_app.conf.task_always_eager = previous


def test_moderator_pages_fit_a_phone_and_pass_axe(live_server, browser, mediated_deliberation):
    deliberation = mediated_deliberation
    assert Condition.objects.filter(deliberation=deliberation).count() == 2
    moderator_ensure(username="mod", password="a-long-moderator-password", validate=False)
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(live_server.url + "/accounts/login/?next=/moderate/")
    assert_fits_viewport(page, "log in")
    page.get_by_label("Username").fill("mod")
    page.get_by_label("Password").fill("a-long-moderator-password")
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    page.wait_for_url(re.compile("/moderate/$"))
    group = deliberation.groups.get()
    for state, path in (
        ("home", reverse("moderator:home")),
        ("create", reverse("moderator:deliberation_create")),
        ("questions", reverse("moderator:questions")),
        ("deliberation", reverse("moderator:deliberation_detail", args=[deliberation.public_id])),
        ("group", reverse("moderator:group_detail", args=[deliberation.public_id, group.number])),
        ("consent text", reverse("moderator:consent_edit", args=[deliberation.public_id])),
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 200, (state, response.status)
        assert_fits_viewport(page, f"moderator at 390 px: {state}")
        assert_accessible(page, f"moderator at 390 px: {state}")

    # The group's "Now" panel replaces itself every few seconds, except while the focus is inside
    # it (static/js/live.js; the policy forbids the eval an htmx trigger filter would need).
    page.goto(live_server.url + reverse("moderator:group_detail", args=[deliberation.public_id, 1]))
    polls: list[str] = []
    page.on(
        "request", lambda request: polls.append(request.url) if "/now/" in request.url else None
    )
    with page.expect_request(re.compile("/now/")):
        pass  # unfocused: it polls
    page.locator("#now textarea, #now input:not([type=hidden])").first.focus()
    seen = len(polls)
    page.wait_for_timeout(7_000)  # more than two poll intervals (3 s)
    assert len(polls) == seen, "the panel polled while a field inside it had the focus"
    page.evaluate("document.activeElement.blur()")
    with page.expect_request(re.compile("/now/")):
        pass  # focus gone: polling again

    # People have joined: the set-up's edit page says why it cannot be edited.
    response = page.goto(
        live_server.url + reverse("moderator:deliberation_edit", args=[deliberation.public_id])
    )
    assert response.status == 409
    assert_fits_viewport(page, "moderator at 390 px: edit refused")
    assert_accessible(page, "moderator at 390 px: edit refused")
    context.close()
