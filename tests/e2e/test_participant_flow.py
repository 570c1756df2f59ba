"""A participant's whole round in a real browser (Debian's chromium, headless, phone-sized),
against the live server and a real Celery worker: the bots that fill the group and the mediator
run in the worker, and the waiting page follows the group by itself (htmx polling).

Screenshots of the rating and the done page go to `$CG_SCREENSHOTS` when set, else to the test's
temporary directory.
"""

import re

import pytest
from django.urls import reverse

from deliberation.models import CandidateSet, Iteration, Opinion, Participant, Rating, Statement
from deliberation.services.deliberations import deliberation_create
from tests.e2e.a11y import assert_accessible
from tests.worker import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(240)]

PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000
N_CANDIDATES = 6
OPINION = (
    "I think towns should try closing the centre to cars on a few weekends first. "
    "Shops and people with limited mobility need a say before anything becomes permanent. "
    "If the trial goes well, it could become a regular thing."
)


def _choose_by_keyboard(page, name: str, value: int) -> None:
    """Tab until a radio of the group `name` has focus, then arrow keys until `value` is chosen."""
    for _ in range(30):
        if page.evaluate("document.activeElement.name") == name:
            break
        page.keyboard.press("Tab")
    else:
        pytest.fail(f"Tab never reached the {name!r} radio group")
    for _ in range(14):
        current = page.evaluate("document.activeElement.value")
        if current == str(value):
            break
        page.keyboard.press("ArrowRight" if int(current) < value else "ArrowLeft")
    assert page.evaluate("[document.activeElement.value, document.activeElement.checked]") == [
        str(value),
        True,
    ]


def test_participant_joins_writes_waits_rates_by_keyboard_and_finishes(
    transactional_db, live_server, live_worker, browser, screenshots
):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    deliberation = deliberation_create(
        created_by=None,
        title="Streets for people",
        questions=["Should towns close their central streets to cars on weekends?"],
        group_size=5,
        min_group_size=3,
        n_candidates=N_CANDIDATES,
        fill_with_bots=True,
    )
    join_url = live_server.url + reverse("deliberation:join", args=[deliberation.public_id])
    step_url = live_server.url + reverse("deliberation:step", args=[deliberation.public_id])
    context = browser.new_context(viewport=PHONE, device_scale_factor=2)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()

    # Consent. Joining seats four bots beside the participant, and the group starts.
    page.goto(join_url)
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    assert_accessible(page, "participant: consent")
    page.get_by_label("I have read the information above and agree to take part.").check()
    page.get_by_role("button", name="Agree and continue").click()
    expect(page.get_by_role("heading", name="What do you think?")).to_be_visible()
    human = Participant.objects.get(deliberation=deliberation, provenance="human_citizen")
    iteration = Iteration.objects.get(round__group=human.group, index=0)
    assert human.group.members.count() == 5

    # The bots write in the worker, in their own task.
    wait_until(
        lambda: Opinion.objects.filter(iteration=iteration).count() == 4,
        timeout=WAIT_MS / 1000,
        what="the four bots to write their opinions in the worker",
    )

    # An empty opinion is refused with a message; a refused opinion keeps its text.
    textbox = page.get_by_label("Your opinion")
    send = page.get_by_role("button", name="Send")
    send.click()
    expect(page.get_by_role("alert")).to_contain_text("Please write your opinion")
    assert_accessible(page, "participant: opinion refused")
    too_long = "This opinion goes on and on. " * 80
    textbox.fill(too_long)
    send.click()
    expect(page.get_by_role("alert")).to_contain_text("please keep it to 2,000")
    assert page.get_by_label("Your opinion").input_value() == too_long
    assert not Opinion.objects.filter(participant=human).exists()

    # With the worker paused the mediation waits on the queue, so the waiting page is certain
    # to show; reloading it or opening it in a second tab lands on the same step.
    live_worker.pause()
    try:
        page.get_by_label("Your opinion").fill(OPINION)
        page.get_by_role("button", name="Send").click()
        mediating = page.get_by_role("heading", name="The mediator is writing a group statement")
        expect(mediating).to_be_visible()
        assert_accessible(page, "participant: mediating")
        page.wait_for_function("window.htmx !== undefined")
        page.reload()
        expect(mediating).to_be_visible()
        second = context.new_page()
        second.goto(step_url)
        expect(
            second.get_by_role("heading", name="The mediator is writing a group statement")
        ).to_be_visible()
    finally:
        live_worker.resume()

    # The worker mediates; the waiting page moves on by itself to the rating step.
    expect(page.get_by_role("heading", name="Rate the group statement")).to_be_visible()
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    expect(page.locator("#statement")).to_have_text(winner.text)
    page.screenshot(path=str(screenshots / "rate.png"), full_page=True)
    assert_accessible(page, "participant: rate the group statement")

    # Rating, keyboard only.
    _choose_by_keyboard(page, "agreement", 6)
    page.keyboard.press("Tab")
    _choose_by_keyboard(page, "quality", 3)
    page.locator("form").screenshot(path=str(screenshots / "rate-keyboard.png"))
    for _ in range(5):
        if page.evaluate("document.activeElement.tagName") == "BUTTON":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Send rating"
    page.keyboard.press("Enter")

    # The end-of-round survey, then the done page.
    expect(page.get_by_role("heading", name="A few questions about this round")).to_be_visible()
    assert_accessible(page, "participant: survey")
    page.get_by_role("group", name=re.compile("help you see")).get_by_label("6 · A lot").check()
    page.get_by_role("group", name=re.compile("represent your own view")).get_by_label(
        "5 · Quite a lot"
    ).check()
    page.get_by_role("button", name="Continue").click()
    done = page.get_by_role("heading", name=re.compile("you are done"))
    expect(done).to_be_visible()
    page.screenshot(path=str(screenshots / "done.png"), full_page=True)
    assert_accessible(page, "participant: done")
    second.reload()
    expect(second.get_by_role("heading", name=re.compile("you are done"))).to_be_visible()
    third = context.new_page()
    third.goto(step_url)
    expect(third.get_by_role("heading", name=re.compile("you are done"))).to_be_visible()
    context.close()

    assert Opinion.objects.filter(iteration=iteration).count() == 5
    candidate_set = CandidateSet.objects.get(iteration=iteration)
    assert Statement.objects.filter(candidate_set=candidate_set).count() == N_CANDIDATES
    ratings = Rating.objects.filter(iteration=iteration)
    assert ratings.count() == 5
    assert ratings.filter(participant__provenance="bot_citizen").count() == 4
    mine = ratings.get(participant=human)
    assert (mine.agreement, mine.quality, mine.statement_id) == (6, 3, winner.pk)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE


