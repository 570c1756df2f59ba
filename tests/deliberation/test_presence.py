"""Dropouts, returns, leaving on purpose, deadlines with silent members, and the waiting pool, on
the real PostgreSQL. Time passes by moving `last_seen_at`, `grouped_at` and deadlines into the
past with ORM updates; nobody sleeps.

Bad input tried here: leaving twice, a GET on the leave URL, a POST to it without the
confirmation, a leave posted from another participant's browser and from a browser with no
session, leaving after being released from the pool, a member who left opening pages again, the
sweep run twice in a row and by two threads at once, the pool resolved by two threads at once.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from deliberation import access
from deliberation.errors import WrongPhase
from deliberation.models import (
    AuditLog,
    CandidateSet,
    Critique,
    Deliberation,
    Group,
    Iteration,
    Opinion,
    Participant,
    Rating,
    Statement,
)
from deliberation.selectors.participant import participant_step
from deliberation.services.deadlines import iterations_advance_overdue
from deliberation.services.deliberations import deliberation_create
from deliberation.services.presence import (
    group_form_if_waited,
    participant_leave,
    presence_sweep,
)
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import critique_submit, opinion_submit
from tests.commits import CommittingClient, committed

pytestmark = pytest.mark.django_db

OPINIONS = [
    "Closing the centre on Saturdays would make it safer for children and calmer for everyone.",
    "I drive in from a village with no bus, so a closure would cut me off from the shops.",
    "Air quality in the centre is poor and traffic is the main cause; a summer trial would tell.",
    "Delivery vans need access in the morning, but the afternoon could be car free.",
]
LONG_AGO = timedelta(minutes=30)


def current_iteration(group_id: int) -> Iteration:
    return Iteration.objects.filter(round__group_id=group_id).order_by("-id").first()


def fresh(participant: Participant) -> Participant:
    return Participant.objects.select_related("deliberation", "group").get(pk=participant.pk)


def go_silent(*participants) -> None:
    Participant.objects.filter(pk__in=[p.pk for p in participants]).update(
        last_seen_at=timezone.now() - LONG_AGO
    )


def seen_now(*participants) -> None:
    Participant.objects.filter(pk__in=[p.pk for p in participants]).update(
        last_seen_at=timezone.now()
    )


def browser_of(participant: Participant) -> Client:
    """A browser whose session is this participant's (as after following the join link)."""
    client = CommittingClient()
    session = client.session
    session[access.session_key(participant.deliberation)] = str(participant.public_id)
    session.save()
    return client


def rate_winner(member: Participant, iteration: Iteration) -> Rating:
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    with committed():
        return rating_submit(participant=fresh(member), statement=winner, agreement=5, quality=5)


def dropped_rows(participant: Participant) -> int:
    return AuditLog.objects.filter(
        action="participant_dropped", target_type="participant", target_id=participant.pk
    ).count()


def test_a_member_silent_mid_opinion_is_dropped_and_the_others_go_on(make_group):
    """Only the member who is silent *and* has not written drops: a silent member who wrote and
    a member who is still here but has not written both stay."""
    deliberation, members = make_group(4, min_group_size=2)
    group_id = members[0].group_id
    iteration = current_iteration(group_id)
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    go_silent(members[0], members[2])  # members[0] wrote; members[2] did not
    seen_now(members[1], members[3])

    with committed():
        assert presence_sweep() == {"dropped": 1, "started": 0, "released": 0}

    statuses = dict(Participant.objects.filter(group_id=group_id).values_list("pk", "status"))
    assert statuses == {
        members[0].pk: "active",
        members[1].pk: "active",
        members[2].pk: "dropped",
        members[3].pk: "active",
    }
    assert fresh(members[2]).left_at is not None
    assert dropped_rows(members[2]) == 1
    assert participant_step(fresh(members[2])).kind == "dropped"
    # Still waiting for members[3], who is here.
    assert current_iteration(group_id).state == Iteration.State.COLLECTING

    with committed():
        opinion_submit(participant=members[3], iteration=iteration, text=OPINIONS[3])
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert CandidateSet.objects.get(iteration=iteration).member_ids == [
        members[0].pk,
        members[1].pk,
        members[3].pk,
    ]
    for member in (members[0], members[1], members[3]):
        assert participant_step(fresh(member)).kind == "rate"
        rate_winner(member, iteration)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE
    assert Group.objects.get(pk=group_id).status == Group.Status.DONE


