import pytest
from django.conf import settings

from tests.commits import committed


@pytest.fixture(autouse=True, scope="session")
def _real_postgres():
    """These tests are about the real stack: refuse to run them on SQLite."""
    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" not in engine:
        pytest.exit(
            "The Django tests run against PostgreSQL: use `make test`, or set "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/commonground",
            returncode=2,
        )


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in the shared cache (Redis here); start every test at zero."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def fake_model_servers(settings):
    """Stand-ins for the model servers (the network edge): deterministic, instant."""
    settings.INFERENCE_ENV = {"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"}
    return settings.INFERENCE_ENV


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process for service-level tests that follow a whole chain. The tests
    about the worker itself start a real one (test_worker.py)."""
    from config import celery_app

    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def make_group(fake_model_servers, eager_tasks, request):
    """Create a deliberation and seat `size` human participants, who start a round together.
    In a test that has the `moderator` fixture, that moderator owns the deliberation."""
    from deliberation.models import Participant
    from deliberation.services.deliberations import deliberation_create
    from deliberation.services.participants import participant_consent, participant_join

    def make(size: int = 3, *, min_group_size: int | None = None, **options):
        owner = (
            request.getfixturevalue("moderator") if "moderator" in request.fixturenames else None
        )
        deliberation = deliberation_create(
            created_by=options.pop("created_by", owner),
            title=options.pop("title", "Test deliberation"),
            questions=options.pop(
                "questions", ["Should towns close their centres to private cars on Saturdays?"]
            ),
            group_size=size,
            min_group_size=min_group_size or size,
            n_candidates=options.pop("n_candidates", 4),
            **options,
        )
        members = []
        for _ in range(size):
            participant = participant_join(deliberation=deliberation)
            with committed():
                participant_consent(participant=participant, version=deliberation.consent_version)
            members.append(participant.pk)
        return deliberation, [Participant.objects.get(pk=pk) for pk in members]

    return make


@pytest.fixture
def moderator(django_user_model):
    """A user with the moderator permission (and nothing else)."""
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("mod", password="pw-for-tests-only")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="deliberation", codename="moderate")
    )
    return user


@pytest.fixture
def mod_client(client, moderator):
    """The test client, logged in as the moderator."""
    client.force_login(moderator)
    return client
