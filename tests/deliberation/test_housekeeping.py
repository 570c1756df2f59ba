"""Expired sessions are deleted by a beat task (they live in PostgreSQL; Django deletes none by
itself); live ones stay."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from deliberation.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db


def test_expired_sessions_are_deleted_and_live_ones_kept():
    now = timezone.now()
    Session.objects.create(session_key="expired-" + "x" * 24, session_data="",
                           expire_date=now - timedelta(minutes=1))  # fmt: skip
    Session.objects.create(session_key="live-" + "y" * 27, session_data="",
                           expire_date=now + timedelta(days=1))  # fmt: skip

    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == ["live-" + "y" * 27]


def test_the_beat_runs_it():
    entries = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "deliberation.tasks.clear_expired_sessions" in entries
