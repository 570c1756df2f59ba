"""The waiting page's cheap poll (issue 12): "nothing changed" from one cache read, with no query
and without loading the session; every service that changes what a member sees changes a
version when it commits; the step is computed in a fixed, small number of queries per phase; a
forged or borrowed poll token is worth nothing; a cache that is down costs speed, never
correctness.

The tests run in a rolled-back transaction: commit callbacks (the version changes, and the tasks)
run only where a test captures and runs them (`django_capture_on_commit_callbacks`).
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deliberation import access
from deliberation.models import Iteration, Opinion, Participant
from deliberation.selectors.participant import current_iteration, participant_step
from deliberation.services import (
    consent,
    deliberations,
    lifecycle,
    mediation,
    moderation,
    participants,
    presence,
    recovery,
    responses,
    rounds,
)
from deliberation.services.bots import bot_step, bots_act
from deliberation.services.deadlines import iteration_advance_if_overdue
from deliberation.services.versions import SNAPSHOT_SECONDS, view_versions
from deliberation.services.visits import participant_poll_unchanged

pytestmark = pytest.mark.django_db

OPINION = "Libraries open on Sundays serve people who work all week; the cost is worth it."


@pytest.fixture(autouse=True)
def _cheap_poll(settings):
    """On whatever the cache (the suite runs on Redis, where it is on by default)."""
    settings.CHEAP_POLL = True


@pytest.fixture
def study(make_group):
    """Three members in a group that has started: one question, an opinion and a critique
    iteration, the best opinion shown beside the winner in the first (so there is a ranking)."""
    return make_group(
        3,
        min_group_size=2,
        critique_iterations=1,
        questions=["Should public libraries open on Sundays?"],
        conditions=[{"name": "best", "comparisons": ["best_opinion"]}],
    )


def fresh(participant: Participant) -> Participant:
    return Participant.objects.select_related("group", "deliberation").get(pk=participant.pk)


def act(participant: Participant) -> str:
    """Do what the member's step asks, through the same services as the pages (`bot_step`)."""
    participant = fresh(participant)
    kind = participant_step(participant).kind
    assert bot_step(participant), kind
    return kind


def browser(deliberation, participant: Participant) -> Client:
    """A browser whose session has joined `deliberation` as `participant`."""
    client = Client()
    session = client.session
    session[access.session_key(deliberation)] = str(participant.public_id)
    session.save()
    return client


def poll_url(html: str) -> str:
    return re.search(r'hx-get="([^"]*/status/[^"]*)"', html)[1].replace("&amp;", "&")


def mediate(participant: Participant) -> Iteration:
    iteration = current_iteration(fresh(participant).group)
    assert iteration.state == Iteration.State.MEDIATING
    mediation.iteration_mediate(iteration_id=iteration.pk)
    iteration.refresh_from_db()
    return iteration


# -- the unchanged poll ------------------------------------------------------------------------


def test_an_unchanged_poll_makes_no_query_and_swaps_nothing(study, django_assert_num_queries):
    deliberation, (first, *_) = study
    act(first)  # writes: now waiting for the others
    page = browser(deliberation, first)
    html = page.get(f"/j/{deliberation.public_id}/go/").content.decode()
    assert "Waiting for the others to finish writing" in html
    url = poll_url(html)
    assert "&t=" in url
    for _ in range(3):
        with django_assert_num_queries(0):
            response = page.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 204
        assert "HX-Redirect" not in response


def test_the_next_poll_after_a_committed_change_draws_it(
    study, django_capture_on_commit_callbacks, django_assert_num_queries
):
    deliberation, (first, second, third) = study
    act(first)
    page = browser(deliberation, first)
    url = poll_url(page.get(f"/j/{deliberation.public_id}/go/").content.decode())

    with django_capture_on_commit_callbacks(execute=True):
        act(second)
    progress = page.get(url, HTTP_HX_REQUEST="true")
    assert progress.status_code == 200
    assert "2 of 3 members are done" in progress.content.decode()
    # The redrawn block polls with what it shows, and that is unchanged again.
    with django_assert_num_queries(0):
        assert page.get(poll_url(progress.content.decode())).status_code == 204

    with django_capture_on_commit_callbacks(execute=True):  # the last opinion, the mediation
        act(third)
    moved = page.get(poll_url(progress.content.decode()))
    assert moved.status_code == 204
    assert moved["HX-Redirect"] == f"/j/{deliberation.public_id}/go/"


