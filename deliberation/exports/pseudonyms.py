"""Participants leave the database only as a salted hash (settings.EXPORT_SALT).

The hash (HMAC-SHA256, 80 bits shown) is of the participant's public UUID, so it is stable across
exports of one installation (the same salt) and says nothing without the salt. The UUID itself is
never written.
"""

import hashlib
import hmac
from collections.abc import Callable
from functools import lru_cache

from django.conf import settings

PSEUDONYM_LENGTH = 20  # hex characters: 80 bits, no collisions at any study size
CACHE_SIZE = 65_536  # bounded: members repeat within a chunk; a whole study need not fit


def _digest(salt: bytes, public_id) -> str:
    return hmac.new(salt, str(public_id).encode(), hashlib.sha256).hexdigest()[:PSEUDONYM_LENGTH]


def participant_pseudonym(public_id) -> str:
    """The participant's stable pseudonymous id in every export of this installation."""
    return _digest(str(settings.EXPORT_SALT).encode(), public_id)


def pseudonymiser() -> Callable[[object], str]:
    """`participant_pseudonym` for one export: the salt read once, recent answers cached."""
    salt = str(settings.EXPORT_SALT).encode()

    @lru_cache(maxsize=CACHE_SIZE)
    def pseudonym(public_id) -> str:
        return _digest(salt, public_id)

    return pseudonym