def test_when_the_last_writer_goes_silent_the_phase_moves_on_without_the_deadline(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    iteration = current_iteration(members[0].group_id)
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    go_silent(members[2])
    assert iteration.deadline > timezone.now()

    with committed():
        presence_sweep()

    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    # Rating: a member silent before rating drops too, and the others' ratings finish it.
    go_silent(members[1])
    seen_now(members[0])
    with committed():
        assert presence_sweep()["dropped"] == 1
    rate_winner(members[0], iteration)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE


def test_a_dropped_member_returns_where_the_group_is_and_takes_part_again(make_group):
    """The return happens on their next page view; what they wrote before stays."""
    deliberation, members = make_group(3, min_group_size=2, critique_iterations=1)
    group_id = members[0].group_id
    opinion_iteration = current_iteration(group_id)
    for member, text in zip(members, OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=opinion_iteration, text=text)
    opinion_iteration.refresh_from_db()
    assert opinion_iteration.state == Iteration.State.RATING
    seen_now(members[0], members[1])
    go_silent(members[2])
    with committed():
        assert presence_sweep()["dropped"] == 1
    for member in members[:2]:
        rate_winner(member, opinion_iteration)
    critique_iteration = current_iteration(group_id)
    assert (critique_iteration.index, critique_iteration.state) == (1, "collecting")

    response = browser_of(members[2]).get(f"/j/{deliberation.public_id}/go/")

    assert response.status_code == 200
    assert b"What would you change?" in response.content
    back = fresh(members[2])
    assert back.status == Participant.Status.ACTIVE and back.left_at is None
    assert participant_step(back).kind == "write_critique"
    assert Opinion.objects.filter(participant=back, iteration=opinion_iteration).exists()
    assert AuditLog.objects.filter(action="participant_returned", target_id=back.pk).count() == 1

    # The group now waits for them, and they take part in the rest of the round.
    winner = Statement.objects.get(iteration=opinion_iteration, is_winner=True)
    for member in members[:2]:
        with committed():
            critique_submit(
                participant=fresh(member), iteration=critique_iteration, text="Mention the buses."
            )
    critique_iteration.refresh_from_db()
    assert critique_iteration.state == Iteration.State.COLLECTING
    with committed():
        critique_submit(participant=back, iteration=critique_iteration, text="Say who pays for it.")
    assert Critique.objects.get(participant=back).statement == winner
    critique_iteration.refresh_from_db()
    assert critique_iteration.state == Iteration.State.RATING
    assert participant_step(fresh(back)).kind == "rate"
    for member in members[:2]:
        rate_winner(member, critique_iteration)
    critique_iteration.refresh_from_db()
    assert critique_iteration.state == Iteration.State.RATING  # waits for the returned member
    rate_winner(back, critique_iteration)
    critique_iteration.refresh_from_db()
    assert critique_iteration.state == Iteration.State.DONE


def test_a_dropped_member_of_a_finished_group_is_not_made_active_again(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    group_id = members[0].group_id
    iteration = current_iteration(group_id)
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    go_silent(members[2])
    with committed():
        presence_sweep()
    for member in members[:2]:
        rate_winner(member, iteration)
    assert Group.objects.get(pk=group_id).status == Group.Status.DONE

    browser_of(members[2]).get(f"/j/{deliberation.public_id}/go/")

    assert fresh(members[2]).status == Participant.Status.DROPPED
    assert not AuditLog.objects.filter(action="participant_returned").exists()


def test_a_member_who_leaves_does_not_count_and_the_group_finishes(make_group):
    """Tried: a GET on the leave URL and a POST without `confirm=yes` (both only show the
    form), leaving twice (one record), a leave posted from another member's browser (only that
    member leaves), a browser with no session (403), and the member who left opening pages again
    (they stay out, unlike a dropout)."""
    deliberation, members = make_group(3, min_group_size=2)
    group_id = members[0].group_id
    iteration = current_iteration(group_id)
    leave_url = f"/j/{deliberation.public_id}/leave/"
    leaver = browser_of(members[2])

    response = leaver.get(leave_url)
    assert response.status_code == 200 and b"Leave the study?" in response.content
    assert b'name="confirm" value="yes"' in response.content
    assert leaver.post(leave_url, {}).status_code == 200
    assert fresh(members[2]).status == Participant.Status.ACTIVE
    assert CommittingClient().post(leave_url, {"confirm": "yes"}).status_code == 403

    response = leaver.post(leave_url, {"confirm": "yes"})
    assert response.status_code == 302
    assert response["Location"] == f"/j/{deliberation.public_id}/go/"
    assert leaver.post(leave_url, {"confirm": "yes"}).status_code == 302  # twice: harmless
    left = fresh(members[2])
    assert left.status == Participant.Status.DROPPED and left.left_at is not None
    assert AuditLog.objects.filter(action="participant_left", target_id=left.pk).count() == 1
    assert set(
        Participant.objects.filter(pk__in=[members[0].pk, members[1].pk]).values_list(
            "status", flat=True
        )
    ) == {"active"}

    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING

    # Opening the step page and polling do not bring them back.
    assert b"You have left" in leaver.get(f"/j/{deliberation.public_id}/go/").content
    leaver.get(f"/j/{deliberation.public_id}/here/")
    assert fresh(members[2]).status == Participant.Status.DROPPED

    for member in members[:2]:
        rate_winner(member, iteration)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE
    assert Group.objects.get(pk=group_id).status == Group.Status.DONE
    assert fresh(members[2]).status == Participant.Status.DROPPED


def test_when_the_last_member_left_to_answer_leaves_the_phase_closes_at_once(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    iteration = current_iteration(members[0].group_id)
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)

    with committed():
        participant_leave(participant=fresh(members[2]))

    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING


def test_a_passing_deadline_drops_the_silent_and_keeps_the_present_who_had_not_written(
    make_group,
):
    deliberation, members = make_group(4, min_group_size=2)
    group_id = members[0].group_id
    iteration = current_iteration(group_id)
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    seen_now(*members[:2], members[3])
    # members[2] has been gone for 3 minutes, members[3] for 1: dropout_seconds is 120.
    Participant.objects.filter(pk=members[2].pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=3)
    )
    Participant.objects.filter(pk=members[3].pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=1)
    )
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    with committed():
        assert iterations_advance_overdue() == 1

    assert fresh(members[2]).status == Participant.Status.DROPPED
    assert fresh(members[3]).status == Participant.Status.ACTIVE
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert participant_step(fresh(members[3])).kind == "rate"


