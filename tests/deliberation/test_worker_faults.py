"""Work that must finish, with real workers, a private `redis-server` and a slow fake model server
at the network edge (a loopback HTTP server): a mediation survives its pool process killed, its
whole worker killed and replaced, Redis restarted while it was queued and while it ran. In each
the iteration ends mediated exactly once (one candidate set), within a bound, and every opinion
and rating sent is in the database once. A model server that hangs or answers junk with NUL
bytes fails the iteration with the reason instead.

Leases, sweeps and heartbeats are short here (environment of the worker, settings of the test):
a 3 s lease, a 1 s sweep, a 4 s queue grace. The seconds each recovery took are printed (run
with `-s` to see them); the README quotes them.
"""

import signal
import subprocess
import time

import pytest

from deliberation.models import CandidateSet, Iteration, Opinion, Participant, Rating, Statement
from deliberation.selectors.health import worker_status
from deliberation.services.deliberations import deliberation_create
from deliberation.services.participants import participant_consent, participant_join
from deliberation.services.ratings import rating_submit
from deliberation.services.texts import opinion_submit
from tests.faults import celery_broker_at
from tests.inference.vllm_fake_server import FakeOpenAIServer, Reply
from tests.worker import start_worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.timeout(240)]

LEASE_S, SWEEP_S, GRACE_S, HEARTBEAT_S = 3, 1, 4, 1
SLOW_S = 6.0  # one slow generation: long enough to kill the mediation mid-way
BOUND_S = 60  # the recovery bound of DESIGN.md
N_CANDIDATES = 2
OPINIONS = [
    "Cities should invest in cycle lanes. They are cheap and make streets safer for children.",
    "I am against closing roads to cars. Shops depend on customers who drive in from outside.",
    "Some streets could be closed at weekends. A trial would show whether it works for everyone.",
]
WORKER_ENV = {
    "MEDIATION_LEASE_SECONDS": str(LEASE_S),
    "RECOVERY_SWEEP_SECONDS": str(SWEEP_S),
    "MEDIATION_QUEUE_GRACE_SECONDS": str(GRACE_S),
    "WORKER_HEARTBEAT_SECONDS": str(HEARTBEAT_S),
    # The other sweeps stay out of the way of these tests.
    "DEADLINE_SWEEP_SECONDS": "3600",
}


@pytest.fixture
def short_settings(settings, fake_model_servers):
    settings.MEDIATION_LEASE_SECONDS = LEASE_S
    settings.MEDIATION_QUEUE_GRACE_SECONDS = GRACE_S
    settings.WORKER_HEARTBEAT_SECONDS = HEARTBEAT_S
    return settings


@pytest.fixture
def broker(private_redis):
    with celery_broker_at(private_redis.url(0)):
        yield private_redis


@pytest.fixture
def model_server():
    """The generator: slow while `model_server.slow` is set, instant otherwise."""
    with FakeOpenAIServer() as server:
        server.slow = True
        server.rule = lambda request: Reply("slow", delay=SLOW_S) if server.slow else None
        yield server


@pytest.fixture
def workers(broker):
    """Start workers on the private broker (`workers(pool=..., beat=...)`); all stopped after."""
    started = []

    def start(**options):
        options.setdefault("beat", True)
        env = {**WORKER_ENV, "CELERY_BROKER_URL": broker.url(0), **options.pop("env", {})}
        worker = start_worker(env=env, **options)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def _deliberation(model_server):
    deliberation = deliberation_create(
        created_by=None,
        title="Faults",
        questions=["Should towns close their central streets to cars on weekends?"],
        group_size=3,
        min_group_size=3,
        n_candidates=N_CANDIDATES,
    )
    deliberation.mediation_config = {
        **deliberation.mediation_config,
        "generator": {
            "backend": "vllm",
            "url": model_server.url,
            "model": "fake/model-7b",
            "options": {"timeout": 30, "retries": 0},
        },
    }
    deliberation.save(update_fields=["mediation_config"])
    return deliberation


def _group_writes(deliberation) -> tuple[Iteration, list[Participant]]:
    people = [participant_join(deliberation=deliberation) for _ in OPINIONS]
    for person in people:
        participant_consent(participant=person, version=deliberation.consent_version)
    iteration = Iteration.objects.get(round__group__deliberation=deliberation, index=0)
    for person, text in zip(people, OPINIONS, strict=True):
        person.refresh_from_db()
        opinion_submit(participant=person, iteration=iteration, text=text)
    return iteration, people


def _state(iteration) -> str:
    return Iteration.objects.values_list("state", flat=True).get(pk=iteration.pk)


def _wait_mediated(iteration, *, since: float, what: str) -> float:
    wait_until(
        lambda: _state(iteration) not in (Iteration.State.COLLECTING, Iteration.State.MEDIATING),
        timeout=BOUND_S,
        what=what,
    )
    took = time.monotonic() - since
    print(f"\n{what}: recovered in {took:.1f} s")  # noqa: T201 - the figure the README quotes
    return took


def _mediated_exactly_once(iteration, people) -> None:
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING, iteration.failure_reason
    assert CandidateSet.objects.filter(iteration=iteration).count() == 1
    assert Statement.objects.filter(iteration=iteration).count() == N_CANDIDATES
    assert Statement.objects.filter(iteration=iteration, is_winner=True).count() == 1
    texts = list(Opinion.objects.filter(iteration=iteration).values_list("text", flat=True))
    assert sorted(texts) == sorted(OPINIONS)
    # Every member rates the winner; the ratings are stored once each, a resend included.
    winner = Statement.objects.get(iteration=iteration, shown=True)
    for person in people:
        for _ in range(2):
            rating_submit(participant=person, statement=winner, agreement=5, quality=6)
    assert Rating.objects.filter(iteration=iteration).count() == len(people)


