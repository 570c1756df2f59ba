"""Participant pages. Each view parses input, checks access, calls a service, then renders or
redirects; every POST redirects to the current step, so a reload or a second tab lands there."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliberation import access
from deliberation.errors import DomainError
from deliberation.forms import ConsentForm, RatingForm, TextForm
from deliberation.ratelimit import check_rate
from deliberation.selectors.participant import participant_step
from deliberation.services.participants import (
    participant_consent,
    participant_join,
    participant_touch,
)
from deliberation.services.ratings import rating_submit
from deliberation.services.rounds import (
    critique_submit,
    iteration_advance_if_overdue,
    opinion_submit,
)

STEP_TEMPLATE = "deliberation/participant/step.html"


def _client(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "unknown")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "deliberation/index.html")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, public_id) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = access.get_session_participant(request, deliberation)
    if participant is not None and participant.status != participant.Status.JOINED:
        return redirect("deliberation:step", public_id=public_id)
    form = ConsentForm(request.POST or None, initial={"version": deliberation.consent_version})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            check_rate(
                scope="join", who=_client(request), per_minute=settings.RATE_LIMIT_JOIN_PER_MINUTE
            )
            try:
                if participant is None:
                    participant = participant_join(deliberation=deliberation)
                    access.remember_participant(request, participant)
                participant_consent(participant=participant, version=form.cleaned_data["version"])
                return redirect("deliberation:step", public_id=public_id)
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
        else:
            status = 400
    return render(
        request,
        "deliberation/participant/consent.html",
        {"deliberation": deliberation, "form": form},
        status=status,
    )


def _current_step(participant):
    """The participant's step, after closing their group's phase if its deadline has passed."""
    step = participant_step(participant)
    if step.iteration is not None and iteration_advance_if_overdue(iteration=step.iteration):
        step = participant_step(participant)
    return step


def _step_context(request, deliberation, participant, **extra) -> dict:
    step = _current_step(participant)
    context = {"deliberation": deliberation, "step": step, "participant": participant}
    if step.kind in ("write_opinion", "write_critique") and "text_form" not in extra:
        label = "Your opinion" if step.kind == "write_opinion" else "Your critique"
        context["text_form"] = TextForm(label=label)
    if step.kind == "rate" and "rating_form" not in extra:
        context["rating_form"] = RatingForm()
    context.update(extra)
    return context


@require_GET
def step(request: HttpRequest, public_id) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = access.get_session_participant(request, deliberation)
    if participant is None:
        return redirect("deliberation:join", public_id=public_id)
    participant_touch(participant=participant)
    context = _step_context(request, deliberation, participant)
    if context["step"].kind == "consent":
        return redirect("deliberation:join", public_id=public_id)
    return render(request, STEP_TEMPLATE, context)


@require_GET
def status(request: HttpRequest, public_id) -> HttpResponse:
    """The cheap endpoint the waiting page polls. When the participant's step has changed since
    the page was drawn, htmx is told to load the step page; otherwise only the progress is drawn."""
    deliberation = access.get_open_deliberation(public_id, light=True)
    participant = access.require_session_participant(request, deliberation)
    participant_touch(participant=participant)
    current = _current_step(participant)
    if request.GET.get("key") != current.key:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("deliberation:step", kwargs={"public_id": public_id})
        return response
    if request.GET.get("seen") == current.progress_key:
        # Nothing new: no swap, so screen readers are not told the same thing every 2 seconds.
        return HttpResponse(status=204)
    return render(
        request,
        "deliberation/participant/_progress.html",
        {"deliberation": deliberation, "step": current},
    )


def _post_text(request, public_id, iteration_id: int, *, submit, label: str) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = access.require_session_participant(request, deliberation)
    iteration = access.get_member_iteration(participant, iteration_id)
    check_rate(
        scope="post", who=str(participant.public_id), per_minute=settings.RATE_LIMIT_POST_PER_MINUTE
    )
    form = TextForm(request.POST, label=label)
    if form.is_valid():
        try:
            submit(
                participant=participant,
                iteration=iteration,
                text=form.cleaned_data["text"],
                response_duration_ms=form.cleaned_data["duration_ms"],
            )
            return redirect("deliberation:step", public_id=public_id)
        except DomainError as exc:
            form.add_error("text", exc.message)
            status = exc.status
    else:
        status = 400
    context = _step_context(request, deliberation, participant, text_form=form)
    return render(request, STEP_TEMPLATE, context, status=status)


@require_POST
def opinion(request: HttpRequest, public_id, iteration_id: int) -> HttpResponse:
    return _post_text(request, public_id, iteration_id, submit=opinion_submit, label="Your opinion")


@require_POST
def critique(request: HttpRequest, public_id, iteration_id: int) -> HttpResponse:
    return _post_text(
        request, public_id, iteration_id, submit=critique_submit, label="Your critique"
    )


@require_POST
def rate(request: HttpRequest, public_id, statement_id: int) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = access.require_session_participant(request, deliberation)
    statement = access.get_member_statement(participant, statement_id)
    check_rate(
        scope="post", who=str(participant.public_id), per_minute=settings.RATE_LIMIT_POST_PER_MINUTE
    )
    form = RatingForm(request.POST)
    if form.is_valid():
        try:
            rating_submit(
                participant=participant,
                statement=statement,
                agreement=form.cleaned_data["agreement"],
                quality=form.cleaned_data["quality"],
                response_duration_ms=form.cleaned_data["duration_ms"],
            )
            return redirect("deliberation:step", public_id=public_id)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
    else:
        status = 400
    context = _step_context(request, deliberation, participant, rating_form=form)
    return render(request, STEP_TEMPLATE, context, status=status)