def test_when_everyone_goes_silent_the_deadline_fails_the_iteration_with_its_reason(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    iteration = current_iteration(members[0].group_id)
    go_silent(*members)

    with committed():
        assert presence_sweep()["dropped"] == 3
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.COLLECTING  # a member may still come back

    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with committed():
        iterations_advance_overdue()
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert "Only 0 member(s) wrote" in iteration.failure_reason


def test_bots_never_drop_out(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    Participant.objects.filter(pk=members[0].pk).update(provenance="bot_citizen")
    go_silent(*members)

    with committed():
        assert presence_sweep()["dropped"] == 2
    assert fresh(members[0]).status == Participant.Status.ACTIVE


def test_the_heartbeat_keeps_a_slow_writer_from_being_dropped(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    go_silent(*members)

    response = browser_of(members[0]).get(f"/j/{deliberation.public_id}/here/")

    assert response.status_code == 204
    with committed():
        assert presence_sweep()["dropped"] == 2
    assert fresh(members[0]).status == Participant.Status.ACTIVE


@pytest.mark.django_db(transaction=True)  # two threads, each on its own connection
def test_the_sweep_twice_and_two_sweeps_at_once_drop_each_member_once(make_group):
    deliberation, members = make_group(3, min_group_size=2)
    iteration = current_iteration(members[0].group_id)
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    go_silent(members[2])
    barrier = threading.Barrier(2)

    def sweep() -> int:
        try:
            barrier.wait(timeout=10)
            return presence_sweep()["dropped"]
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: sweep(), range(2)))

    assert sorted(results) == [0, 1]
    with committed():
        assert presence_sweep()["dropped"] == 0
    assert dropped_rows(members[2]) == 1
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert CandidateSet.objects.filter(iteration=iteration).count() == 1


# The waiting pool -----------------------------------------------------------------------------


@pytest.fixture
def pool_deliberation(fake_model_servers, eager_tasks):
    def make(*, group_size=4, min_group_size=2, pool_wait_seconds=60) -> Deliberation:
        deliberation = deliberation_create(
            created_by=None,
            title="Pool",
            questions=["Should towns close their centres to private cars on Saturdays?"],
            group_size=group_size,
            min_group_size=min_group_size,
            n_candidates=4,
        )
        Deliberation.objects.filter(pk=deliberation.pk).update(
            pool_wait_seconds=pool_wait_seconds, release_code="PAID-4711"
        )
        deliberation.refresh_from_db()
        return deliberation

    return make


def join(client: Client, deliberation: Deliberation) -> Participant:
    response = client.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )
    assert response.status_code == 302
    return Participant.objects.filter(deliberation=deliberation).latest("id")