def test_an_uncommitted_change_keeps_the_old_answer_until_it_commits(
    study, django_capture_on_commit_callbacks
):
    deliberation, (first, second, _) = study
    act(first)
    page = browser(deliberation, first)
    url = poll_url(page.get(f"/j/{deliberation.public_id}/go/").content.decode())
    with django_capture_on_commit_callbacks() as callbacks:
        act(second)
        # Not committed yet: another process would not see the opinion, and the poll says so.
        assert page.get(url).status_code == 204
    for callback in callbacks:
        callback()
    assert page.get(url).status_code == 200


def test_the_poll_notes_presence_by_id_when_it_is_due(study, django_assert_num_queries):
    deliberation, (first, *_) = study
    act(first)
    browser(deliberation, first).get(f"/j/{deliberation.public_id}/go/")
    first = fresh(first)
    step = participant_step(first)
    ids = {"participant_id": first.pk, "group_id": first.group_id}
    ids["deliberation_id"] = deliberation.pk
    later = first.last_seen_at + timedelta(seconds=participants.TOUCH_SECONDS + 1)
    with django_assert_num_queries(1):  # the UPDATE of last_seen_at, nothing else
        assert participant_poll_unchanged(**ids, key=step.key, seen=step.progress_key, now=later)
    assert fresh(first).last_seen_at == later
    with django_assert_num_queries(0):  # noted: not again for TOUCH_SECONDS
        assert participant_poll_unchanged(
            **ids, key=step.key, seen=step.progress_key, now=later + timedelta(seconds=2)
        )


def _poll_ids(participant: Participant) -> dict:
    participant = fresh(participant)
    step = participant_step(participant)
    return {
        "participant_id": participant.pk,
        "group_id": participant.group_id,
        "deliberation_id": participant.deliberation_id,
        "key": step.key,
        "seen": step.progress_key,
    }


def test_the_snapshot_ends_when_the_phase_deadline_passes(make_group):
    deliberation, (first, *_) = make_group(3, opinion_seconds=50)
    act(first)
    browser(deliberation, first).get(f"/j/{deliberation.public_id}/go/")
    deadline = current_iteration(fresh(first).group).deadline
    ids = _poll_ids(first)
    assert participant_poll_unchanged(**ids, now=deadline - timedelta(seconds=1))
    assert not participant_poll_unchanged(**ids, now=deadline + timedelta(seconds=1))


def test_the_snapshot_ends_when_a_mediation_turns_slow(study):
    deliberation, (first, second, third) = study
    for member in (first, second, third):
        act(member)  # the mediation is not run: its task waits for a commit that never comes
    browser(deliberation, first).get(f"/j/{deliberation.public_id}/go/")
    ids = _poll_ids(first)
    assert ids["key"].startswith("mediating")
    queued = current_iteration(fresh(first).group).mediation_queued_at
    assert participant_poll_unchanged(**ids, now=queued + timedelta(seconds=40))
    assert not participant_poll_unchanged(**ids, now=queued + timedelta(seconds=46))


def test_the_snapshot_ends_when_the_pool_has_waited_long_enough(fake_model_servers):
    deliberation = deliberations.deliberation_create(
        created_by=None,
        title="Pool",
        questions=["Q?"],
        group_size=3,
        min_group_size=2,
        pool_wait_seconds=40,
    )
    waiter = participants.participant_join(deliberation=deliberation)
    participants.participant_consent(participant=waiter, version=deliberation.consent_version)
    browser(deliberation, waiter).get(f"/j/{deliberation.public_id}/go/")
    ids = _poll_ids(waiter)
    assert ids["key"] == "waiting_group"
    due = fresh(waiter).grouped_at + timedelta(seconds=deliberation.pool_wait_seconds)
    assert participant_poll_unchanged(**ids, now=timezone.now() + timedelta(seconds=5))
    assert not participant_poll_unchanged(**ids, now=due + timedelta(seconds=1))


def test_the_snapshot_is_recomputed_at_least_once_a_minute(study):
    deliberation, (first, *_) = study
    act(first)
    browser(deliberation, first).get(f"/j/{deliberation.public_id}/go/")
    ids = _poll_ids(first)
    later = timezone.now() + timedelta(seconds=SNAPSHOT_SECONDS + 1)
    assert not participant_poll_unchanged(**ids, now=later)