def _running(model_server, iteration) -> None:
    """Wait until the worker is inside the mediation (the generator has been asked)."""
    wait_until(lambda: model_server.requests, timeout=BOUND_S, what="the mediation to start")
    assert _state(iteration) == Iteration.State.MEDIATING


def _pool_child(worker) -> int:
    """The pid of the worker's pool process that runs the task (the one talking to the model)."""
    from config import celery_app

    active = celery_app.control.inspect([worker.name], timeout=5).active() or {}
    pids = [task["worker_pid"] for task in active.get(worker.name, [])]
    assert pids, f"no active task on {worker.name}: {active!r}"
    return pids[0]


def test_pool_process_killed_mid_mediation(transactional_db, short_settings, model_server, workers):
    worker = workers(pool="prefork")
    iteration, people = _group_writes(_deliberation(model_server))
    _running(model_server, iteration)

    child = _pool_child(worker)
    model_server.slow = False
    killed_at = time.monotonic()
    subprocess.run(["kill", "-9", str(child)], check=True)  # as the kernel's OOM killer does

    _wait_mediated(iteration, since=killed_at, what="pool process killed")
    _mediated_exactly_once(iteration, people)
    assert "WorkerLostError" in worker.log() or "exited prematurely" in worker.log()


def test_whole_worker_killed_and_a_new_one_started(
    transactional_db, short_settings, model_server, workers
):
    first = workers()
    iteration, people = _group_writes(_deliberation(model_server))
    _running(model_server, iteration)
    wait_until(lambda: first.name in worker_status().alive, timeout=30, what="a heartbeat")

    first.kill()
    killed_at = time.monotonic()
    model_server.slow = False
    # The dead worker stops beating: within three heartbeats it is no longer shown alive.
    wait_until(
        lambda: first.name not in worker_status().alive,
        timeout=30,
        what="the killed worker to stop showing as alive",
    )
    second = workers()
    _wait_mediated(iteration, since=killed_at, what="whole worker killed, a new one started")
    _mediated_exactly_once(iteration, people)
    assert second.name in worker_status().alive
    iteration.refresh_from_db()
    assert iteration.mediation_attempts == 2  # the dead one's claim, and the one that finished


def test_redis_restarted_with_a_mediation_queued(
    transactional_db, short_settings, model_server, workers, broker
):
    model_server.slow = False
    iteration, people = _group_writes(_deliberation(model_server))
    assert _state(iteration) == Iteration.State.MEDIATING  # sent, and no worker yet

    broker.restart()  # the queue comes back empty
    restarted_at = time.monotonic()
    workers()
    _wait_mediated(iteration, since=restarted_at, what="Redis restarted with a mediation queued")
    _mediated_exactly_once(iteration, people)


def test_redis_restarted_with_a_mediation_running(
    transactional_db, short_settings, model_server, workers, broker
):
    worker = workers(pool="prefork")
    deliberation = _deliberation(model_server)
    iteration, people = _group_writes(deliberation)
    _running(model_server, iteration)

    broker.restart()
    restarted_at = time.monotonic()
    model_server.slow = False
    _wait_mediated(iteration, since=restarted_at, what="Redis restarted with a mediation running")
    _mediated_exactly_once(iteration, people)

    # The worker came back to its queue: a new group's mediation, sent after the restart, runs.
    other = _deliberation(model_server)
    second, others = _group_writes(other)
    _wait_mediated(second, since=time.monotonic(), what="the next mediation after the restart")
    _mediated_exactly_once(second, others)
    assert worker.process.poll() is None


@pytest.mark.parametrize("reply", ["hang", "junk"])
def test_a_misbehaving_model_fails_the_iteration_in_the_worker(
    transactional_db, short_settings, model_server, workers, reply
):
    model_server.slow = False
    model_server.rule = lambda request: (
        Reply("hang") if reply == "hang" else Reply("malformed", content="\x00junk\x00 \x1b[0m")
    )
    deliberation = _deliberation(model_server)
    deliberation.mediation_config["generator"]["options"] = {"timeout": 3, "retries": 1}
    deliberation.save(update_fields=["mediation_config"])
    workers(beat=False)
    iteration, _ = _group_writes(deliberation)

    wait_until(
        lambda: _state(iteration) == Iteration.State.FAILED, timeout=BOUND_S, what="the failure"
    )
    iteration.refresh_from_db()
    assert "\x00" not in iteration.failure_reason
    expected = "total deadline of 3s" if reply == "hang" else "not JSON"
    assert expected in iteration.failure_reason, iteration.failure_reason
    assert not CandidateSet.objects.filter(iteration=iteration).exists()
    assert Opinion.objects.filter(iteration=iteration).count() == len(OPINIONS)


def test_healthz_lists_a_live_worker(transactional_db, short_settings, client, workers):
    worker = workers(beat=False)
    wait_until(lambda: worker.name in worker_status().alive, timeout=30, what="a heartbeat")
    body = client.get("/healthz/").json()
    assert worker.name in body["workers"]["names"]
    worker.process.send_signal(signal.SIGTERM)  # a warm shutdown says goodbye
    worker.process.wait(timeout=30)
    wait_until(lambda: worker.name not in worker_status().alive, timeout=10, what="goodbye")
