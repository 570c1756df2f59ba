"""A mediation nobody is doing, through the services and the pages on the real PostgreSQL: the
recovery sweep sends a stuck one (lease lapsed) or an unclaimed one (queued past the grace time)
again, and gives up with a reason after `MEDIATION_MAX_RESENDS`; the moderator's live page tells
running, stuck and unclaimed apart and offers Retry for the last two only; the waiting page says
honestly when it takes much longer than usual.

A dead worker is arranged by writing the state it leaves behind (a lease in the past), which is
what the sweep and the pages read; the real crashes are in test_worker_faults.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config import celery_app
from deliberation.access import session_key
from deliberation.errors import WrongPhase
from deliberation.models import AuditLog, CandidateSet, Iteration, Opinion, WorkerHeartbeat
from deliberation.services.deliberations import deliberation_create
from deliberation.services.moderation import iteration_retry
from deliberation.services.participants import participant_consent, participant_join
from deliberation.services.recovery import bots_recover, mediations_recover
from deliberation.services.workers import worker_beat
from tests.commits import committed
from tests.deliberation.test_moderation import (
    fail_mediation,
    fix_generator,
    group_of,
    group_url,
)

pytestmark = pytest.mark.django_db


def _left_behind(iteration: Iteration, **fields) -> Iteration:
    """Put the iteration in the state a lost mediation leaves: `mediating`, no candidates."""
    Iteration.objects.filter(pk=iteration.pk).update(
        state=Iteration.State.MEDIATING, failure_reason="", **fields
    )
    iteration.refresh_from_db()
    return iteration


@pytest.fixture
def stuck(make_group):
    """A group whose mediation's worker died a minute ago (lease lapsed)."""
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    fix_generator(deliberation)
    now = timezone.now()
    iteration = _left_behind(
        iteration,
        mediation_started_at=now - timedelta(minutes=2),
        mediation_lease_until=now - timedelta(minutes=1),
    )
    return deliberation, members, iteration


def test_the_sweep_sends_a_stuck_mediation_again_and_it_finishes_once(stuck):
    _, members, iteration = stuck
    with committed():
        assert mediations_recover() == {"resent": 1, "failed": 0}
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING, iteration.failure_reason
    assert CandidateSet.objects.filter(iteration=iteration).count() == 1
    assert iteration.mediation_resends == 1  # a worker was lost once
    with committed():
        assert mediations_recover() == {"resent": 0, "failed": 0}


def test_the_sweep_sends_an_unclaimed_mediation_again(make_group, settings):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    fix_generator(deliberation)
    iteration = _left_behind(
        iteration,
        mediation_queued_at=timezone.now()
        - timedelta(seconds=settings.MEDIATION_QUEUE_GRACE_SECONDS + 5),
        mediation_lease_until=None,
        # No worker was lost: however often it was sent, an unclaimed one is sent again.
        mediation_resends=settings.MEDIATION_MAX_RESENDS,
    )
    with committed():
        assert mediations_recover()["resent"] == 1
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING


def test_a_running_or_freshly_queued_mediation_is_left_alone(make_group):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    running = _left_behind(iteration, mediation_lease_until=timezone.now() + timedelta(seconds=30))
    with committed():
        assert mediations_recover() == {"resent": 0, "failed": 0}
    _left_behind(running, mediation_lease_until=None, mediation_queued_at=timezone.now())
    with committed():
        assert mediations_recover() == {"resent": 0, "failed": 0}


def test_the_sweep_gives_up_with_a_reason_after_the_last_resend(stuck, settings):
    _, _, iteration = stuck
    Iteration.objects.filter(pk=iteration.pk).update(
        mediation_resends=settings.MEDIATION_MAX_RESENDS
    )
    with committed():
        assert mediations_recover() == {"resent": 0, "failed": 1}
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert f"sent again {settings.MEDIATION_MAX_RESENDS} times" in iteration.failure_reason


