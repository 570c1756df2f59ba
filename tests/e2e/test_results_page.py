"""A moderator opens the results page of a simulated study in a real browser (Debian's
chromium): from the deliberation's page, people only at first (nothing to show, and the page
says why), then with bots; charts are images with a name, each column's definition is one
click away, a table downloads as CSV, and axe-core finds no serious or critical violation."""

import io
import json
import re

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from deliberation.models import Deliberation
from tests.e2e.a11y import assert_accessible

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

WAIT_MS = 60_000
PASSWORD = "a-long-moderator-password"


def test_moderator_reads_the_results_page(transactional_db, live_server, browser, settings):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    settings.INFERENCE_ENV = {"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"}
    out = io.StringIO()
    call_command(
        "simulate", "--groups", "2", "--size", "3", "--iterations", "2", "--conditions",
        "baseline,exclusion", "--question-source", "built-in", "--json", stdout=out,
    )  # fmt: skip
    public_id = json.loads(out.getvalue())["deliberation"]
    moderator = User.objects.create_user("mod", password=PASSWORD)
    moderator.user_permissions.add(Permission.objects.get(codename="moderate"))
    Deliberation.objects.filter(public_id=public_id).update(created_by=moderator)

    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/?next=/moderate/d/{public_id}/")
    page.get_by_label("Username").fill("mod")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Log in", re.I)).click()
    page.get_by_role("link", name="Results and statistics").click()

    expect(page.get_by_role("heading", name=re.compile("^Results: "))).to_be_visible()
    expect(page.locator("#population")).to_contain_text("People only.")
    expect(page.locator("#population")).to_contain_text("no people took part")
    assert_accessible(page, "results page, people only")

    page.get_by_role("link", name="Include bots").click()
    expect(page.locator("#population")).to_contain_text("People and bots together.")
    chart = page.get_by_role("img", name="Win rates: share preferring A over B")
    expect(chart).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("included vs excluded"))).to_be_visible()
    expect(page.locator("#table-win_rates tbody tr")).not_to_have_count(0)
    assert_accessible(page, "results page with bots")

    # a number's definition is one click away
    page.locator("#table-win_rates thead").get_by_role("link", name="A preferred").click()
    assert page.url.endswith("#def-win_rate")
    expect(page.locator("#def-win_rate + dd")).to_contain_text("ties counted half")

    with page.expect_download() as download:
        page.locator("#table-win_rates caption").get_by_role("link", name="(CSV)").click()
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.startswith("condition,iteration_index,a,b,rate")
    assert "candidate,baseline" in text
    context.close()
