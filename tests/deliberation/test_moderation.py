"""Live moderation: hide a text, retry a failed mediation, extend a deadline, end a group.

Through the moderator's pages (the test client, logged in) and the services, on the real
PostgreSQL, with the fake model servers and Celery tasks run eagerly after each commit.

Bad input tried here: an empty, a blank and an overlong (501 characters) reason, and a reason
that is not text; hiding twice; showing a text that is not hidden; retrying an iteration that has
not failed, one with no visible text left, one of an ended group; extensions of 0 minutes,
1,441 minutes, "abc" and nothing; extending a phase that waits for nobody; ending a group twice
and without confirming; another group's text and iteration under this group's address, an
unknown text kind; a user without the moderator permission, a participant's session, no
session; GET on every action address; a POST without a CSRF token.
"""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from deliberation import mediator
from deliberation.access import session_key
from deliberation.errors import DomainError, WrongPhase
from deliberation.models import (
    AuditLog,
    CandidateSet,
    Group,
    Iteration,
    Opinion,
    Participant,
    Round,
    Statement,
)
from deliberation.selectors.participant import participant_step
from deliberation.services.deadlines import iterations_advance_overdue
from deliberation.services.moderation import (
    group_end,
    iteration_extend_deadline,
    iteration_retry,
    member_text_hide,
    member_text_unhide,
)
from deliberation.services.texts import opinion_submit
from tests.commits import CommittingClient, committed

pytestmark = pytest.mark.django_db

OPINIONS = [
    "Closing the centre on Saturdays would make it safer for children. Shops might gain walkers.",
    "I drive in from a village with no bus, so a closure would cut me off. Vans need access too.",
    "Air quality in the centre is poor and traffic is the main cause. A summer trial would tell.",
]
FIRST_SENTENCES = [text.split(". ")[0] for text in OPINIONS]
FAILING_GENERATOR = {"generator": {"backend": "fake", "options": {"fail": "unavailable"}}}


@pytest.fixture
def mod_client(moderator):
    client = CommittingClient()
    client.force_login(moderator)
    return client


def group_of(members) -> Group:
    return Group.objects.get(pk=members[0].group_id)


def current_iteration(members) -> Iteration:
    return Iteration.objects.filter(round__group_id=members[0].group_id).order_by("-id").first()