def waited(*participants, seconds: int) -> None:
    Participant.objects.filter(pk__in=[p.pk for p in participants]).update(
        grouped_at=timezone.now() - timedelta(seconds=seconds)
    )


def test_a_lone_waiter_is_released_with_the_code_after_the_pool_wait(pool_deliberation):
    """Tried: a poll before the wait is over (nothing happens), and leaving after release
    (refused, nothing changes)."""
    deliberation = pool_deliberation(pool_wait_seconds=60)
    client = CommittingClient()
    waiter = join(client, deliberation)
    group = waiter.group
    assert waiter.status == Participant.Status.WAITING
    waited(waiter, seconds=30)
    with committed():
        assert presence_sweep() == {"dropped": 0, "started": 0, "released": 0}
    assert client.get(f"/j/{deliberation.public_id}/go/").status_code == 200
    assert fresh(waiter).status == Participant.Status.WAITING

    waited(waiter, seconds=61)
    with committed():
        assert presence_sweep() == {"dropped": 0, "started": 0, "released": 1}

    released = fresh(waiter)
    assert released.status == Participant.Status.RELEASED
    assert released.group is None and released.seat is None and released.left_at is not None
    assert participant_step(released).kind == "released"
    page = client.get(f"/j/{deliberation.public_id}/go/").content.decode()
    assert "released" in page and "PAID-4711" in page
    assert AuditLog.objects.get(action="participant_released").target_id == released.pk
    group.refresh_from_db()
    assert group.status == Group.Status.FORMING and not group.members.exists()
    with pytest.raises(WrongPhase):
        participant_leave(participant=released)
    assert fresh(waiter).status == Participant.Status.RELEASED
    # The empty group is reused by the next person to arrive.
    assert join(CommittingClient(), deliberation).group_id == group.pk


def test_a_waiter_polling_after_the_wait_releases_themselves_without_a_beat(pool_deliberation):
    deliberation = pool_deliberation(group_size=4, min_group_size=3, pool_wait_seconds=60)
    early, late = CommittingClient(), CommittingClient()
    first, second = join(early, deliberation), join(late, deliberation)
    waited(first, seconds=90)
    waited(second, seconds=10)

    response = early.get(f"/j/{deliberation.public_id}/status/", {"key": "waiting_group"})

    assert response.status_code == 204 and response["HX-Redirect"].endswith("/go/")
    assert fresh(first).status == Participant.Status.RELEASED
    # Only who waited too long is released; the later arrival keeps waiting in the group.
    assert fresh(second).status == Participant.Status.WAITING
    assert fresh(second).group_id is not None


