"""Storing an answer once, the way every answer is stored (opinions, critiques, ratings,
rankings, position ratings).

A member's answer is keyed by a unique constraint (the member and what is answered). Sending the
same answer again (a double click, a second tab, a retried request) returns what is stored;
sending a different one is refused, never silently overwritten; two requests racing each other
are decided by the constraint, and the loser is judged as if it had come second.
"""

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db import IntegrityError, models, transaction

from deliberation.errors import DomainError

M = TypeVar("M", bound=models.Model)


def create_once(
    model: type[M],
    *,
    key: Mapping[str, Any],
    values: Callable[[], Mapping[str, Any]] = dict,
    create: Callable[[], M] | None = None,
    same: Callable[[M], bool],
    refusal: Callable[[], DomainError],
    check: Callable[[], None] = lambda: None,
) -> tuple[M, bool]:
    """The row of `model` with the fields `key` (unique together), created if missing:
    `(row, created)`.

    An existing row is returned when `same(row)`, else `refusal()` is raised. Before creating,
    `check()` raises when the answer is not asked now, and `values()` gives the other fields (or
    raises); `create()`, when given, creates the row with `key` instead (a whole service). The
    insert runs in a savepoint; when a concurrent request inserted the row first, its row is
    judged by `same` as above.
    """
    existing = model.objects.filter(**key).first()
    if existing is None:
        check()
        try:
            with transaction.atomic():
                if create is not None:
                    return create(), True
                return model.objects.create(**key, **values()), True
        except IntegrityError:
            existing = model.objects.filter(**key).first()
            if existing is None:
                raise
    if same(existing):
        return existing, False
    raise refusal()
