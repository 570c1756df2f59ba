"""htmx under the Content-Security-Policy, in a real browser: the waiting page polls its status
endpoint and follows the group to the opinion step by itself, and the browser reports no
violation of the policy (an inline script or style htmx injected would be one)."""

import pytest
from django.urls import reverse

from deliberation.models import Participant
from deliberation.services.deliberations import deliberation_create
from deliberation.services.participants import participant_consent, participant_join

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

WAIT_MS = 30_000


def test_the_waiting_page_polls_and_moves_on_under_the_csp(transactional_db, live_server, browser):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    deliberation = deliberation_create(
        created_by=None,
        title="Polling under a policy",
        questions=["Should towns close their central streets to cars on weekends?"],
        group_size=2,
        min_group_size=2,
        n_candidates=4,
    )
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    polls: list[str] = []
    page.on(
        "request", lambda request: polls.append(request.url) if "/status/" in request.url else None
    )

    response = page.goto(
        live_server.url + reverse("deliberation:join", args=[deliberation.public_id])
    )
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("I have read the information above and agree to take part.").check()
    page.get_by_role("button", name="Agree and continue").click()
    page.wait_for_url("**/go/")
    # Alone in the group: the page waits, polling (htmx) without reloading itself.
    page.wait_for_function("window.htmx !== undefined")
    with page.expect_request("**/status/**"):
        pass
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # The second member arrives: the group starts, and a poll takes the page to the new step.
    other = participant_join(deliberation=deliberation)
    participant_consent(participant=other, version=deliberation.consent_version)
    expect(page.get_by_role("heading", name="What do you think?")).to_be_visible()
    assert polls, "htmx never polled the status endpoint"
    assert Participant.objects.filter(deliberation=deliberation).count() == 2
    assert violations == []
    context.close()