def _rate_by_keyboard(page, agreement: int, quality: int) -> None:
    _choose_by_keyboard(page, "agreement", agreement)
    page.keyboard.press("Tab")
    _choose_by_keyboard(page, "quality", quality)
    page.get_by_role("button", name="Send rating").click()


def test_a_two_iteration_round_with_ranking_and_position_ratings(
    transactional_db, live_server, live_worker, browser, screenshots
):
    """Position rating before; opinion; the winner and the best opinion rated and ranked (the
    ranking by keyboard, with the move announced); a critique of the winner; the revision rated;
    the final ranking between the two winners; position rating after; the survey; done."""
    from playwright.sync_api import expect

    from deliberation.models import PositionRating, Question, Ranking, Round

    expect.set_options(timeout=WAIT_MS)
    since = len(live_worker.log())
    question = Question.objects.create(
        text="Should towns close their central streets to cars on weekends?",
        affirming_statement="Towns should close their central streets to cars on weekends.",
        negating_statement="Towns should NOT close their central streets to cars on weekends.",
    )
    deliberation = deliberation_create(
        created_by=None,
        title="Streets for people",
        questions=[question],
        group_size=3,
        min_group_size=3,
        n_candidates=4,
        critique_iterations=1,
        fill_with_bots=True,
        conditions=[{"name": "best-opinion", "comparisons": ["best_opinion"]}],
    )
    join_url = live_server.url + reverse("deliberation:join", args=[deliberation.public_id])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.goto(join_url)
    page.get_by_label("I have read the information above and agree to take part.").check()
    page.get_by_role("button", name="Agree and continue").click()

    # Position rating before the round.
    expect(page.get_by_role("heading", name=re.compile("where do you stand\\?"))).to_be_visible()
    assert_accessible(page, "participant: position before")
    expect(page.locator("#position-statement")).to_have_text(question.affirming_statement)
    page.get_by_label("3 · Somewhat disagree").check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="What do you think?")).to_be_visible()
    page.get_by_label("Your opinion").fill(OPINION)
    page.get_by_role("button", name="Send").click()

    # Two statements to rate: the winner and the best opinion, in this member's order.
    expect(page.get_by_role("heading", name="Rate statement A")).to_be_visible()
    _rate_by_keyboard(page, 6, 5)
    expect(page.get_by_role("heading", name="Rate statement B")).to_be_visible()
    _rate_by_keyboard(page, 3, 4)

    # The ranking starts unranked, and sent untouched it is refused: no order is made up.
    expect(page.get_by_role("heading", name="Put the statements in order")).to_be_visible()
    page.wait_for_load_state("load")
    assert [page.get_by_label("Place").nth(i).input_value() for i in range(2)] == ["", ""]
    page.get_by_role("button", name="Send ranking").click()
    expect(page.locator(".error").first).to_contain_text("you have not ranked the statements yet")
    assert_accessible(page, "participant: ranking refused")
    assert not Ranking.objects.filter(
        participant__deliberation=deliberation, participant__provenance="human_citizen"
    ).exists()
    # Ranking by keyboard: focus "Move up statement B", press Enter; the move is announced.
    page.wait_for_load_state("load")
    move_up = page.get_by_role("button", name="Move up statement B")
    move_up.press("Enter")  # focuses the button, then the key
    expect(page.locator("#rank-status")).to_have_text("Statement B moved to place 1 of 2.")
    assert page.evaluate("document.activeElement.textContent") == "Move up statement B"
    assert [page.get_by_label("Place").nth(i).input_value() for i in range(2)] == ["1", "2"]
    page.screenshot(path=str(screenshots / "rank.png"), full_page=True)
    assert_accessible(page, "participant: ranking by keyboard")
    page.get_by_role("button", name="Send ranking").click()

    # The critique of the winner, then the revision.
    expect(page.get_by_role("heading", name="What would you change?")).to_be_visible()
    human = Participant.objects.get(deliberation=deliberation, provenance="human_citizen")
    round_ = Round.objects.get(group=human.group)
    first_winner = Statement.objects.get(
        iteration__round=round_, iteration__index=0, is_winner=True
    )
    expect(page.locator("#critiqued-statement")).to_have_text(first_winner.text)
    assert_accessible(page, "participant: critique")
    page.get_by_label("Your critique").fill("It should say who pays for the buses.")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Rate the group statement")).to_be_visible()
    _rate_by_keyboard(page, 5, 5)

    # Final ranking between the two winners, by choosing places (the plain-form way).
    expect(page.get_by_role("heading", name="Which version do you prefer?")).to_be_visible()
    assert_accessible(page, "participant: final ranking")
    places = page.get_by_label("Place")
    places.nth(0).select_option("2")
    places = page.get_by_label("Place")
    places.nth(1).select_option("1")
    page.get_by_role("button", name="Send ranking").click()

    expect(page.get_by_role("heading", name=re.compile("where do you stand now"))).to_be_visible()
    assert_accessible(page, "participant: position after")
    page.get_by_label("5 · Somewhat agree").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="A few questions about this round")).to_be_visible()
    page.get_by_role("group", name=re.compile("help you see")).get_by_label("4 · Somewhat").check()
    page.get_by_role("group", name=re.compile("represent your own view")).get_by_label(
        "4 · Somewhat"
    ).check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name=re.compile("you are done"))).to_be_visible()
    context.close()

    positions = dict(
        PositionRating.objects.filter(participant=human).values_list("index", "agreement")
    )
    assert positions == {0: 3, 1: 5}
    ranking = Ranking.objects.get(participant=human, kind="statements")
    assert ranking.numerical_ranks == [1, 0]  # B, second shown, moved to first place
    final = Ranking.objects.get(participant=human, kind="final")
    assert final.numerical_ranks == [1, 0]
    assert Rating.objects.filter(participant=human).count() == 3
    human.refresh_from_db()
    assert human.status == Participant.Status.COMPLETED
    # What was rated first: the winner and the best opinion beside it; then the revision.
    rated = Rating.objects.filter(participant=human).values_list(
        "statement__iteration__index", "statement__role"
    )
    assert sorted(rated) == [(0, "best_opinion"), (0, "candidate"), (1, "candidate")]
    # Both mediations ran in the worker, returning the candidate sets stored for them.
    mediated = set(
        re.findall(
            r"mediate_iteration\[[^\]]+\] succeeded in [\d.]+s: (\d+)", live_worker.log()[since:]
        )
    )
    stored = {
        str(pk)
        for pk in CandidateSet.objects.filter(iteration__round=round_).values_list("pk", flat=True)
    }
    assert len(stored) == 2 and stored <= mediated