# -- the token ---------------------------------------------------------------------------------


def test_a_forged_or_borrowed_poll_token_is_refused(study, make_group):
    deliberation, (first, second, _) = study
    act(first)
    page = browser(deliberation, first)
    url = poll_url(page.get(f"/j/{deliberation.public_id}/go/").content.decode())
    token = re.search(r"[?&]t=([^&]+)", url)[1]

    # Another member's browser, with the first one's URL: the token does not match its session,
    # so its own step is computed (it has not written yet: sent to its step page).
    other = browser(deliberation, second)
    with CaptureQueriesContext(connection) as queries:
        response = other.get(url)
    assert len(queries) > 0
    assert response.status_code == 204 and response["HX-Redirect"].endswith("/go/")

    # No session at all: the session decides, and there is none.
    assert Client().get(url).status_code == 403

    # The token's ids changed (another participant): the signature no longer matches.
    value, signature = token.replace("%3A", ":").rsplit(":", 1)
    ids = value.split(".")
    ids[0] = str(second.pk)
    forged = url.replace(token, f"{'.'.join(ids)}%3A{signature}")
    assert access.poll_member(other.get(forged).wsgi_request, deliberation.public_id) is None
    assert access.poll_member(page.get(forged).wsgi_request, deliberation.public_id) is None

    # The genuine token, on another deliberation's address: refused there.
    elsewhere, _ = make_group(2)
    request = page.get(url.replace(str(deliberation.public_id), str(elsewhere.public_id)))
    assert access.poll_member(request.wsgi_request, elsewhere.public_id) is None
    # And accepted where it belongs, beside its own session.
    member = access.poll_member(page.get(url).wsgi_request, deliberation.public_id)
    assert member == (first.pk, first.group_id, deliberation.pk)


def test_without_the_cheap_poll_the_page_polls_through_the_session(study, settings):
    settings.CHEAP_POLL = False
    deliberation, (first, *_) = study
    act(first)
    page = browser(deliberation, first)
    url = poll_url(page.get(f"/j/{deliberation.public_id}/go/").content.decode())
    assert "t=" not in url
    with CaptureQueriesContext(connection) as queries:
        assert page.get(url).status_code == 204
    assert len(queries) > 0


def test_with_the_cache_down_the_poll_computes_the_step(
    study, settings, private_redis, django_capture_on_commit_callbacks
):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": private_redis.url(1),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    deliberation, (first, second, _) = study
    act(first)
    page = browser(deliberation, first)
    url = poll_url(page.get(f"/j/{deliberation.public_id}/go/").content.decode())
    private_redis.stop()
    with CaptureQueriesContext(connection) as queries:
        assert page.get(url).status_code == 204
    assert len(queries) > 0  # computed, not taken from a cache that cannot be read
    with django_capture_on_commit_callbacks(execute=True):
        act(second)  # its version change is lost with the cache...
    progress = page.get(url)
    assert progress.status_code == 200  # ...and the poll still shows it
    assert "2 of 3 members are done" in progress.content.decode()


# -- queries per phase -------------------------------------------------------------------------

# (step page, poll that computes the step) per phase; None where the page does not poll. Each
# starts with the deliberation, the session and the participant (with their group and whether
# they agreed to the current consent text); then the group's current iteration with its round,
# the members and who is done. Noting presence adds one UPDATE every TOUCH_SECONDS.
QUERIES = {
    "waiting_group": (5, 5),
    "position_before": (7, None),
    "write_opinion": (8, None),
    "waiting (writing)": (6, 6),
    "mediating": (4, 4),
    "rate": (9, None),
    "rank": (9, None),
    "waiting (rating)": (9, 9),
    "write_critique": (7, None),
    "final_ranking": (9, None),
    "done": (3, None),
}


def _count(page: Client, deliberation, participant: Participant, kind: str) -> tuple:
    """(queries of the step page, of a poll that computes the step) for a member on `kind`."""
    url = f"/j/{deliberation.public_id}/go/"
    page.get(url)  # presence noted now, so that neither count below includes noting it
    with CaptureQueriesContext(connection) as step_queries:
        html = page.get(url).content.decode()
    assert participant_step(fresh(participant)).kind == kind
    if 'id="progress"' not in html:
        return len(step_queries), None
    plain = re.sub(r"&t=[^&]+", "", poll_url(html))  # without its token, a poll computes
    with CaptureQueriesContext(connection) as poll_queries:
        assert page.get(plain).status_code == 204
    return len(step_queries), len(poll_queries)


