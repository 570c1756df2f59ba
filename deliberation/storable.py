"""Text and JSON from outside the platform (model servers, exception messages) made storable.

PostgreSQL refuses a NUL character in text and in `jsonb`, and UTF-8 has no lone surrogates; a
model server answering junk must not turn a failure into a crash that leaves the round stuck.
Control characters other than tab and newline are dropped (they mean nothing to a reader), and
text is cut to a limit with a visible mark.
"""

import math
import re

# C0 controls except tab, newline and carriage return; DEL; UTF-16 surrogates.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
CUT_MARK = " [...]"


def storable_text(value: object, *, limit: int) -> str:
    """`value` as text without unstorable characters, at most `limit` characters long."""
    text = _UNSTORABLE.sub("", str(value))
    if len(text) > limit:
        text = text[: max(0, limit - len(CUT_MARK))] + CUT_MARK
    return text


def storable_json(value: object, *, text_limit: int = 100_000) -> object:
    """A copy of a JSON-like value whose strings (keys included) are storable and whose floats are
    finite (a non-finite float becomes the string `"inf"`, `"-inf"` or `"nan"`)."""
    if isinstance(value, str):
        return storable_text(value, limit=text_limit)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {
            storable_text(k, limit=1000): storable_json(v, text_limit=text_limit)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [storable_json(v, text_limit=text_limit) for v in value]
    return storable_text(value, limit=text_limit)