def test_a_forming_group_with_the_minimum_starts_with_who_is_there(pool_deliberation):
    deliberation = pool_deliberation(group_size=4, min_group_size=2, pool_wait_seconds=60)
    first_browser = CommittingClient()
    first, second = join(first_browser, deliberation), join(CommittingClient(), deliberation)
    waited(first, seconds=61)

    response = first_browser.get(f"/j/{deliberation.public_id}/go/")

    assert response.status_code == 200
    assert b"What do you think?" in response.content
    group = Group.objects.get(pk=first.group_id)
    assert group.status == Group.Status.ACTIVE
    assert {fresh(p).status for p in (first, second)} == {"active"}
    assert group.members.count() == 2
    assert current_iteration(group.pk).state == Iteration.State.COLLECTING
    row = AuditLog.objects.get(action="group_started_from_pool")
    assert (row.target_id, row.data["members"]) == (group.pk, 2)
    # A newcomer goes to a new group, not into the started one.
    assert join(CommittingClient(), deliberation).group_id != group.pk


@pytest.mark.django_db(transaction=True)  # two threads, each on its own connection
def test_two_pool_resolutions_at_once_start_the_group_once(pool_deliberation):
    deliberation = pool_deliberation(group_size=4, min_group_size=2, pool_wait_seconds=60)
    first, second = join(CommittingClient(), deliberation), join(CommittingClient(), deliberation)
    waited(first, second, seconds=61)
    group = Group.objects.get(pk=first.group_id)
    barrier = threading.Barrier(2)

    def resolve() -> str:
        try:
            barrier.wait(timeout=10)
            return group_form_if_waited(group=group)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: resolve(), range(2)))

    assert sorted(results) == ["", "started"]
    assert group.rounds.count() == 1
    assert Iteration.objects.filter(round__group=group).count() == 1
    assert AuditLog.objects.filter(action="group_started_from_pool").count() == 1


def test_a_waiter_who_leaves_gives_up_their_seat(pool_deliberation):
    deliberation = pool_deliberation(group_size=2, min_group_size=2)
    browser = CommittingClient()
    waiter = join(browser, deliberation)
    group_id = waiter.group_id

    browser.post(f"/j/{deliberation.public_id}/leave/", {"confirm": "yes"})

    left = fresh(waiter)
    assert left.status == Participant.Status.DROPPED and left.group_id is None
    newcomer = join(CommittingClient(), deliberation)
    assert newcomer.group_id == group_id
    assert fresh(newcomer).status == Participant.Status.WAITING  # one member, not yet full


def test_a_waiter_who_closed_the_page_does_not_count_when_the_pool_times_out(pool_deliberation):
    """Three waiters, a minimum of two; one stopped polling long ago (closed the tab). The group
    starts with the two who are here and the third is released, not seated as a ghost. With only
    one of two present, nobody starts and the overdue waiters are released."""
    deliberation = pool_deliberation(group_size=4, min_group_size=2, pool_wait_seconds=60)
    here, also_here, gone = (join(CommittingClient(), deliberation) for _ in range(3))
    waited(here, also_here, gone, seconds=61)
    Participant.objects.filter(pk=gone.pk).update(
        last_seen_at=timezone.now() - timedelta(seconds=deliberation.dropout_seconds + 60)
    )
    Participant.objects.filter(pk__in=[here.pk, also_here.pk]).update(last_seen_at=timezone.now())

    with committed():
        assert presence_sweep()["started"] == 1

    group = Group.objects.get(pk=here.group_id)
    assert group.status == Group.Status.ACTIVE
    assert sorted(group.members.values_list("pk", flat=True)) == sorted([here.pk, also_here.pk])
    assert fresh(gone).status == Participant.Status.RELEASED and fresh(gone).group is None
    assert AuditLog.objects.filter(action="participant_released", target_id=gone.pk).exists()

    other = pool_deliberation(group_size=4, min_group_size=2, pool_wait_seconds=60)
    present, absent = join(CommittingClient(), other), join(CommittingClient(), other)
    waited(present, absent, seconds=61)
    Participant.objects.filter(pk=absent.pk).update(
        last_seen_at=timezone.now() - timedelta(seconds=other.dropout_seconds + 60)
    )
    with committed():
        assert presence_sweep()["released"] == 1
    assert {fresh(present).status, fresh(absent).status} == {Participant.Status.RELEASED}