def write(members, iteration=None, texts=OPINIONS):
    iteration = iteration or current_iteration(members)
    for member, text in zip(members, texts, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    iteration.refresh_from_db()
    return iteration


def fail_mediation(deliberation, members) -> Iteration:
    """Every member writes while the generator is down: the iteration fails."""
    deliberation.mediation_config = {**deliberation.mediation_config, **FAILING_GENERATOR}
    deliberation.save(update_fields=["mediation_config"])
    iteration = write(members)
    assert iteration.state == Iteration.State.FAILED
    return iteration


def fix_generator(deliberation):
    deliberation.mediation_config = {
        k: v for k, v in deliberation.mediation_config.items() if k != "generator"
    }
    deliberation.save(update_fields=["mediation_config"])


def group_url(group, name="group_detail", *args):
    return reverse(f"moderator:{name}", args=[group.deliberation.public_id, group.number, *args])


def text_url(text, name="text_hide", group=None):
    group = group or text.iteration.round.group
    kind = text._meta.model_name
    return group_url(group, name, kind, text.pk)


def flash(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


# Hide and show -------------------------------------------------------------------------------


def test_an_opinion_hidden_before_the_mediation_is_left_out_of_it(make_group, mod_client):
    deliberation, members = make_group(3, n_candidates=4)
    iteration = write(members[:2])
    hidden = Opinion.objects.get(iteration=iteration, participant=members[0])

    response = mod_client.post(text_url(hidden), {"reason": "Insults another member."})

    group = group_of(members)
    assert response.status_code == 302
    assert response.url == group_url(group) + f"#opinion-{hidden.pk}"
    hidden.refresh_from_db()
    assert hidden.hidden and hidden.hidden_reason == "Insults another member."
    assert hidden.hidden_by.username == "mod" and hidden.hidden_at is not None
    entry = AuditLog.objects.get()
    assert (entry.action, entry.target_type, entry.target_id) == ("text_hide", "opinion", hidden.pk)
    assert entry.actor.username == "mod" and entry.reason == "Insults another member."
    assert entry.data["mediation"] == "not_yet"
    assert (entry.data["before"], entry.data["after"]["hidden"]) == ({"hidden": False}, True)

    iteration = write(members[2:], iteration, OPINIONS[2:])  # the last member writes: mediation
    assert iteration.state == Iteration.State.RATING
    candidate_set = CandidateSet.objects.get(iteration=iteration)
    assert candidate_set.member_ids == [members[1].pk, members[2].pk]
    assert members[0].pk not in candidate_set.included_ids
    generator, _ = mediator.backends(mediator.iteration_config(iteration))
    assert generator.calls[-1]["round_text"].opinions == tuple(OPINIONS[1:])
    candidates = " ".join(
        Statement.objects.filter(candidate_set=candidate_set).values_list("text", flat=True)
    )
    assert FIRST_SENTENCES[0] not in candidates
    assert FIRST_SENTENCES[1] in candidates  # the check above can see an opinion's sentence


def test_a_critique_hidden_before_its_mediation_is_left_out_of_the_revision(make_group, moderator):
    from deliberation.services.ratings import rating_submit
    from deliberation.services.texts import critique_submit

    _, members = make_group(3, critique_iterations=1)
    opinion_iteration = write(members)
    winner = Statement.objects.get(iteration=opinion_iteration, is_winner=True)
    for member in members:
        with committed():
            rating_submit(participant=member, statement=winner, agreement=4, quality=4)
    critique_iteration = current_iteration(members)
    assert (critique_iteration.index, critique_iteration.state) == (1, "collecting")
    critiques = ["Say who pays for it.", "Mention the village buses.", "Add the summer trial."]
    for member, text in zip(members[:2], critiques, strict=False):
        with committed():
            critique_submit(participant=member, iteration=critique_iteration, text=text)
    hidden = critique_iteration.critiques.get(participant=members[0])

    with committed():
        outcome = member_text_hide(text=hidden, actor=moderator, reason="Mocks another member.")
    assert outcome.mediation == "not_yet"
    with committed():
        critique_submit(participant=members[2], iteration=critique_iteration, text=critiques[2])

    critique_iteration.refresh_from_db()
    assert critique_iteration.state == Iteration.State.RATING
    generator, _ = mediator.backends(mediator.iteration_config(critique_iteration))
    assert generator.calls[-1]["round_text"].critiques == tuple(critiques[1:])
    assert CandidateSet.objects.get(iteration=critique_iteration).member_ids == [
        members[1].pk,
        members[2].pk,
    ]
    entry = AuditLog.objects.get()
    assert (entry.target_type, entry.target_id) == ("critique", hidden.pk)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Please give a reason"),
        ("   \n ", "Please give a reason"),
        ("x" * 501, "501 characters long; please keep it to 500"),
    ],
)
def test_a_hide_without_a_usable_reason_is_refused_and_keeps_what_was_typed(
    make_group, mod_client, reason, message
):
    """Bad input: an empty, a blank and an overlong reason."""
    _, members = make_group(3)
    opinion = Opinion.objects.get(pk=write(members[:1]).opinions.get().pk)

    response = mod_client.post(text_url(opinion), {"reason": reason})

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    if reason.strip():
        assert f">{reason}</textarea>" in html  # nothing typed is lost
    opinion.refresh_from_db()
    assert not opinion.hidden and opinion.hidden_reason == ""
    assert not AuditLog.objects.exists()


def test_hide_service_refuses_a_reason_that_is_not_text_and_a_second_hide(make_group, moderator):
    """Bad input: a reason that is a number; hiding an already hidden text."""
    _, members = make_group(3)
    opinion = write(members[:1]).opinions.get()
    with pytest.raises(DomainError) as refused:
        with committed():
            member_text_hide(text=opinion, actor=moderator, reason=42)
    assert refused.value.code == "reason_invalid"

    with committed():
        member_text_hide(text=opinion, actor=moderator, reason="Personal data.")
    with pytest.raises(WrongPhase) as refused:
        with committed():
            member_text_hide(text=opinion, actor=moderator, reason="Again.")
    assert refused.value.code == "already_hidden"
    opinion.refresh_from_db()
    assert opinion.hidden_reason == "Personal data."
    assert AuditLog.objects.count() == 1


