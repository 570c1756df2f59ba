"""The moderator's pages: the list of deliberations, creating one, and watching its groups."""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from deliberation.access import (
    get_moderated_deliberation,
    get_moderated_group,
    moderator_required,
)
from deliberation.errors import DomainError
from deliberation.forms_moderator import DeliberationSetup
from deliberation.mediator import deliberation_mediation_summary
from deliberation.selectors.moderator import (
    deliberation_list,
    deliberation_overview,
    deliberation_questions,
    join_path,
)
from deliberation.selectors.question_picker import question_picker
from deliberation.selectors.results import group_results
from deliberation.services.deliberations import deliberation_create as create_deliberation

GROUPS_POLL_SECONDS = 3


@require_GET
@moderator_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request, "deliberation/moderator/home.html", {"deliberations": deliberation_list()}
    )


@require_http_methods(["GET", "POST"])
@moderator_required
def deliberation_create(request: HttpRequest) -> HttpResponse:
    """The set-up form. A POST whose `action` is "search" (search saved questions without
    JavaScript) or "add_condition" (one more condition row) only shows the page again with
    everything typed; any other POST creates the deliberation or shows what to fix."""
    action = request.POST.get("action", "create")
    setup = DeliberationSetup(
        request.POST if request.method == "POST" else None,
        draft=action in ("search", "add_condition"),
        add_row=action == "add_condition",
    )
    if request.method == "POST" and setup.form.is_bound and setup.is_valid():
        try:
            deliberation = create_deliberation(created_by=request.user, **setup.service_kwargs())
        except DomainError as exc:
            setup.add_domain_error(exc)
        else:
            return redirect("moderator:deliberation_detail", public_id=deliberation.public_id)
    picker = question_picker(query=setup.query, picked_ids=setup.picked_ids)
    return render(
        request,
        "deliberation/moderator/create.html",
        {"form": setup.form, "setup": setup, "picker": picker},
    )


@require_GET
@moderator_required
def question_picker_fragment(request: HttpRequest) -> HttpResponse:
    """The create page's saved-question picker for htmx: the ticked questions (`picked_questions`)
    and those matching `question_query`. Anyone else is sent to the create page."""
    if not request.htmx:
        return redirect("moderator:deliberation_create")
    picked_ids = [int(v) for v in request.GET.getlist("picked_questions") if v.isdigit()]
    picker = question_picker(query=request.GET.get("question_query", ""), picked_ids=picked_ids)
    return render(request, "deliberation/moderator/_question_picker.html", {"picker": picker})


@require_GET
@moderator_required
def deliberation_detail(request: HttpRequest, public_id: UUID) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    return _render_detail(request, deliberation, fragment=False)


@require_GET
@moderator_required
def groups_fragment(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The groups table alone for htmx polling; the whole page for anyone else."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    return _render_detail(request, deliberation, fragment=bool(request.htmx))


def _render_detail(request: HttpRequest, deliberation, *, fragment: bool) -> HttpResponse:
    context = {
        "deliberation": deliberation,
        "groups": deliberation_overview(deliberation),
        "poll_seconds": GROUPS_POLL_SECONDS,
    }
    if fragment:
        return render(request, "deliberation/moderator/_groups.html", context)
    context.update(
        questions=deliberation_questions(deliberation),
        join_url=request.build_absolute_uri(join_path(deliberation)),
        mediation=deliberation_mediation_summary(deliberation),
    )
    return render(request, "deliberation/moderator/detail.html", context)


@require_GET
@moderator_required
def group_detail(request: HttpRequest, public_id: UUID, number: int) -> HttpResponse:
    """Every iteration of a group: opinions, candidates and their group scores, the reward
    model's predictions, and the ratings of the winner."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    return render(
        request,
        "deliberation/moderator/group.html",
        {"deliberation": deliberation, "group": group, "rounds": group_results(group)},
    )
