"""Participant pages. Each view parses input, checks access, calls a service, then renders or
redirects; every POST redirects to the current step, so a reload or a second tab lands there."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliberation import access
from deliberation.errors import DomainError
from deliberation.forms import (
    ConsentForm,
    PositionForm,
    RankingForm,
    RatingForm,
    SurveyForm,
    TextForm,
)
from deliberation.models import TEXT_MAX
from deliberation.ratelimit import check_rate, client_address
from deliberation.selectors.consent import (
    answer_visibility,
    consent_disclosures,
    consent_needed,
    consented_version,
    writing_visibility,
)
from deliberation.selectors.health import health_check
from deliberation.selectors.participant import (
    ANSWER_STEPS,
    WAITING_STEPS,
    position_statement,
    round_winners,
    statements_for,
)
from deliberation.services import panels
from deliberation.services.participants import participant_enter
from deliberation.services.presence import participant_leave
from deliberation.services.ratings import rating_submit
from deliberation.services.responses import (
    final_ranking_submit,
    position_rating_submit,
    ranking_submit,
    survey_submit,
)
from deliberation.services.texts import critique_submit, opinion_submit
from deliberation.services.visits import (
    participant_poll_unchanged,
    participant_seen,
    participant_visit,
)

STEP_TEMPLATE = "deliberation/participant/step.html"
WRITE_STEPS = ("write_opinion", "write_critique")
ANSWER_VISIBILITY_STEPS = ("rate", "rank", "final_ranking")
TEXT_LABELS = {
    "write_opinion": gettext_lazy("Your opinion"),
    "write_critique": gettext_lazy("Your critique"),
}
# The form each answering step's page holds, and the context name of each answer form.
STEP_FORMS = {
    "position_before": "position_form",
    "position_after": "position_form",
    "rank": "ranking_form",
    "final_ranking": "ranking_form",
    "survey": "survey_form",
}
ANSWER_FORMS = {
    PositionForm: "position_form",
    RankingForm: "ranking_form",
    SurveyForm: "survey_form",
}


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "deliberation/index.html")


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The database, the broker, the cache and the live workers; 503 when the database or the
    broker is down (selectors.health)."""
    health = health_check()
    return JsonResponse(health.as_dict(), status=200 if health.ok else 503)