def test_the_live_page_says_stuck_and_the_moderator_retries_it(stuck, mod_client, moderator):
    _, members, iteration = stuck
    page = mod_client.get(group_url(group_of(members))).content.decode()
    assert "stuck since" in page
    assert "Retry the mediation" in page
    assert "No worker is running" in page

    with committed():
        iteration_retry(iteration=iteration, actor=moderator)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING  # (eager tasks: it ran at once)
    assert CandidateSet.objects.filter(iteration=iteration).count() == 1
    entry = AuditLog.objects.get(action="iteration_retry")
    assert entry.data["before"]["standing"] == "stuck"


def test_the_live_page_says_no_worker_has_taken_an_unclaimed_mediation(make_group, mod_client):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    _left_behind(
        iteration,
        mediation_queued_at=timezone.now() - timedelta(minutes=5),
        mediation_lease_until=None,
    )
    page = mod_client.get(group_url(group_of(members))).content.decode()
    assert "no worker has taken it" in page
    assert "Retry the mediation" in page


def test_a_running_mediation_is_shown_running_and_not_retried(make_group, mod_client, moderator):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    now = timezone.now()
    iteration = _left_behind(
        iteration,
        mediation_started_at=now - timedelta(seconds=20),
        mediation_lease_until=now + timedelta(seconds=20),
        mediation_attempts=2,
    )
    worker_beat(name="celery@box", hostname="box", pid=1, started_at=now)
    page = mod_client.get(group_url(group_of(members))).content.decode()
    assert "running for" in page and "(attempt 2)" in page
    assert "Retry the mediation" not in page
    assert "Workers running: 1" in page
    with pytest.raises(WrongPhase):
        iteration_retry(iteration=iteration, actor=moderator)
    WorkerHeartbeat.objects.all().delete()


def test_the_waiting_page_says_when_mediation_takes_much_longer_than_usual(make_group, client):
    deliberation, members = make_group(3)
    iteration = fail_mediation(deliberation, members)
    session = client.session
    session[session_key(deliberation)] = str(members[0].public_id)
    session.save()
    step_url = f"/j/{deliberation.public_id}/go/"

    _left_behind(iteration, mediation_queued_at=timezone.now(), mediation_lease_until=None)
    page = client.get(step_url).content.decode()
    assert "This usually takes a few seconds" in page
    assert "much longer than usual" not in page

    _left_behind(
        iteration,
        mediation_queued_at=timezone.now() - timedelta(minutes=3),
        mediation_lease_until=None,
    )
    page = client.get(step_url).content.decode()
    assert "much longer than usual" in page
    assert "Nothing you wrote is lost" in page


def test_bots_whose_turn_was_lost_are_told_again_to_act(fake_model_servers, settings):
    """The bots' message is lost (no worker takes it here); past the grace time the sweep sends
    it again, and only while a bot still owes an answer."""
    deliberation = deliberation_create(
        created_by=None,
        title="Bots",
        questions=["Should the town centre be closed to cars on Saturdays?"],
        group_size=3,
        min_group_size=2,
        n_candidates=2,
        fill_with_bots=True,
    )
    human = participant_join(deliberation=deliberation)
    with committed():
        participant_consent(participant=human, version=deliberation.consent_version)
    human.refresh_from_db()
    iteration = Iteration.objects.get(round__group=human.group, index=0)
    bots = Opinion.objects.filter(iteration=iteration, participant__provenance="bot_citizen")
    assert not bots.exists()  # their task went to a queue no worker reads
    with committed():
        assert bots_recover() == 0  # within the grace time: not yet

    Iteration.objects.filter(pk=iteration.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.MEDIATION_QUEUE_GRACE_SECONDS + 5)
    )
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with committed():
            assert bots_recover() == 1
        assert bots.count() == 2
        with committed():
            assert bots_recover() == 0  # the bots owe nothing more; only the human is left
    finally:
        celery_app.conf.task_always_eager = previous