def test_the_step_and_the_poll_take_a_fixed_number_of_queries_per_phase(
    make_group, django_capture_on_commit_callbacks
):
    question = deliberations.question_create(
        text="Should public libraries open on Sundays?",
        affirming_statement="Public libraries should open on Sundays.",
    )
    deliberation, members = make_group(
        3,
        min_group_size=2,
        critique_iterations=1,
        questions=[question],
        conditions=[{"name": "best", "comparisons": ["best_opinion"]}],
    )
    first = members[0]
    page = browser(deliberation, first)
    counted = {}

    def count(phase: str, kind: str) -> None:
        counted[phase] = _count(page, deliberation, first, kind)

    count("position_before", "position_before")
    act(first)
    count("write_opinion", "write_opinion")
    act(first)
    count("waiting (writing)", "waiting")
    for member in members[1:]:
        act(member)  # position
        act(member)  # opinion; the last one's mediation waits for a commit
    count("mediating", "mediating")
    mediate(first)
    count("rate", "rate")
    act(first)
    act(first)
    count("rank", "rank")
    act(first)
    count("waiting (rating)", "waiting")
    with django_capture_on_commit_callbacks(execute=True):
        for member in members[1:]:
            while participant_step(fresh(member)).kind in ("rate", "rank"):
                act(member)
    count("write_critique", "write_critique")
    with django_capture_on_commit_callbacks(execute=True):
        for member in members:
            act(member)  # critiques, then the mediation
    with django_capture_on_commit_callbacks(execute=True):
        for member in members:
            act(member)  # the one statement rated: the round and the group are done
    count("final_ranking", "final_ranking")
    while participant_step(fresh(first)).kind != "done":
        act(first)
    count("done", "done")

    pool = deliberations.deliberation_create(
        created_by=None, title="Pool", questions=["Q?"], group_size=3, min_group_size=2
    )
    waiter = participants.participant_join(deliberation=pool)
    participants.participant_consent(participant=waiter, version=pool.consent_version)
    counted["waiting_group"] = _count(browser(pool, waiter), pool, waiter, "waiting_group")
    assert counted == QUERIES


# -- every service that changes what a member sees changes a version ---------------------------


def _seated(size: int = 3, joined: int = 1, **options):
    deliberation = deliberations.deliberation_create(
        created_by=None, title="Pool", questions=["Q?"], group_size=size, **options
    )
    people = []
    for _ in range(joined):
        person = participants.participant_join(deliberation=deliberation)
        participants.participant_consent(participant=person, version=deliberation.consent_version)
        people.append(fresh(person))
    return deliberation, people


def _iteration(member: Participant) -> Iteration:
    return current_iteration(fresh(member).group)


def _written(members, count: int) -> Iteration:
    """The first `count` members have written (their opinions' commit callbacks never run)."""
    for member in members[:count]:
        act(member)
    return _iteration(members[0])


def _rating(members) -> Iteration:
    """Everyone wrote and the mediation ran: the group rates two statements."""
    _written(members, 3)
    return mediate(members[0])


def _critique(members) -> Iteration:
    _rating(members)
    rounds.iteration_finish_if_rated(iteration=_iteration(members[0]), force=True)
    return _iteration(members[0])


def _followups(members) -> None:
    """The round, and with it the group, is done: the members owe the end-of-round questions."""
    _critique(members)
    for member in members:
        act(member)
    mediate(members[0])
    rounds.iteration_finish_if_rated(iteration=_iteration(members[0]), force=True)
    assert participant_step(fresh(members[0])).kind == "final_ranking"


def case_seating(make_group):
    _, (first,) = _seated()
    deliberation = fresh(first).deliberation

    def change():
        joiner = participants.participant_join(deliberation=deliberation)
        participants.participant_consent(participant=joiner, version=deliberation.consent_version)

    return first, "group", change


def case_group_start(make_group):
    _, (first, _) = _seated(joined=2)
    return first, "group", lambda: rounds.group_start(group=fresh(first).group)


def case_opinion(make_group):
    _, members = make_group(3, critique_iterations=1)
    return members[0], "group", lambda: act(members[0])


