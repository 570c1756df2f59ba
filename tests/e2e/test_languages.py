"""A German deliberation in a real browser (Debian's chromium, which asks for English): consent,
the wait for the group, the opinion page with its live character count in German number format,
a refused empty opinion, and the wait for the others; each page checked with axe-core. The group
is two people (the other joins through the services), so no worker is needed: nothing is
mediated before both have written. Screenshots go to `$CG_SCREENSHOTS` when set."""

import pytest
from django.urls import reverse

from deliberation.models import Opinion, Participant
from deliberation.services.deliberations import deliberation_create, question_create
from deliberation.services.participants import participant_consent, participant_join
from tests.e2e.a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

WAIT_MS = 30_000
OPINION = "Eine autofreie Innenstadt wäre ruhiger. Der Handel braucht aber eine gute Anbindung."


def test_a_german_deliberation_speaks_german_from_consent_to_the_wait(
    transactional_db, live_server, browser, screenshots
):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    question = question_create(
        text="Sollen Innenstädte für private Autos gesperrt werden?",
        affirming_statement="Innenstädte sollen für private Autos gesperrt werden.",
        negating_statement="Innenstädte sollen für private Autos offen bleiben.",
    )
    deliberation = deliberation_create(
        created_by=None,
        title="Autofreie Innenstadt",
        questions=[question],
        group_size=2,
        min_group_size=2,
        n_candidates=2,
        position_ratings=False,
        language="de",
    )
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(live_server.url + reverse("deliberation:join", args=[deliberation.public_id]))

    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("heading", name="Bevor Sie beginnen")).to_be_visible()
    expect(page.locator("#consent-text")).to_contain_text("Dies ist eine Forschungsstudie")
    page.screenshot(path=str(screenshots / "de-consent.png"), full_page=True)
    assert_accessible(page, "participant (de): consent")
    page.get_by_label("Ich habe die Informationen oben gelesen").check()
    page.get_by_role("button", name="Zustimmen und weiter").click()

    expect(
        page.get_by_role("heading", name="Warten, bis Ihre Gruppe vollständig ist")
    ).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("1 von 2 Personen sind da.")
    assert_accessible(page, "participant (de): waiting for the group")
    other = participant_join(deliberation=deliberation)
    participant_consent(participant=other, version=deliberation.consent_version)

    # The waiting page polls and moves on by itself once the group has started.
    expect(page.get_by_role("heading", name="Was denken Sie?")).to_be_visible()
    field = page.get_by_label("Ihre Meinung")
    field.fill(OPINION)
    expect(page.locator("#text-count")).to_have_text(f"{len(OPINION)} von 2.000 Zeichen")
    field.fill("x" * 2001)
    expect(page.locator("#text-count")).to_have_text("2.001 von 2.000 Zeichen: 1 zu viel")
    field.fill("")
    page.get_by_role("button", name="Senden").click()
    expect(page.locator("#text-error")).to_contain_text("Bitte schreiben Sie Ihre Meinung")
    page.screenshot(path=str(screenshots / "de-opinion-refused.png"), full_page=True)
    assert_accessible(page, "participant (de): opinion refused")

    page.get_by_label("Ihre Meinung").fill(OPINION)
    page.get_by_role("button", name="Senden").click()
    heading = "Warten, bis die anderen mit dem Schreiben fertig sind"
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.locator("#progress [role=status]")).to_have_text("1 von 2 Mitgliedern sind fertig.")
    page.screenshot(path=str(screenshots / "de-waiting.png"), full_page=True)
    assert_accessible(page, "participant (de): waiting for the others")
    context.close()

    human = Participant.objects.exclude(pk=other.pk).get(deliberation=deliberation)
    assert Opinion.objects.get(participant=human).text == OPINION
