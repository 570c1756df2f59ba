"""Participants leave the database only as a salted hash (settings.EXPORT_SALT).

The hash is of the participant's public UUID, so it is stable across exports of one installation
(the same salt) and says nothing without the salt. The UUID itself is never written.
"""

import hashlib
import hmac
from functools import lru_cache

from django.conf import settings

PSEUDONYM_LENGTH = 20  # hex characters: 80 bits, no collisions at any study size


def participant_pseudonym(public_id) -> str:
    """The participant's stable pseudonymous id in every export of this installation."""
    return _pseudonym(str(settings.EXPORT_SALT), str(public_id))


@lru_cache(maxsize=65_536)  # bounded: a chunk's members repeat, a study's do not fit
def _pseudonym(salt: str, public_id: str) -> str:
    digest = hmac.new(salt.encode(), public_id.encode(), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH]
