"""A moderator sets up and runs a two-round, two-iteration study with two conditions in a real
browser (Debian's chromium) against the live server and a real Celery worker; a participant takes
the whole study in a second browser context, with bots in the empty seats; the moderator watches
the live page and extends a deadline.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from deliberation.models import (
    AuditLog,
    CandidateSet,
    Deliberation,
    Group,
    Iteration,
    Participant,
    PositionRating,
    Provenance,
    Ranking,
    Statement,
    SurveyResponse,
)
from deliberation.services.deliberations import question_create
from deliberation.services.moderators import moderator_ensure
from deliberation.services.participants import participant_consent, participant_join
from tests.e2e.a11y import assert_accessible
from tests.worker import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.timeout(300)]

WAIT_MS = 60_000


def _answer_current_step(page) -> str:
    """Answer whatever step the participant's page shows, or wait on a waiting page until it
    changes; returns its heading ("" = no heading yet)."""
    from playwright.sync_api import expect

    heading = page.locator("h1")
    if heading.count() == 0:
        page.wait_for_timeout(300)
        return ""
    text = heading.first.inner_text()
    assert_accessible(page, f"participant: {text}", once=True)
    if "where do you stand" in text:
        page.get_by_label("4 · Neutral").check()
        page.get_by_role("button", name="Continue").click()
    elif text == "What do you think?":
        page.get_by_label("Your opinion").fill(
            "Closing streets on weekends makes them calmer, but shops and disabled people need "
            "access. A trial first would tell us more."
        )
        page.get_by_role("button", name="Send").click()
    elif text == "What would you change?":
        page.get_by_label("Your critique").fill("It should say who pays and who decides.")
        page.get_by_role("button", name="Send").click()
    elif text.startswith("Rate"):
        page.get_by_label("5 · Somewhat agree").check()
        page.get_by_label("5 · Somewhat good").check()
        page.get_by_role("button", name="Send rating").click()
    elif text in ("Put the statements in order", "Which version do you prefer?"):
        # Places start unchosen: the member puts the last statement first, by hand.
        places = page.get_by_label("Place")
        count = places.count()
        for index in range(count):
            page.get_by_label("Place").nth(index).select_option(str(count - index))
        page.get_by_role("button", name="Send ranking").click()
    elif text == "A few questions about this round":
        for group in page.get_by_role("group").filter(has=page.get_by_label("4 · Somewhat")).all():
            group.get_by_label("4 · Somewhat").check()
        page.get_by_role("button", name="Continue").click()
    elif "you are done" in text:
        return text
    else:
        # A waiting page: it moves on by itself when the group does.
        expect(heading.first).not_to_have_text(text, timeout=WAIT_MS)
        return text
    page.wait_for_load_state()
    return text


def test_a_moderator_sets_up_and_runs_a_study_with_conditions(
    transactional_db, live_server, live_worker, browser
):
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    since = len(live_worker.log())
    moderator_ensure(username="mod", password="a-long-moderator-password", validate=False)
    streets, libraries = (
        question_create(
            text=text, affirming_statement=yes, negating_statement=no, source="hm_questions"
        )
        for text, yes, no in (
            (
                "Should towns close their central streets to cars on weekends?",
                "Towns should close their central streets to cars on weekends.",
                "Towns should NOT close their central streets to cars on weekends.",
            ),
            (
                "Should public libraries open on Sundays?",
                "Public libraries should open on Sundays.",
                "Public libraries should NOT open on Sundays.",
            ),
        )
    )
    mod = browser.new_context(viewport={"width": 1280, "height": 1000})
    mod.set_default_timeout(WAIT_MS)
    mp = mod.new_page()

    # Log in and set the study up on the create page.
    mp.goto(live_server.url + "/accounts/login/?next=/moderate/new/")
    assert_accessible(mp, "moderator: log in")
    mp.get_by_label("Username").fill("mod")
    mp.get_by_label("Password").fill("not-the-password")
    mp.get_by_role("button", name=re.compile("Log in", re.I)).click()
    expect(mp.get_by_role("alert")).to_be_visible()
    assert_accessible(mp, "moderator: log in refused")
    mp.get_by_label("Username").fill("mod")
    mp.get_by_label("Password").fill("a-long-moderator-password")
    mp.get_by_role("button", name=re.compile("Log in", re.I)).click()
    expect(mp.get_by_role("button", name="Create deliberation")).to_be_visible()
    assert_accessible(mp, "moderator: create")
    mp.get_by_label("Title").fill("Streets and libraries")
    # Two saved questions (with position statements), picked with the live search.
    for words, question in (("central streets", streets), ("libraries", libraries)):
        mp.get_by_label("Search saved questions").fill(words)
        found = mp.get_by_label(re.compile(re.escape(question.text)))
        expect(found).to_be_visible()
        found.check()
    mp.get_by_label("Search saved questions").fill("")
    mp.get_by_label("Group size", exact=True).fill("3")
    mp.get_by_label("Minimum group size").fill("3")
    mp.get_by_label("Fill empty seats with bots").check()
    mp.get_by_label("Critique iterations").fill("1")
    mp.get_by_label("Candidate statements").fill("4")
    first = mp.locator("fieldset.condition").nth(0)
    first.get_by_label("Name").fill("mediator-only")
    second = mp.locator("fieldset.condition").nth(1)
    second.get_by_label("Name").fill("best-opinion")
    second.get_by_label(re.compile("best opinion")).check()
    mp.get_by_role("button", name="Create deliberation").click()

    expect(mp.get_by_role("heading", name="Streets and libraries")).to_be_visible()
    deliberation = Deliberation.objects.get(title="Streets and libraries")
    assert deliberation.critique_iterations == 1
    assert [link.question for link in deliberation.question_links.order_by("position")] == [
        streets,
        libraries,
    ]
    assert dict(deliberation.conditions.values_list("name", "comparisons")) == {
        "mediator-only": [],
        "best-opinion": ["best_opinion"],
    }

    # Before anyone joins, the moderator edits the set-up on the same form, filled in: a
    # condition row added and removed again (htmx swaps the conditions), a description added.
    mp.get_by_role("link", name="Edit the set-up").click()
    expect(mp.get_by_role("heading", name="Edit the set-up")).to_be_visible()
    expect(mp.get_by_label("Title")).to_have_value("Streets and libraries")
    expect(mp.locator("fieldset.condition").nth(1).get_by_label("Name")).to_have_value(
        "best-opinion"
    )
    assert_accessible(mp, "moderator: edit set-up")
    mp.get_by_role("button", name="Add another condition").click()
    third = mp.locator("fieldset.condition").nth(2).get_by_label("Name")
    expect(third).to_be_focused()
    third.fill("not-wanted")
    assert_accessible(mp, "moderator: edit set-up, a row added")
    mp.get_by_role("button", name="Remove condition 3").click()
    expect(mp.locator("fieldset.condition")).to_have_count(2)
    expect(mp.get_by_role("status").filter(has_text="Condition 3 removed")).to_be_visible()
    mp.get_by_label("Description").first.fill("Edited before anyone joined.")
    mp.get_by_role("button", name="Save the set-up").click()
    expect(mp.get_by_text("The new set-up is saved.")).to_be_visible()
    edited = Deliberation.objects.get(pk=deliberation.pk)
    assert edited.public_id == deliberation.public_id
    assert edited.description == "Edited before anyone joined."
    assert sorted(edited.conditions.values_list("name", flat=True)) == [
        "best-opinion",
        "mediator-only",
    ]
    assert edited.critique_iterations == 1

    # A participant takes the study; bots fill the other seats (their group is group 1).
    person = browser.new_context(viewport={"width": 390, "height": 844})
    person.set_default_timeout(WAIT_MS)
    pp = person.new_page()
    pp.goto(live_server.url + reverse("deliberation:join", args=[deliberation.public_id]))
    pp.get_by_label("I have read the information above and agree to take part.").check()
    pp.get_by_role("button", name="Agree and continue").click()
    human = Participant.objects.get(deliberation=deliberation, provenance=Provenance.HUMAN_CITIZEN)
    # A second group, of bots only, gets the other condition (balanced assignment).
    for _ in range(3):
        bot = participant_join(deliberation=deliberation, provenance=Provenance.BOT_CITIZEN)
        participant_consent(participant=bot, version=deliberation.consent_version)
    groups = list(Group.objects.filter(deliberation=deliberation).order_by("number"))
    assert len(groups) == 2
    assert {g.condition.name for g in groups} == {"mediator-only", "best-opinion"}

    # The moderator's live page lists both groups with their condition and phase, and no longer
    # offers to edit the set-up.
    mp.reload()
    expect(mp.get_by_role("link", name="Edit the set-up")).to_have_count(0)
    table = mp.locator("table").first
    expect(table).to_contain_text("mediator-only")
    expect(table).to_contain_text("best-opinion")
    assert_accessible(mp, "moderator: deliberation")

    # The participant rates the position statement; while the opinion phase is open, the
    # moderator extends its deadline from the group's page.
    assert "where do you stand" in _answer_current_step(pp)
    expect(pp.get_by_role("heading", name="What do you think?")).to_be_visible()
    open_phase = Iteration.objects.get(round__group=human.group, index=0)
    assert open_phase.state == Iteration.State.COLLECTING
    before = open_phase.deadline
    mp.goto(
        live_server.url
        + reverse("moderator:group_detail", args=[deliberation.public_id, human.group.number])
    )
    assert_accessible(mp, "moderator: group")
    mp.get_by_label(re.compile("minutes", re.I)).first.fill("15")
    mp.get_by_role("button", name=re.compile("Extend", re.I)).first.click()
    expect(mp.get_by_text(re.compile("extended", re.I)).first).to_be_visible()
    open_phase.refresh_from_db()
    assert open_phase.deadline > before
    assert AuditLog.objects.filter(action__contains="extend", target_id=open_phase.pk).exists()
    assert open_phase.deadline == before + timedelta(minutes=15)
    extension = AuditLog.objects.get(action="iteration_extend_deadline", target_id=open_phase.pk)
    assert extension.actor.username == "mod"  # the moderator logged in through the page

    # The participant goes through both rounds to the end.
    for _ in range(200):
        heading = _answer_current_step(pp)
        if "you are done" in heading:
            break
    else:
        pytest.fail("the participant never reached the end of the study")
    person.close()

    wait_until(
        lambda: Group.objects.filter(deliberation=deliberation, status="done").count() == 2,
        timeout=WAIT_MS / 1000,
        what="both groups to finish in the worker",
    )
    human.refresh_from_db()
    assert human.status == Participant.Status.COMPLETED
    assert PositionRating.objects.filter(participant=human).count() == 4
    assert Ranking.objects.filter(participant=human, kind="final").count() == 2
    assert SurveyResponse.objects.filter(participant=human).values("round").distinct().count() == 2
    if human.group.condition.name == "best-opinion":
        assert Ranking.objects.filter(participant=human, kind="statements").count() == 2
    else:
        # The winner alone is shown: there is nothing to rank.
        assert not Ranking.objects.filter(participant=human, kind="statements").exists()
    # Whichever group the participant drew, each condition did what it says in its own group:
    # the best opinion is shown beside the winner of every opinion iteration under "best-opinion"
    # only.
    for group in groups:
        assert group.rounds.count() == 2
        with_best = ["best_opinion", "candidate"]
        expected = with_best if group.condition.name == "best-opinion" else ["candidate"]
        for round_ in group.rounds.all():
            shown = Statement.objects.filter(
                iteration__round=round_, iteration__index=0, shown=True
            )
            assert sorted(shown.values_list("role", flat=True)) == expected
    # The mediations ran in the worker: its log has the task of every iteration (2 groups x 2
    # rounds x 2 iterations), each returning the candidate set stored for it.
    mediated = set(
        re.findall(
            r"mediate_iteration\[[^\]]+\] succeeded in [\d.]+s: (\d+)", live_worker.log()[since:]
        )
    )
    stored = {
        str(pk)
        for pk in CandidateSet.objects.filter(
            iteration__round__group__deliberation=deliberation
        ).values_list("pk", flat=True)
    }
    assert len(stored) == 8 and stored <= mediated

    # The moderator's group page shows both rounds' iterations.
    mp.reload()
    expect(mp.get_by_text(re.compile("Critique iteration 1")).first).to_be_visible()
    assert_accessible(mp, "moderator: group, finished")

    mod.close()
    assert User.objects.filter(username="mod").exists()
    assert deliberation.created_by.username == "mod"  # created through the page by that user
