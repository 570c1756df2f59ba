"""The moderator's pages: the list of deliberations, creating one and editing its set-up, and
watching its groups."""

from __future__ import annotations

import re
from uuid import UUID, uuid4

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliberation.access import (
    get_moderated_deliberation,
    get_moderated_group,
    get_moderated_iteration,
    get_moderated_text,
    is_owner,
    moderated_deliberations,
    moderator_required,
)
from deliberation.errors import DomainError
from deliberation.forms_moderator import DeliberationSetup, picked_question_ids, setup_initial
from deliberation.mediator import deliberation_mediation_summary
from deliberation.selectors.health import worker_status
from deliberation.selectors.moderator import (
    deliberation_list,
    deliberation_overview,
    deliberation_questions,
    group_audit_log,
    group_overview,
    join_path,
)
from deliberation.selectors.question_picker import question_picker
from deliberation.selectors.results import group_results
from deliberation.selectors.setup import deliberation_conditions, setup_editable
from deliberation.services.deliberations import deliberation_create_once, deliberation_set_status
from deliberation.services.moderation import (
    REASON_MAX,
    iteration_extend_deadline,
    iteration_retry,
    member_text_hide,
    member_text_unhide,
)
from deliberation.services.moderation import group_end as end_group
from deliberation.services.setup_edit import (
    SETUP_LOCKED_MESSAGE,
    SetupLocked,
    deliberation_setup_update,
)

GROUPS_POLL_SECONDS = 3


@require_GET
@moderator_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "deliberation/moderator/home.html",
        {"deliberations": deliberation_list(moderated_deliberations(request.user))},
    )


@require_http_methods(["GET", "POST"])
@moderator_required
def deliberation_create(request: HttpRequest) -> HttpResponse:
    """The set-up form. A POST whose `action` is a round trip (`is_round_trip`: search saved
    questions without JavaScript, add or remove a condition row) only shows the page again with
    everything typed; any other POST creates the deliberation or shows what to fix."""
    setup = _posted_setup(request)
    submission = request.POST.get("submission", "")
    if not SUBMISSION_RE.match(submission):
        submission = uuid4().hex
    status = 400 if setup.form.is_bound else 200  # a save that comes back is a refusal
    if setup.form.is_bound and setup.is_valid():
        # The page carries a submission id, so that a double click creates one deliberation.
        try:
            created = deliberation_create_once(
                submission=submission, created_by=request.user, **setup.service_kwargs()
            )
        except DomainError as exc:
            setup.add_domain_error(exc)
            status = exc.status
        else:
            return redirect("moderator:deliberation_detail", public_id=created)
    return _render_setup(request, setup, submission=submission, status=status)


