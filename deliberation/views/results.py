"""The statistics page of a deliberation (issue 9): tables by condition and SVG charts from
`analysis.report`, cached until new data arrives, with CSV and SVG downloads.

For moderators and researchers with access (`access.get_research_deliberation`). `?bots=1`
counts bots in the figures (the page says so); people only otherwise."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from analysis.charts import CHARTS
from analysis.definitions import DEFINITIONS
from analysis.tables import COLUMNS, TITLES, report_tables, to_csv
from deliberation.access import get_research_deliberation, research_required
from deliberation.services.reports import report_cached


def _bots(request: HttpRequest) -> bool:
    return request.GET.get("bots") == "1"


@require_GET
@research_required
def deliberation_results(request: HttpRequest, public_id: UUID) -> HttpResponse:
    deliberation = get_research_deliberation(request.user, public_id)
    include_bots = _bots(request)
    cached = report_cached(deliberation=deliberation, include_bots=include_bots, actor=request.user)
    tables = report_tables(cached.result)
    sections = [
        {
            "name": name,
            "title": TITLES[name],
            "columns": [(label, key) for _, label, key in COLUMNS[name]],
            "rows": [[row[field] for field, _, _ in COLUMNS[name]] for row in rows],
            "chart": CHARTS[name](cached.result) if name in CHARTS else None,
        }
        for name, rows in tables.items()
    ]
    return render(
        request,
        "deliberation/moderator/results.html",
        {
            "deliberation": deliberation,
            "result": cached.result,
            "computed_at": cached.computed_at,
            "include_bots": include_bots,
            "bots_query": "?bots=1" if include_bots else "",
            "sections": sections,
            "definitions": sorted(DEFINITIONS.items()),
        },
    )


@require_GET
@research_required
def results_csv(request: HttpRequest, public_id: UUID, table: str) -> HttpResponse:
    """One table of the page as CSV."""
    deliberation = get_research_deliberation(request.user, public_id)
    if table not in COLUMNS:
        raise Http404("No such table")
    cached = report_cached(
        deliberation=deliberation, include_bots=_bots(request), actor=request.user
    )
    response = HttpResponse(
        to_csv(report_tables(cached.result)[table], table), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{public_id}-{table}.csv"'
    return response


@require_GET
@research_required
def results_svg(request: HttpRequest, public_id: UUID, chart: str) -> HttpResponse:
    """One chart of the page as an SVG file."""
    deliberation = get_research_deliberation(request.user, public_id)
    if chart not in CHARTS:
        raise Http404("No such chart")
    cached = report_cached(
        deliberation=deliberation, include_bots=_bots(request), actor=request.user
    )
    response = HttpResponse(CHARTS[chart](cached.result), content_type="image/svg+xml")
    response["Content-Disposition"] = f'attachment; filename="{public_id}-{chart}.svg"'
    return response