def case_critique(make_group):
    _, members = make_group(3, critique_iterations=1)
    _critique(members)
    return members[0], "group", lambda: act(members[0])


def case_rating(make_group):
    _, members = make_group(3, conditions=[{"name": "best", "comparisons": ["best_opinion"]}])
    _rating(members)
    return members[0], "group", lambda: act(members[0])


def case_ranking(make_group):
    _, members = make_group(3, conditions=[{"name": "best", "comparisons": ["best_opinion"]}])
    _rating(members)
    act(members[0])
    act(members[0])
    assert participant_step(fresh(members[0])).kind == "rank"
    return members[0], "group", lambda: act(members[0])


def case_position_rating(make_group):
    question = deliberations.question_create(text="Q?", affirming_statement="Yes, it should.")
    _, members = make_group(3, questions=[question])
    assert participant_step(fresh(members[0])).kind == "position_before"
    return members[0], "participant", lambda: act(members[0])


def case_final_ranking(make_group):
    _, members = make_group(3, critique_iterations=1)
    _followups(members)
    return members[0], "participant", lambda: act(members[0])


def case_survey(make_group):
    _, members = make_group(3, critique_iterations=1)
    _followups(members)
    round_ = participant_step(fresh(members[0])).round

    def change():  # answered before the final ranking, so it does not complete the member
        responses.survey_submit(
            participant=fresh(members[0]), round_=round_, answers={"helpful": 5, "represented": 4}
        )

    return members[0], "participant", change


def case_completion(make_group):
    _, members = make_group(3, critique_iterations=1)
    _followups(members)
    while participant_step(fresh(members[0])).kind != "done":
        act(members[0])
    Participant.objects.filter(pk=members[0].pk).update(status=Participant.Status.ACTIVE)
    return (
        members[0],
        "participant",
        lambda: rounds.participant_complete_if_done(participant=members[0]),
    )


def case_close(make_group):
    _, members = make_group(3, min_group_size=2)
    iteration = _written(members, 2)
    return (
        members[0],
        "group",
        lambda: rounds.iteration_close_if_complete(iteration=iteration, force=True),
    )


def case_deadline(make_group):
    _, members = make_group(3, min_group_size=2)
    iteration = _written(members, 2)
    after = iteration.deadline + timedelta(seconds=1)
    Participant.objects.filter(pk=members[2].pk).update(last_seen_at=after)  # not absent
    return (
        members[0],
        "group",
        lambda: iteration_advance_if_overdue(iteration=iteration, now=after),
    )


def case_fail(make_group):
    _, members = make_group(3)
    iteration = _iteration(members[0])
    return members[0], "group", lambda: rounds.iteration_fail(iteration=iteration, reason="test")


def case_finish(make_group):
    _, members = make_group(3, critique_iterations=1)
    iteration = _rating(members)
    return (
        members[0],
        "group",
        lambda: rounds.iteration_finish_if_rated(iteration=iteration, force=True),
    )


def case_mediation(make_group):
    _, members = make_group(3)
    iteration = _written(members, 3)
    return (
        members[0],
        "group",
        lambda: mediation.iteration_mediate(iteration_id=iteration.pk),
    )


def case_recovery(make_group, settings):
    _, members = make_group(3)
    _written(members, 3)
    later = timezone.now() + timedelta(seconds=settings.MEDIATION_QUEUE_GRACE_SECONDS + 1)
    return members[0], "group", lambda: recovery.mediations_recover(now=later)