@require_http_methods(["GET", "POST"])
@moderator_required
def deliberation_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """The set-up form filled with the deliberation's set-up, while nobody has joined it; round
    trips as on the create page, and any other POST saves (`deliberation_setup_update`). Once
    someone has joined, the page says why it cannot be edited (409); a save refused because
    someone joined meanwhile comes back with the reason and everything typed."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    if request.method == "GET":
        if not setup_editable(deliberation):
            return render(
                request,
                "deliberation/moderator/edit_locked.html",
                {"deliberation": deliberation, "reason": SETUP_LOCKED_MESSAGE},
                status=SetupLocked.status,
            )
        initial, rows = setup_initial(deliberation)
        setup = DeliberationSetup(initial=initial, condition_rows=rows)
    else:
        setup = _posted_setup(request)
    locked = ""
    status = 400 if setup.form.is_bound else 200  # a save that comes back is a refusal
    if setup.form.is_bound and setup.is_valid():
        try:
            deliberation_setup_update(
                deliberation=deliberation, actor=request.user, **setup.service_kwargs()
            )
        except SetupLocked as exc:
            locked, status = exc.message, exc.status
        except DomainError as exc:
            setup.add_domain_error(exc)
            status = exc.status
        else:
            messages.success(request, "The new set-up is saved.")
            return redirect("moderator:deliberation_detail", public_id=public_id)
    return _render_setup(
        request,
        setup,
        editing=deliberation,
        locked=locked,
        status=status,
    )


def _posted_setup(request: HttpRequest) -> DeliberationSetup:
    if request.method != "POST":
        return DeliberationSetup()
    return DeliberationSetup(request.POST, action=request.POST.get("action", "save"))


def _render_setup(
    request: HttpRequest,
    setup: DeliberationSetup,
    *,
    editing=None,
    submission: str = "",
    locked: str = "",
    status: int = 200,
) -> HttpResponse:
    picker = question_picker(query=setup.query, picked_ids=setup.picked_ids)
    action = (
        reverse("moderator:deliberation_edit", args=[editing.public_id])
        if editing is not None
        else reverse("moderator:deliberation_create")
    )
    return render(
        request,
        "deliberation/moderator/create.html",
        {
            "form": setup.form,
            "setup": setup,
            "picker": picker,
            "submission": submission,
            "form_action": action,
            "editing": editing,
            "locked": locked,
        },
        status=status,
    )


SUBMISSION_RE = re.compile(r"^[0-9a-f]{32}$")


@require_GET
@moderator_required
def question_picker_fragment(request: HttpRequest) -> HttpResponse:
    """The create page's saved-question picker for htmx: the ticked questions (`picked_questions`)
    and those matching `question_query`. Anyone else is sent to the create page."""
    if not request.htmx:
        return redirect("moderator:deliberation_create")
    picker = question_picker(
        query=request.GET.get("question_query", ""), picked_ids=picked_question_ids(request.GET)
    )
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
        "workers": worker_status(),
    }
    if fragment:
        return render(request, "deliberation/moderator/_groups.html", context)
    context.update(
        questions=deliberation_questions(deliberation),
        join_url=request.build_absolute_uri(join_path(deliberation)),
        mediation=deliberation_mediation_summary(deliberation),
        conditions=deliberation_conditions(deliberation),
        can_share=is_owner(request.user, deliberation),
        can_edit=setup_editable(deliberation),
    )
    return render(request, "deliberation/moderator/detail.html", context)


@require_GET
@moderator_required
def group_detail(request: HttpRequest, public_id: UUID, number: int) -> HttpResponse:
    """A group now (live: members, phase, deadline, mediation, and the moderator's actions),
    then every iteration: opinions, candidates and their group scores, the reward model's
    predictions, the ratings of the winner; and the audit log of what moderators did."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    return _render_group(request, deliberation, group, fragment=False)


@require_GET
@moderator_required
def group_now(request: HttpRequest, public_id: UUID, number: int) -> HttpResponse:
    """The group's live panel alone for htmx polling; the whole page for anyone else."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    return _render_group(request, deliberation, group, fragment=bool(request.htmx))


def _render_group(request: HttpRequest, deliberation, group, *, fragment: bool) -> HttpResponse:
    context = {
        "deliberation": deliberation,
        "group": group,
        "now": group_overview(group),
        "poll_seconds": GROUPS_POLL_SECONDS,
        "reason_max": REASON_MAX,
        "workers": worker_status(),
    }
    if fragment:
        return render(request, "deliberation/moderator/_group_now.html", context)
    context.update(rounds=group_results(group), audit_log=group_audit_log(group))
    return render(request, "deliberation/moderator/group.html", context)


def _group_url(deliberation, group, anchor: str = "") -> str:
    url = reverse("moderator:group_detail", args=[deliberation.public_id, group.number])
    return f"{url}#{anchor}" if anchor else url


HIDE_MESSAGES = {
    "not_yet": "Hid the {kind} of seat {seat}. Its mediation has not run yet and will leave it out.",
    "running": (
        "Hid the {kind} of seat {seat}. Its mediation was already running and may have read it; "
        "the statements it makes are not redone. Later mediations of the round leave it out."
    ),
    "done": (
        "Hid the {kind} of seat {seat}. It had already been mediated: the statements already "
        "made from it are not redone. Later mediations of the round leave it out."
    ),
}


def _seat(text) -> str:
    seat = text.participant.seat
    return "?" if seat is None else str(seat + 1)


@require_http_methods(["GET", "POST"])
@moderator_required
def text_hide(
    request: HttpRequest, public_id: UUID, number: int, kind: str, text_id: int
) -> HttpResponse:
    """GET: the text and the hide form (changes nothing). POST: hide it with the reason given;
    a refused reason comes back on this page with the error and the reason as typed."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    text = get_moderated_text(group, kind, text_id)
    reason, error, status = "", "", 200
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        try:
            outcome = member_text_hide(text=text, actor=request.user, reason=reason)
        except DomainError as exc:
            error, status = exc.message, exc.status
        else:
            messages.success(
                request, HIDE_MESSAGES[outcome.mediation].format(kind=kind, seat=_seat(text))
            )
            return redirect(_group_url(deliberation, group, f"{kind}-{text.pk}"))
    return render(
        request,
        "deliberation/moderator/text_hide.html",
        {
            "deliberation": deliberation,
            "group": group,
            "text": text,
            "kind": kind,
            "seat": _seat(text),
            "reason": reason,
            "error": error,
            "reason_max": REASON_MAX,
        },
        status=status,
    )


@require_POST
@moderator_required
def text_unhide(
    request: HttpRequest, public_id: UUID, number: int, kind: str, text_id: int
) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    text = get_moderated_text(group, kind, text_id)
    try:
        member_text_unhide(text=text, actor=request.user, reason=request.POST.get("reason", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The {kind} of seat {_seat(text)} is shown again. Mediations that ran while it was "
            "hidden are not redone; later ones include it.",
        )
    return redirect(_group_url(deliberation, group, f"{kind}-{text.pk}"))


@require_POST
@moderator_required
def iteration_retry_view(
    request: HttpRequest, public_id: UUID, number: int, iteration_id: int
) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    iteration = get_moderated_iteration(group, iteration_id)
    try:
        iteration_retry(iteration=iteration, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The mediation was sent to run again.")
    return redirect(_group_url(deliberation, group, "now"))


@require_POST
@moderator_required
def iteration_extend(
    request: HttpRequest, public_id: UUID, number: int, iteration_id: int
) -> HttpResponse:
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    iteration = get_moderated_iteration(group, iteration_id)
    try:
        minutes = int(request.POST.get("minutes", "").strip())
    except ValueError:
        messages.error(request, "Give the extension as a whole number of minutes (1 to 1,440).")
        return redirect(_group_url(deliberation, group, "now"))
    try:
        iteration = iteration_extend_deadline(
            iteration=iteration, actor=request.user, seconds=minutes * 60
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Deadline extended by {minutes} min, to {iteration.deadline:%H:%M:%S} UTC.",
        )
    return redirect(_group_url(deliberation, group, "now"))


@require_http_methods(["GET", "POST"])
@moderator_required
def group_end(request: HttpRequest, public_id: UUID, number: int) -> HttpResponse:
    """Two steps: GET, or a POST without `confirm`, shows what ending does, with the reason;
    a POST with `confirm=yes` ends the group. A refused reason comes back with the error."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    group = get_moderated_group(request.user, deliberation, number)
    reason, error, status = "", "", 200
    if request.method == "POST":
        reason = request.POST.get("reason", "")
        if request.POST.get("confirm") == "yes":
            try:
                end_group(group=group, actor=request.user, reason=reason)
            except DomainError as exc:
                error, status = exc.message, exc.status
            else:
                messages.success(
                    request,
                    f"Group {group.number} has ended. Its members who were still taking part "
                    "are marked as completed.",
                )
                return redirect(_group_url(deliberation, group, "now"))
    return render(
        request,
        "deliberation/moderator/group_end.html",
        {
            "deliberation": deliberation,
            "group": group,
            "now": group_overview(group),
            "reason": reason,
            "error": error,
            "reason_max": REASON_MAX,
        },
        status=status,
    )


@require_POST
@moderator_required
def deliberation_status(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Close a deliberation to new participants (those already in go on), or open it again."""
    deliberation = get_moderated_deliberation(request.user, public_id)
    try:
        deliberation_set_status(
            deliberation=deliberation, status=request.POST.get("status", ""), actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            "Open: new participants can join."
            if deliberation.status == deliberation.Status.OPEN
            else "Closed: nobody new can join; those already taking part go on.",
        )
    return redirect("moderator:deliberation_detail", public_id=public_id)
