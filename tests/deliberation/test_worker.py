"""The mediation task in a real Celery worker: enqueued on commit by the services, run in another
process against the same database, idempotent, and failing visibly when the model server is
down. The worker is shared by the module (see `tests.worker`)."""

import io
import json
import re

import pytest
from django.core.management import call_command

from deliberation.models import (
    CandidateSet,
    Iteration,
    Opinion,
    Participant,
    Prediction,
    Rating,
    Statement,
)
from deliberation.services.deliberations import deliberation_create
from deliberation.services.participants import participant_consent, participant_join
from deliberation.services.texts import opinion_submit
from deliberation.tasks import mediate_iteration
from tests.worker import running_worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.timeout(180)]

OPINIONS = [
    "Cities should invest in cycle lanes. They are cheap and make streets safer for children.",
    "I am against closing roads to cars. Shops depend on customers who drive in from outside.",
    "Some streets could be closed at weekends. A trial would show whether it works for everyone.",
]
MEDIATION_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def live_worker(django_db_setup, django_db_blocker):
    with running_worker(django_db_blocker) as worker:
        yield worker


def _group_writes_opinions(deliberation) -> Iteration:
    """Three people join, consent (the group starts when full) and write; the last opinion
    closes the iteration, and the services enqueue the mediation when that commits."""
    people = [participant_join(deliberation=deliberation) for _ in OPINIONS]
    for person in people:
        participant_consent(participant=person, version=deliberation.consent_version)
    iteration = Iteration.objects.get(round__group__deliberation=deliberation, index=0)
    for person, text in zip(people, OPINIONS, strict=True):
        person.refresh_from_db()
        assert person.status == Participant.Status.ACTIVE
        opinion_submit(participant=person, iteration=iteration, text=text)
    return iteration


def _deliberation(**kwargs):
    return deliberation_create(
        created_by=None,
        title="Worker test",
        questions=["Should towns close their central streets to cars on weekends?"],
        group_size=3,
        min_group_size=3,
        n_candidates=4,
        **kwargs,
    )


def _state(iteration: Iteration) -> str:
    return Iteration.objects.values_list("state", flat=True).get(pk=iteration.pk)


def _ran_in_worker(worker, since: int, result: str) -> re.Match:
    """The worker's own log line for a mediation that finished with `result` (the candidate set id,
    or None) after log offset `since`: proof that the worker, not this process, ran the task."""
    pattern = re.compile(rf"mediate_iteration\[[^\]]+\] succeeded in [\d.]+s: {result}\b")
    return wait_until(
        lambda: pattern.search(worker.log()[since:]),
        timeout=MEDIATION_TIMEOUT_S,
        what=f"the worker to log a mediation that returned {result}",
    )


def test_worker_mediates_a_closed_iteration_once(transactional_db, live_worker):
    since = len(live_worker.log())
    iteration = _group_writes_opinions(_deliberation())

    wait_until(
        lambda: _state(iteration) not in (Iteration.State.COLLECTING, Iteration.State.MEDIATING),
        timeout=MEDIATION_TIMEOUT_S,
        what="the worker to mediate the iteration",
    )
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING, iteration.failure_reason
    candidate_set = CandidateSet.objects.get(iteration=iteration)
    statements = Statement.objects.filter(iteration=iteration, candidate_set=candidate_set)
    assert statements.count() == 4
    assert statements.filter(is_winner=True, shown=True).count() == 1
    assert Prediction.objects.filter(statement__iteration=iteration).count() == 3 * 4
    assert len(candidate_set.predictions) == 3
    assert all(1 <= v <= 7 for row in candidate_set.predictions for v in row)
    assert iteration.mediation_attempts == 1
    _ran_in_worker(live_worker, since, str(candidate_set.pk))

    # The same task again (a redelivery, a moderator's retry): the stored result stands.
    repeat = mediate_iteration.delay(iteration.pk)
    done = live_worker.wait_for(
        rf"mediate_iteration\[{repeat.id}\] succeeded in [\d.]+s: (\S+)",
        timeout=MEDIATION_TIMEOUT_S,
        what="the repeated task to finish",
    )
    assert done.group(1) == str(candidate_set.pk)
    assert CandidateSet.objects.filter(iteration=iteration).count() == 1
    assert Statement.objects.filter(iteration=iteration).count() == 4
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert iteration.mediation_attempts == 1


def test_worker_leaves_iteration_failed_when_the_generator_is_down(
    transactional_db,
    live_worker,
):
    deliberation = _deliberation()
    # A vLLM generator on a closed loopback port: every request is refused at once.
    deliberation.mediation_config = {
        **deliberation.mediation_config,
        "generator": {
            "backend": "vllm",
            "url": "http://127.0.0.1:9/v1",
            "options": {"timeout": 0.5, "retries": 0},
        },
    }
    deliberation.save(update_fields=["mediation_config"])
    since = len(live_worker.log())
    iteration = _group_writes_opinions(deliberation)

    wait_until(
        lambda: _state(iteration) == Iteration.State.FAILED,
        timeout=MEDIATION_TIMEOUT_S,
        what="the iteration to fail",
    )
    iteration.refresh_from_db()
    reason = iteration.failure_reason
    assert reason.strip(), "a failed iteration must say why"
    assert "Traceback" not in reason and len(reason) < 2000
    assert "127.0.0.1:9" in reason or "connect" in reason.lower() or "unavailable" in reason.lower()
    assert not CandidateSet.objects.filter(iteration=iteration).exists()
    assert not Statement.objects.filter(iteration=iteration).exists()
    assert sorted(Opinion.objects.filter(iteration=iteration).values_list("text", flat=True)) == (
        sorted(OPINIONS)
    )
    _ran_in_worker(live_worker, since, "None")  # the worker tried, stored nothing, failed it


def _mediations_in_worker(worker) -> int:
    return len(re.findall(r"mediate_iteration\[[^\]]+\] succeeded in [\d.]+s: \d+", worker.log()))


def test_simulate_with_broker_leaves_the_work_to_the_worker(transactional_db, live_worker):
    before = _mediations_in_worker(live_worker)
    out = io.StringIO()
    call_command(
        "simulate",
        "--groups",
        "1",
        "--size",
        "3",
        "--json",
        "--use-broker",
        "--timeout",
        "60",
        stdout=out,
    )

    report = json.loads(out.getvalue())
    iteration = report["groups"][0]["rounds"][0]["iterations"][0]
    assert iteration["state"] == Iteration.State.DONE
    assert len(iteration["ratings"]) == 3
    # The bots and the mediator ran in the worker, not in this process.
    assert _mediations_in_worker(live_worker) == before + 1
    assert Rating.objects.filter(iteration_id=iteration["id"]).count() == 3
