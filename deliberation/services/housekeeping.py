"""Housekeeping the beat runs: expired sessions are deleted (they live in the database, one row
per visitor, and Django deletes none by itself)."""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.utils import timezone


def sessions_clear_expired() -> int:
    """Delete the sessions whose expiry date has passed; returns how many."""
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