def test_hiding_an_already_mediated_opinion_is_marked_and_says_the_statements_stay(
    make_group, mod_client
):
    _, members = make_group(3)
    iteration = write(members)
    statements = list(Statement.objects.filter(iteration=iteration).values_list("pk", "text"))
    opinion = iteration.opinions.get(participant=members[1])

    response = mod_client.post(text_url(opinion), {"reason": "Off topic."}, follow=True)

    assert "not redone" in flash(response)
    opinion.refresh_from_db()
    assert opinion.hidden
    assert AuditLog.objects.get().data["mediation"] == "done"
    assert (
        list(Statement.objects.filter(iteration=iteration).values_list("pk", "text")) == statements
    )
    # The group page marks the text as hidden, with its reason, and lists the action.
    html = response.content.decode()
    assert "Hidden: Off topic." in html
    assert "Hid a text" in html and "opinion of seat" in html


def test_a_hidden_text_can_be_shown_again_once(make_group, mod_client, moderator):
    """Bad input: showing a text that is not hidden."""
    _, members = make_group(3)
    opinion = write(members[:1]).opinions.get()
    with committed():
        member_text_hide(text=opinion, actor=moderator, reason="Mistake.")

    response = mod_client.post(text_url(opinion, "text_unhide"), follow=True)
    assert "shown again" in flash(response)
    opinion.refresh_from_db()
    assert not opinion.hidden and opinion.hidden_reason == "" and opinion.hidden_by is None
    unhide = AuditLog.objects.get(action="text_unhide")
    assert unhide.data["before"]["hidden_reason"] == "Mistake."

    with pytest.raises(WrongPhase):
        member_text_unhide(text=opinion, actor=moderator)
    assert AuditLog.objects.count() == 2


# Retry ---------------------------------------------------------------------------------------


def test_a_failed_mediation_is_retried_after_the_server_is_fixed_and_the_group_rates(
    make_group, mod_client
):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    retry_url = group_url(group_of(members), "iteration_retry", iteration.pk)

    # Retried while the server is still down: it fails again, visibly, with nothing stored.
    response = mod_client.post(retry_url)
    assert response.status_code == 302
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert "unavailable" in iteration.failure_reason
    assert iteration.mediation_attempts == 2
    assert not CandidateSet.objects.exists()

    fix_generator(deliberation)
    response = mod_client.post(retry_url, follow=True)

    assert "sent to run again" in flash(response)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert iteration.failure_reason == ""
    assert iteration.mediation_attempts == 3
    assert CandidateSet.objects.get(iteration=iteration).member_ids == [m.pk for m in members]
    assert participant_step(members[0]).kind == "rate"
    retries = list(AuditLog.objects.filter(action="iteration_retry").order_by("pk"))
    assert len(retries) == 2
    assert "unavailable" in retries[1].reason
    assert retries[1].data["before"]["state"] == "failed"
    assert "unavailable" in retries[1].data["before"]["failure_reason"]
    assert retries[1].data["after"] == {"state": "mediating"}


def test_retry_of_an_iteration_that_has_not_failed_is_refused(make_group, mod_client, moderator):
    """Bad input: retrying a collecting iteration (page and service) and a rating one."""
    _, members = make_group(3)
    iteration = current_iteration(members)

    response = mod_client.post(
        group_url(group_of(members), "iteration_retry", iteration.pk), follow=True
    )

    assert "Only a failed or stuck mediation can be retried" in flash(response)
    iteration.refresh_from_db()
    assert (iteration.state, iteration.mediation_attempts) == (Iteration.State.COLLECTING, 0)
    iteration = write(members)
    with pytest.raises(WrongPhase) as refused:
        with committed():
            iteration_retry(iteration=iteration, actor=moderator)
    assert refused.value.code == "not_failed"
    assert not AuditLog.objects.exists()


def test_retry_after_too_few_members_wrote_mediates_from_those_who_did(make_group, moderator):
    """The moderator decides: a deadline failure for lack of writers can be retried."""
    _, members = make_group(3, min_group_size=3)
    iteration = write(members[:2])
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with committed():
        iterations_advance_overdue()
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert "Only 2 member(s) wrote" in iteration.failure_reason

    with committed():
        iteration_retry(iteration=iteration, actor=moderator)

    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert CandidateSet.objects.get(iteration=iteration).member_ids == [
        members[0].pk,
        members[1].pk,
    ]
    assert "Only 2 member(s) wrote" in AuditLog.objects.get().data["before"]["failure_reason"]