def _panel_session_key(deliberation) -> str:
    return f"cg-panel-{deliberation.public_id}"


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, public_id) -> HttpResponse:
    """The invitation link. Panel ids (Prolific, MTurk, ?xid=) come on the URL: the rules are
    `panels.panel_arrival`'s (a link it refuses is answered by the error middleware); the ids are
    kept in the session until consent, and a returning panel member resumes where they were."""
    deliberation = access.get_open_deliberation(public_id)
    participant = access.get_session_participant(request, deliberation)
    if request.method == "GET":
        arrival = panels.panel_arrival(
            deliberation=deliberation, params=request.GET, participant=participant
        )
        if arrival.returning is not None:
            access.remember_participant(request, arrival.returning)
            return redirect("deliberation:step", public_id=public_id)
        if arrival.ids is not None:
            request.session[_panel_session_key(deliberation)] = arrival.ids.as_dict()
    if participant is not None and not consent_needed(participant):
        return redirect("deliberation:step", public_id=public_id)
    form = ConsentForm(request.POST or None, initial={"version": deliberation.consent_version})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            check_rate(
                scope="join",
                who=client_address(request) or "unknown",
                per_minute=settings.RATE_LIMIT_JOIN_PER_MINUTE,
            )
            try:
                participant = participant_enter(
                    deliberation=deliberation,
                    participant=participant,
                    panel_ids=panels.PanelIds.from_dict(
                        request.session.get(_panel_session_key(deliberation))
                    ),
                    version=form.cleaned_data["version"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
                status = exc.status
            else:
                access.remember_participant(request, participant)
                return redirect("deliberation:step", public_id=public_id)
        else:
            status = 400
    return render(
        request,
        "deliberation/participant/consent.html",
        {
            "deliberation": deliberation,
            "form": form,
            "disclosures": consent_disclosures(deliberation),
            "agreed_before": consented_version(participant) if participant else None,
            "participant": participant,
        },
        status=status,
    )


def _step_context(request, deliberation, participant, **extra) -> dict:
    step = participant_visit(participant=participant)
    context = {
        "deliberation": deliberation,
        "step": step,
        "participant": participant,
        "answering_steps": ANSWER_STEPS,
    }
    if step.kind in WRITE_STEPS:
        context["text_max"] = TEXT_MAX
        context["visibility"] = writing_visibility(
            step.group, critique=step.kind == "write_critique"
        )
        if "text_form" not in extra:
            context["text_form"] = TextForm(label=TEXT_LABELS[step.kind])
    if step.kind in ANSWER_VISIBILITY_STEPS:
        context["visibility"] = answer_visibility(step.kind)
    if step.kind == "rate" and "rating_form" not in extra:
        context["rating_form"] = RatingForm()
    if step.kind in ("rank", "final_ranking") and "ranking_form" not in extra:
        context["ranking_form"] = RankingForm(statements=step.statements)
    if step.kind in ("position_before", "position_after"):
        context["position_statement"] = position_statement(step.round)
        if "position_form" not in extra:
            context["position_form"] = PositionForm()
    if step.kind == "survey" and "survey_form" not in extra:
        context["survey_form"] = SurveyForm(items=deliberation.survey_items)
    if step.kind in ("done", "ended", "released"):
        context["completion"] = panels.completion_for(participant)
    if step.kind in WAITING_STEPS:
        context["poll_token"] = access.poll_token(request, participant)
    context.update(extra)
    return context


@require_GET
def step(request: HttpRequest, public_id) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = access.get_session_participant(request, deliberation)
    if participant is None:
        return redirect("deliberation:join", public_id=public_id)
    context = _step_context(request, deliberation, participant)
    if context["step"].kind == "consent":
        return redirect("deliberation:join", public_id=public_id)
    return render(request, STEP_TEMPLATE, context)


@require_GET
def status(request: HttpRequest, public_id) -> HttpResponse:
    """The cheap endpoint the waiting page polls. When the participant's step has changed since
    the page was drawn, htmx is told to load the step page; otherwise only the progress is drawn.

    The page's poll carries a signed token (`access.poll_token`): with it, "nothing changed" is
    answered from one cache read, without the session or any query, while the versions of what
    the member sees are unchanged (`services.versions`). Otherwise, or when anything changed,
    the session decides who asks and the step is computed."""
    key, seen = request.GET.get("key"), request.GET.get("seen")
    poller = access.poll_member(request, public_id)
    if poller is not None and participant_poll_unchanged(**poller._asdict(), key=key, seen=seen):
        return HttpResponse(status=204)
    deliberation = access.get_open_deliberation(public_id, light=True)
    participant = access.require_session_participant(request, deliberation)
    current = participant_visit(participant=participant)
    if key != current.key:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("deliberation:step", kwargs={"public_id": public_id})
        return response
    if seen == current.progress_key:
        # Nothing new: no swap, so screen readers are not told the same thing every 2 seconds.
        return HttpResponse(status=204)
    return render(
        request,
        "deliberation/participant/_progress.html",
        {
            "deliberation": deliberation,
            "step": current,
            "poll_token": access.poll_token(request, participant),
        },
    )


def _post_text(request, public_id, iteration_id: int, *, submit, label: str) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = _answering_member(request, deliberation)
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
    step_now = context["step"]
    if step_now.kind not in WRITE_STEPS or step_now.iteration != iteration:
        # The member has moved on (Back after sending, a second tab, a closed phase): the writing
        # form is not on the page, so say why nothing changed and give the text back.
        context["notice"] = " ".join(str(e) for e in form.errors.get("text", []))
        context["unsaved_text"] = request.POST.get("text", "")
    return render(request, STEP_TEMPLATE, context, status=status)


@require_POST
def opinion(request: HttpRequest, public_id, iteration_id: int) -> HttpResponse:
    return _post_text(
        request, public_id, iteration_id, submit=opinion_submit, label=TEXT_LABELS["write_opinion"]
    )


@require_POST
def critique(request: HttpRequest, public_id, iteration_id: int) -> HttpResponse:
    return _post_text(
        request,
        public_id,
        iteration_id,
        submit=critique_submit,
        label=TEXT_LABELS["write_critique"],
    )


@require_POST
def rate(request: HttpRequest, public_id, statement_id: int) -> HttpResponse:
    deliberation = access.get_open_deliberation(public_id)
    participant = _answering_member(request, deliberation)
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


@require_http_methods(["GET", "POST"])
def leave(request: HttpRequest, public_id) -> HttpResponse:
    """Leave the study on purpose. A GET, or a POST without `confirm=yes`, only shows the
    confirmation form; nothing changes until it is sent."""
    deliberation = access.get_open_deliberation(public_id)
    participant = access.require_session_participant(request, deliberation)
    error, status = "", 200
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        check_rate(
            scope="post",
            who=str(participant.public_id),
            per_minute=settings.RATE_LIMIT_POST_PER_MINUTE,
        )
        try:
            participant_leave(participant=participant)
            return redirect("deliberation:step", public_id=public_id)
        except DomainError as exc:
            error, status = exc.message, exc.status
    return render(
        request,
        "deliberation/participant/leave.html",
        {"deliberation": deliberation, "participant": participant, "error": error},
        status=status,
    )


@require_GET
def heartbeat(request: HttpRequest, public_id) -> HttpResponse:
    """Pages without the waiting poll (writing, rating) call this now and then, so that a member
    who takes long to write is not taken for one who has gone. Always 204."""
    deliberation = access.get_open_deliberation(public_id, light=True)
    participant = access.require_session_participant(request, deliberation)
    participant_seen(participant=participant)
    return HttpResponse(status=204)


def _answering_member(request, deliberation):
    """The member sending an answer. Sending counts as being here: a member who was marked as
    dropped while writing (on a page without JavaScript, which sends no heartbeat) comes back
    before the answer is stored."""
    participant = access.require_session_participant(request, deliberation)
    participant_seen(participant=participant)
    return participant


def _answer(request, public_id, *, load, make_form, submit) -> HttpResponse:
    """The shared shape of the end-of-step answers: load what is answered (404 when it is not
    the member's), check the form, call the service, redirect to the current step; on an error
    redraw the step with what was sent and the message."""
    deliberation = access.get_open_deliberation(public_id)
    participant = _answering_member(request, deliberation)
    check_rate(
        scope="post", who=str(participant.public_id), per_minute=settings.RATE_LIMIT_POST_PER_MINUTE
    )
    target = load(participant)
    form = make_form(participant, target)
    if form.is_valid():
        try:
            submit(participant, target, form)
            return redirect("deliberation:step", public_id=public_id)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
    else:
        status = 400
    form_key = ANSWER_FORMS[type(form)]
    context = _step_context(request, deliberation, participant, **{form_key: form})
    if form.errors and STEP_FORMS.get(context["step"].kind) != form_key:
        # The member has moved on (a second tab, a double submission): say why nothing changed.
        context["notice"] = " ".join(str(e) for errors in form.errors.values() for e in errors)
    return render(request, STEP_TEMPLATE, context, status=status)


@require_POST
def position(request: HttpRequest, public_id, round_id: int, index: int) -> HttpResponse:
    return _answer(
        request,
        public_id,
        load=lambda participant: access.get_member_round(participant, round_id),
        make_form=lambda participant, round_: PositionForm(request.POST),
        submit=lambda participant, round_, form: position_rating_submit(
            participant=participant,
            round_=round_,
            index=index,
            agreement=form.cleaned_data["agreement"],
        ),
    )


@require_POST
def rank(request: HttpRequest, public_id, iteration_id: int) -> HttpResponse:
    return _answer(
        request,
        public_id,
        load=lambda participant: access.get_member_iteration(participant, iteration_id),
        make_form=lambda participant, iteration: RankingForm(
            request.POST, statements=statements_for(participant, iteration)
        ),
        submit=lambda participant, iteration, form: ranking_submit(
            participant=participant, iteration=iteration, places=form.places()
        ),
    )


@require_POST
def final_ranking(request: HttpRequest, public_id, round_id: int) -> HttpResponse:
    return _answer(
        request,
        public_id,
        load=lambda participant: access.get_member_round(participant, round_id),
        make_form=lambda participant, round_: RankingForm(
            request.POST, statements=round_winners(participant, round_)
        ),
        submit=lambda participant, round_, form: final_ranking_submit(
            participant=participant, round_=round_, places=form.places()
        ),
    )


@require_POST
def survey(request: HttpRequest, public_id, round_id: int) -> HttpResponse:
    return _answer(
        request,
        public_id,
        load=lambda participant: access.get_member_round(participant, round_id),
        make_form=lambda participant, round_: SurveyForm(
            request.POST, items=round_.group.deliberation.survey_items
        ),
        submit=lambda participant, round_, form: survey_submit(
            participant=participant, round_=round_, answers=form.answers()
        ),
    )


@require_GET
def complete(request: HttpRequest, public_id) -> HttpResponse:
    """The way back to the panel, with the completion code. Only a member whose every required
    step is saved (or who was released from the pool) is sent on; anyone else, whatever URL they
    typed, is taken to the step they are on."""
    deliberation = access.get_open_deliberation(public_id)
    participant = access.require_session_participant(request, deliberation)
    completion = panels.completion_for(participant)
    if completion is None or not completion.url:
        return redirect("deliberation:step", public_id=public_id)
    if completion.post_fields:
        return render(
            request,
            "deliberation/participant/submit.html",
            {"deliberation": deliberation, "completion": completion},
        )
    return redirect(completion.url)
