"""What the results page reads before it decides whether its cached report is still good."""

from __future__ import annotations

import hashlib

from django.db.models import Count, Max, OuterRef, Q, Subquery

from deliberation.models import (
    Critique,
    Deliberation,
    Iteration,
    Participant,
    PositionRating,
    Prediction,
    Ranking,
    Rating,
    Statement,
)

# (model, path to the deliberation, aggregate): anything the report reads that can change.
_WATCHED = (
    ("participants", Participant, "deliberation", Max("pk")),
    ("ratings", Rating, "participant__deliberation", Max("pk")),
    ("rankings", Ranking, "participant__deliberation", Max("pk")),
    ("positions", PositionRating, "participant__deliberation", Max("pk")),
    ("critiques", Critique, "participant__deliberation", Max("pk")),
    ("hidden", Critique, "participant__deliberation", Count("pk", filter=Q(hidden=True))),
    ("predictions", Prediction, "participant__deliberation", Max("pk")),
    ("statements", Statement, "iteration__round__group__deliberation", Max("pk")),
    ("iterations", Iteration, "round__group__deliberation", Max("updated_at")),
)


def report_data_version(deliberation: Deliberation) -> str:
    """A short hash that changes whenever data the report reads changes: the newest id (or
    update time) of participants, ratings, rankings, position ratings, critiques (and how many
    are hidden), predictions, statements and iterations of `deliberation`. One query."""
    annotations = {
        f"v_{name}": Subquery(
            model.objects.filter(**{path: OuterRef("pk")})
            .order_by()
            .values(path)
            .annotate(value=aggregate)
            .values("value")[:1]
        )
        for name, model, path, aggregate in _WATCHED
    }
    values = Deliberation.objects.filter(pk=deliberation.pk).values(**annotations).first() or {}
    text = "|".join(f"{name}={values.get(f'v_{name}')}" for name, *_ in _WATCHED)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