def test_retry_with_no_visible_text_left_is_refused(make_group, moderator):
    """Bad input: the only opinion written is hidden, so there is nothing to mediate from."""
    _, members = make_group(3)
    iteration = write(members[:1])
    with committed():
        member_text_hide(text=iteration.opinions.get(), actor=moderator, reason="Spam.")
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with committed():
        iterations_advance_overdue()
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED

    with pytest.raises(DomainError) as refused:
        with committed():
            iteration_retry(iteration=iteration, actor=moderator)
    assert refused.value.code == "nothing_to_mediate"
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert AuditLog.objects.filter(action="iteration_retry").count() == 0


# Extend a deadline ---------------------------------------------------------------------------


def test_the_deadline_is_extended_from_the_old_deadline_or_from_now(make_group, mod_client):
    _, members = make_group(3)
    group = group_of(members)
    iteration = current_iteration(members)
    old = iteration.deadline
    url = group_url(group, "iteration_extend", iteration.pk)

    response = mod_client.post(url, {"minutes": "10"}, follow=True)

    assert "Deadline extended by 10 min" in flash(response)
    iteration.refresh_from_db()
    assert iteration.deadline == old + timedelta(minutes=10)
    entry = AuditLog.objects.get()
    assert entry.action == "iteration_extend_deadline" and entry.data["seconds"] == 600
    assert entry.data["before"]["deadline"] == old.isoformat()

    # An overdue phase gets the whole extension from now, not from its past deadline.
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(hours=1))
    before = timezone.now()
    mod_client.post(url, {"minutes": "5"})
    iteration.refresh_from_db()
    assert (
        before + timedelta(minutes=5) <= iteration.deadline <= timezone.now() + timedelta(minutes=5)
    )


@pytest.mark.parametrize("minutes", ["0", "1441", "abc", "", "-5"])
def test_an_extension_out_of_range_is_refused_and_changes_nothing(make_group, mod_client, minutes):
    """Bad input: 0, 1,441 and -5 minutes, a word and nothing."""
    _, members = make_group(3)
    iteration = current_iteration(members)
    old = iteration.deadline

    response = mod_client.post(
        group_url(group_of(members), "iteration_extend", iteration.pk),
        {"minutes": minutes},
        follow=True,
    )

    assert "minute" in flash(response)
    iteration.refresh_from_db()
    assert iteration.deadline == old
    assert not AuditLog.objects.exists()


def test_a_phase_that_waits_for_nobody_has_no_deadline_to_extend(make_group, moderator):
    """Bad input: extending a failed iteration; a whole number of seconds that is a float."""
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    with pytest.raises(WrongPhase) as refused:
        with committed():
            iteration_extend_deadline(iteration=iteration, actor=moderator, seconds=600)
    assert refused.value.code == "wrong_phase"
    with pytest.raises(DomainError) as refused:
        with committed():
            iteration_extend_deadline(iteration=iteration, actor=moderator, seconds=600.0)
    assert refused.value.code == "extend_invalid"
    assert not AuditLog.objects.exists()


# End a group ---------------------------------------------------------------------------------


def test_ending_a_group_asks_for_confirmation_first(make_group, mod_client):
    """Bad input: a POST without `confirm`; a GET on the end address."""
    _, members = make_group(3)
    group = group_of(members)
    url = group_url(group, "group_end")

    for response in (mod_client.get(url), mod_client.post(url, {"reason": "Disruptive."})):
        assert response.status_code == 200
        html = response.content.decode()
        assert f"End group {group.number} now" in html
        assert 'name="confirm" value="yes"' in html
    assert ">Disruptive.</textarea>" in html
    group.refresh_from_db()
    assert group.status == Group.Status.ACTIVE
    assert not AuditLog.objects.exists()


def test_an_ended_group_completes_its_members_and_starts_no_further_round(make_group, mod_client):
    _, members = make_group(
        3, questions=["Should buses be free?", "Should libraries open on Sundays?"]
    )
    group = group_of(members)
    iteration = write(members)  # mediated: the group is rating round 1
    assert iteration.state == Iteration.State.RATING

    response = mod_client.post(
        group_url(group, "group_end"),
        {"reason": "Abusive exchange.", "confirm": "yes"},
        follow=True,
    )

    assert "has ended" in flash(response)
    group.refresh_from_db()
    assert (group.status, group.ended_reason) == (Group.Status.ENDED, "Abusive exchange.")
    assert group.ended_at is not None
    for member in Participant.objects.filter(group=group):
        assert member.status == Participant.Status.COMPLETED and member.completed_at is not None
        assert participant_step(member).kind == "ended"
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE
    assert Round.objects.get(group=group).status == Round.Status.DONE
    entry = AuditLog.objects.get()
    assert (entry.action, entry.reason) == ("group_end", "Abusive exchange.")
    assert entry.data["before"]["iterations"] == {str(iteration.pk): "rating"}
    assert set(entry.data["before"]["members"]) == {str(m.pk) for m in members}

    # Nothing moves the group on: not the deadline sweep, not a late rating.
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(hours=1))
    with committed():
        assert iterations_advance_overdue() == 0
    from deliberation.services.rounds import iteration_finish_if_rated

    assert not iteration_finish_if_rated(iteration=iteration, force=True)
    assert Round.objects.filter(group=group).count() == 1
    assert Iteration.objects.filter(round__group=group).count() == 1