def case_dropout(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    iteration = _written(members, 1)  # the other two are silent: dropped, and one is too few
    later = timezone.now() + timedelta(seconds=deliberation.dropout_seconds + 1)
    return (
        members[0],
        "group",
        lambda: presence.iteration_drop_absent(iteration=iteration, now=later),
    )


def case_return(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    iteration = _written(members, 1)
    later = timezone.now() + timedelta(seconds=deliberation.dropout_seconds + 1)
    presence.iteration_drop_absent(iteration=iteration, now=later)
    return (
        members[1],
        ("group", "participant"),
        lambda: presence.participant_return(participant=fresh(members[1])),
    )


def case_leave(make_group):
    _, members = make_group(3)
    return (
        members[1],
        ("group", "participant"),
        lambda: presence.participant_leave(participant=members[1]),
    )


def case_pool_release(make_group):
    deliberation, (waiter,) = _seated(min_group_size=2, pool_wait_seconds=20)
    later = timezone.now() + timedelta(seconds=21)
    return (
        waiter,
        ("group", "participant"),
        lambda: presence.group_form_if_waited(group=fresh(waiter).group, now=later),
    )


def case_hide(make_group, moderator):
    _, members = make_group(3)
    _written(members, 1)
    opinion = Opinion.objects.get(participant=members[0])
    return (
        members[0],
        "group",
        lambda: moderation.member_text_hide(text=opinion, actor=moderator, reason="abuse"),
    )


def case_unhide(make_group, moderator):
    _, members = make_group(3)
    _written(members, 1)
    opinion = Opinion.objects.get(participant=members[0])
    moderation.member_text_hide(text=opinion, actor=moderator, reason="abuse")
    return (
        members[0],
        "group",
        lambda: moderation.member_text_unhide(text=opinion, actor=moderator),
    )


def case_retry(make_group, moderator):
    _, members = make_group(3)
    iteration = _written(members, 3)
    rounds.iteration_fail(iteration=iteration, reason="the model was away")
    return (
        members[0],
        "group",
        lambda: moderation.iteration_retry(iteration=iteration, actor=moderator),
    )


def case_extend_deadline(make_group, moderator):
    _, members = make_group(3)
    iteration = _iteration(members[0])
    return (
        members[0],
        "group",
        lambda: moderation.iteration_extend_deadline(
            iteration=iteration, actor=moderator, seconds=600
        ),
    )


def case_group_end(make_group, moderator):
    _, members = make_group(3)
    group = fresh(members[0]).group
    return (
        members[0],
        "group",
        lambda: moderation.group_end(group=group, actor=moderator, reason="time is up"),
    )


def case_close_deliberation(make_group, moderator):
    deliberation, members = make_group(3)
    return (
        members[0],
        "deliberation",
        lambda: deliberations.deliberation_set_status(
            deliberation=deliberation, status="closed", actor=moderator
        ),
    )


def case_consent_text(make_group, moderator):
    deliberation, members = make_group(3)
    return (
        members[0],
        "deliberation",
        lambda: consent.consent_text_update(
            deliberation=deliberation, text="A new consent text.", actor=moderator
        ),
    )


def case_archive(make_group, moderator):
    deliberation, members = make_group(3)
    return (
        members[0],
        "deliberation",
        lambda: lifecycle.deliberation_archive(deliberation=deliberation, actor=moderator),
    )


def case_bots(make_group):
    deliberation, (human,) = _seated(size=3, fill_with_bots=True)
    group = fresh(human).group
    assert group.members.count() == 3
    return human, "group", lambda: bots_act(group=group)


CASES = [
    case_seating,
    case_group_start,
    case_opinion,
    case_critique,
    case_rating,
    case_ranking,
    case_position_rating,
    case_final_ranking,
    case_survey,
    case_completion,
    case_close,
    case_deadline,
    case_fail,
    case_finish,
    case_mediation,
    case_recovery,
    case_dropout,
    case_return,
    case_leave,
    case_pool_release,
    case_hide,
    case_unhide,
    case_retry,
    case_extend_deadline,
    case_group_end,
    case_close_deliberation,
    case_consent_text,
    case_archive,
    case_bots,
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__.removeprefix("case_"))
def test_the_version_changes_when_a_service_changes_what_a_member_sees(
    case, request, django_capture_on_commit_callbacks
):
    arguments = {
        name: request.getfixturevalue(name)
        for name in case.__code__.co_varnames[: case.__code__.co_argcount]
    }
    member, scope, change = case(**arguments)
    member = fresh(member)
    # The versions the member's waiting page polls (its token names the group it was drawn in).
    ids = {
        "deliberation_id": member.deliberation_id,
        "group_id": member.group_id,
        "participant_id": member.pk,
    }
    before = view_versions(**ids)
    with django_capture_on_commit_callbacks() as callbacks:
        change()
    assert view_versions(**ids) == before  # nothing changes before the commit
    # Only the change's own commit callbacks: a task they send (a mediation, the bots) runs,
    # but what that task changes is its own commit's business, left out here.
    for callback in callbacks:
        callback()
    after = view_versions(**ids)
    for name in (scope,) if isinstance(scope, str) else scope:
        assert getattr(after, name) != getattr(before, name), name
