"""Redis taken away under the participant pages (a private `redis-server`, killed and started
again): pages still answer, nothing a participant sends is lost or doubled, rate limits admit
everyone and say so in the log, and `/healthz/` answers 503 naming the broker until Redis is back.
Sessions live in the database, so nobody is logged out by the outage either."""

import contextlib
import logging

import pytest

from config.cache import FailOpenRedisCache
from deliberation.models import Iteration, Opinion, Participant
from deliberation.services.deliberations import deliberation_create
from tests.commits import CommittingClient
from tests.faults import celery_broker_at

pytestmark = pytest.mark.django_db

OPINIONS = [
    "Closing the centre on Saturdays would make it calmer and safer for children and walkers.",
    "I drive in from a village without a bus; a closure would cut me off from the shops.",
]


@contextlib.contextmanager
def redis_everywhere(settings, server):
    """Point the cache and the Celery producer of this process at `server`."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.FailOpenRedisCache",
            "LOCATION": server.url(1),
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    FailOpenRedisCache.warned_at = float("-inf")
    with celery_broker_at(server.url(2)):
        yield


@pytest.fixture
def deliberation(fake_model_servers, settings):
    settings.RATE_LIMIT_JOIN_PER_MINUTE = 1
    return deliberation_create(
        created_by=None,
        title="Outage",
        questions=["Should the town centre be closed to cars on Saturdays?"],
        group_size=2,
        min_group_size=2,
        n_candidates=4,
    )


def _join(client, deliberation):
    return client.post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )


def test_pages_answer_and_nothing_is_lost_while_redis_is_down(
    client, deliberation, settings, private_redis, caplog
):
    with redis_everywhere(settings, private_redis):
        assert client.get("/healthz/").status_code == 200
        # With Redis up the join limit (1 a minute from one address) holds...
        assert _join(CommittingClient(), deliberation).status_code == 302
        assert _join(CommittingClient(), deliberation).status_code == 429
        Participant.objects.filter(deliberation=deliberation).delete()

        private_redis.stop()
        caplog.set_level(logging.WARNING)
        people = [CommittingClient(), CommittingClient()]
        for person in people:
            assert person.get(f"/j/{deliberation.public_id}/").status_code == 200
            # ...and with Redis down it admits everyone rather than turning them away.
            assert _join(person, deliberation).status_code == 302
            assert person.get(f"/j/{deliberation.public_id}/go/").status_code == 200
        assert "cache unavailable" in caplog.text

        iteration = Iteration.objects.get(round__group__deliberation=deliberation)
        for person, text in zip(people, OPINIONS, strict=True):
            status = person.get(f"/j/{deliberation.public_id}/status/", {"key": "x"})
            assert status.status_code in (200, 204)
            url = f"/j/{deliberation.public_id}/opinion/{iteration.pk}/"
            assert person.post(url, {"text": text}).status_code == 302
            assert person.post(url, {"text": text}).status_code == 302  # a resent form
        assert sorted(
            Opinion.objects.filter(iteration=iteration).values_list("text", flat=True)
        ) == (sorted(OPINIONS))
        iteration.refresh_from_db()
        # Closed and waiting for a worker: the message could not be sent, the sweep sends it.
        assert iteration.state == Iteration.State.MEDIATING

        health = client.get("/healthz/")
        assert health.status_code == 503
        body = health.json()
        assert body["ok"] is False
        assert body["database"] == "ok"
        assert body["broker"].startswith("down")
        assert body["cache"].startswith("down")

        private_redis.start()
        health = client.get("/healthz/")
        assert health.status_code == 200, health.json()
        assert health.json()["broker"] == "ok"