def test_a_collecting_phase_of_an_ended_group_takes_no_more_text(make_group, moderator):
    """Bad input: an opinion sent after the group ended; ending it twice; no reason."""
    _, members = make_group(3)
    group = group_of(members)
    iteration = write(members[:1])
    with pytest.raises(DomainError) as refused:
        with committed():
            group_end(group=group, actor=moderator, reason="")
    assert refused.value.code == "reason_empty"
    group.refresh_from_db()
    assert group.status == Group.Status.ACTIVE

    with committed():
        group_end(group=group, actor=moderator, reason="Study stopped.")

    members[1].refresh_from_db()  # as the participant's next request would load them
    iteration.refresh_from_db()
    with pytest.raises(WrongPhase):
        opinion_submit(participant=members[1], iteration=iteration, text=OPINIONS[1])
    with pytest.raises(WrongPhase) as refused:
        with committed():
            group_end(group=group, actor=moderator, reason="Again.")
    assert refused.value.code == "group_not_active"
    with pytest.raises(WrongPhase):
        iteration_extend_deadline(iteration=iteration, actor=moderator, seconds=600)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE
    assert not CandidateSet.objects.exists()
    assert AuditLog.objects.count() == 1


def test_a_failed_iteration_of_an_ended_group_is_not_retried(make_group, moderator):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    with committed():
        group_end(group=group_of(members), actor=moderator, reason="Server trouble, stopping.")
    fix_generator(deliberation)
    with pytest.raises(WrongPhase) as refused:
        with committed():
            iteration_retry(iteration=iteration, actor=moderator)
    assert refused.value.code == "group_not_active"
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED


# Who may act ---------------------------------------------------------------------------------


def action_posts(group, iteration, opinion):
    """Every moderation action on `group`, as (url, data) for a POST that would change something."""
    return [
        (text_url(opinion, group=group), {"reason": "Abuse."}),
        (text_url(opinion, "text_unhide", group=group), {}),
        (group_url(group, "iteration_retry", iteration.pk), {}),
        (group_url(group, "iteration_extend", iteration.pk), {"minutes": "10"}),
        (group_url(group, "group_end"), {"reason": "Stop.", "confirm": "yes"}),
    ]


def assert_nothing_changed(group, iteration, opinion, deadline):
    group.refresh_from_db()
    iteration.refresh_from_db()
    opinion.refresh_from_db()
    assert group.status == Group.Status.ACTIVE
    assert iteration.deadline == deadline
    assert not opinion.hidden
    assert not AuditLog.objects.exists()


def test_people_who_are_not_moderators_cannot_act(make_group, django_user_model):
    """Bad input: a logged-in user without the permission (403), a participant's session and no
    session at all (sent to the login page), on every action."""
    deliberation, members = make_group(3)
    group = group_of(members)
    iteration = write(members[:1])
    opinion = iteration.opinions.get()
    deadline = iteration.deadline

    plain_user = CommittingClient()
    plain_user.force_login(django_user_model.objects.create_user("someone", password="x-long-pw"))
    participant = CommittingClient()
    session = participant.session
    session[session_key(deliberation)] = str(members[0].public_id)
    session.save()

    for url, data in action_posts(group, iteration, opinion):
        assert plain_user.post(url, data).status_code == 403, url
        for client in (participant, CommittingClient()):
            response = client.post(url, data)
            assert response.status_code == 302 and response.url.startswith("/accounts/login/"), url
    for url in (group_url(group, "group_now"), text_url(opinion), group_url(group, "group_end")):
        assert plain_user.get(url).status_code == 403
    assert_nothing_changed(group, iteration, opinion, deadline)


