"""Nothing typed is lost, in a real browser (Debian's chromium) against the live server and a real
Celery worker: an opinion being written survives a reload and opens in a second tab, the live
character count follows the 2,000 limit, a too-long send is refused with the text kept, and the
draft is cleared once the opinion is sent."""

import pytest
from django.urls import reverse

from deliberation.models import Opinion, Participant
from deliberation.services.deliberations import deliberation_create
from tests.e2e.a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(180)]

WAIT_MS = 60_000
DRAFT = "Closing the centre on Saturdays would make it calmer. Shops need a trial first."


def _drafts(page) -> dict:
    return page.evaluate(
        "Object.fromEntries(Object.keys(localStorage).filter(k => k.startsWith('cg-draft:'))"
        ".map(k => [k, localStorage.getItem(k)]))"
    )


def test_a_draft_survives_a_reload_and_a_second_tab_and_is_cleared_once_sent(
    transactional_db, live_server, live_worker, browser
):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    deliberation = deliberation_create(
        created_by=None,
        title="Drafts",
        questions=["Should towns close their central streets to cars on weekends?"],
        group_size=3,
        min_group_size=3,
        n_candidates=2,
        fill_with_bots=True,
    )
    join_url = live_server.url + reverse("deliberation:join", args=[deliberation.public_id])
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(join_url)
    page.get_by_label("I have read the information above and agree to take part.").check()
    page.get_by_role("button", name="Agree and continue").click()
    expect(page.get_by_role("heading", name="What do you think?")).to_be_visible()
    field = page.get_by_label("Your opinion")

    field.fill(DRAFT)
    expect(page.locator("#text-count")).to_have_text(f"{len(DRAFT)} of 2,000 characters")
    page.reload()
    expect(page.get_by_label("Your opinion")).to_have_value(DRAFT)
    expect(page.locator("#draft-restored")).to_be_visible()
    assert_accessible(page, "participant: draft restored")

    second = context.new_page()
    second.goto(live_server.url + reverse("deliberation:step", args=[deliberation.public_id]))
    expect(second.get_by_label("Your opinion")).to_have_value(DRAFT)
    second.close()

    # Too long: the count says by how much; the send is refused and the text stays, with why.
    too_long = DRAFT + " " + "x" * (2000 - len(DRAFT))
    field = page.get_by_label("Your opinion")
    field.fill(too_long)
    expect(page.locator("#text-count")).to_have_text("2,001 of 2,000 characters: 1 too many")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#text-error")).to_contain_text("2,001 characters long")
    assert_accessible(page, "participant: too long, text kept")
    expect(page.get_by_label("Your opinion")).to_have_value(too_long)
    # Opened again, the refused text is the draft.
    page.goto(live_server.url + reverse("deliberation:step", args=[deliberation.public_id]))
    expect(page.get_by_label("Your opinion")).to_have_value(too_long)

    page.get_by_label("Your opinion").fill(DRAFT)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="What do you think?")).to_have_count(0)
    human = Participant.objects.get(deliberation=deliberation, provenance="human_citizen")
    assert Opinion.objects.get(participant=human).text == DRAFT
    assert _drafts(page) == {}  # sent: nothing left to restore
    context.close()
