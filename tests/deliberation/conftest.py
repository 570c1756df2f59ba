import pytest
from django.conf import settings


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