def test_another_groups_text_or_iteration_is_not_found_under_this_group(make_group, mod_client):
    """Bad input: group A's opinion and iteration addressed through group B (same deliberation
    and another one), an unknown text kind, an unknown group."""
    deliberation, members = make_group(3)
    group = group_of(members)
    iteration = write(members[:1])
    opinion = iteration.opinions.get()
    deadline = iteration.deadline
    _, others = make_group(3, title="Another study")
    other_group = group_of(others)
    same_study_other_group = Group.objects.create(deliberation=deliberation, number=99)

    for wrong in (other_group, same_study_other_group):
        for url, data in action_posts(wrong, iteration, opinion)[:4]:
            assert mod_client.post(url, data).status_code == 404, url
        assert mod_client.get(text_url(opinion, group=wrong)).status_code == 404
    unknown_kind = group_url(group, "text_hide", "statement", opinion.pk)
    assert mod_client.post(unknown_kind, {"reason": "Abuse."}).status_code == 404
    missing_group = reverse("moderator:group_end", args=[deliberation.public_id, 42])
    assert mod_client.post(missing_group, {"reason": "x", "confirm": "yes"}).status_code == 404
    assert_nothing_changed(group, iteration, opinion, deadline)
    other_group.refresh_from_db()
    assert other_group.status == Group.Status.ACTIVE


def test_get_on_an_action_address_changes_nothing(make_group, mod_client):
    """Bad input: GET (a link followed, a prefetch) on every action address."""
    _, members = make_group(3)
    group = group_of(members)
    iteration = write(members[:1])
    opinion = iteration.opinions.get()
    deadline = iteration.deadline

    for url, _ in action_posts(group, iteration, opinion):
        response = mod_client.get(url, {"reason": "Abuse.", "minutes": "10", "confirm": "yes"})
        assert response.status_code in (200, 405), url
    assert_nothing_changed(group, iteration, opinion, deadline)


def test_an_action_without_a_csrf_token_is_rejected(make_group, moderator):
    _, members = make_group(3)
    opinion = write(members[:1]).opinions.get()
    client = Client(enforce_csrf_checks=True)
    client.force_login(moderator)

    assert client.post(text_url(opinion), {"reason": "Abuse."}).status_code == 403

    page = client.get(text_url(opinion))
    token = str(page.context["csrf_token"])
    response = client.post(text_url(opinion), {"reason": "Abuse.", "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    opinion.refresh_from_db()
    assert opinion.hidden


def test_a_moderator_closes_a_deliberation_to_new_people_and_opens_it_again(
    make_group, mod_client, django_user_model
):
    """Closing stops new joins (the page says so, a POST is refused and stores nothing) while
    members already in go on; reopening lets people join again. Tried: GET on the action (405),
    an unknown status (refused, nothing changed), a user without the permission (403)."""
    from deliberation.models import AuditLog, Deliberation, Participant

    deliberation, members = make_group(2)
    url = f"/moderate/d/{deliberation.public_id}/status/"
    assert mod_client.get(url).status_code == 405
    response = mod_client.post(url, {"status": "draft"}, follow=True)
    assert "A deliberation can be set to" in response.content.decode()
    assert Deliberation.objects.get(pk=deliberation.pk).status == "open"

    response = mod_client.post(url, {"status": "closed"}, follow=True)
    assert "Closed: nobody new can join" in response.content.decode()
    assert "Open to new participants" in response.content.decode()
    assert Deliberation.objects.get(pk=deliberation.pk).status == "closed"
    assert (
        AuditLog.objects.filter(action="deliberation_status", target_id=deliberation.pk).count()
        == 1
    )

    visitor = CommittingClient()
    page = visitor.get(f"/j/{deliberation.public_id}/")
    assert "closed to new participants" in page.content.decode()
    refused = visitor.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )
    assert refused.status_code == 409
    assert "closed to new participants" in refused.content.decode()
    assert Participant.objects.filter(deliberation=deliberation).count() == 2

    mod_client.post(url, {"status": "open"})
    assert Deliberation.objects.get(pk=deliberation.pk).status == "open"
    joined = visitor.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )
    assert joined.status_code == 302
    assert Participant.objects.filter(deliberation=deliberation).count() == 3

    outsider = CommittingClient()
    outsider.force_login(django_user_model.objects.create_user("plain", password="x"))
    assert outsider.post(url, {"status": "closed"}).status_code == 403
