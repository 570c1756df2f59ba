"""The researcher's pages: the deliberations they may read, each one's Data page (start an
export, watch it, download it), and their API tokens."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliberation.access import (
    export_identifiers_allowed,
    get_export_job,
    get_research_deliberation,
    is_moderator,
    research_deliberations,
    research_required,
)
from deliberation.errors import DomainError
from deliberation.forms_research import ExportForm, TokenForm
from deliberation.models import ApiToken
from deliberation.selectors.moderator import deliberation_list
from deliberation.selectors.research import export_jobs_started_by
from deliberation.services.api_tokens import api_token_create, api_token_revoke
from deliberation.services.export_jobs import export_job_create, export_job_open

POLL_SECONDS = 1


@require_GET
@research_required
def landing(request: HttpRequest) -> HttpResponse:
    """Where signing in leads: moderators to their deliberations, everyone else to Data."""
    return redirect("moderator:home" if is_moderator(request.user) else "research:home")


@require_GET
@research_required
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "deliberation/research/home.html",
        {"deliberations": deliberation_list(research_deliberations(request.user))},
    )


@require_http_methods(["GET", "POST"])
@research_required
def data(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """GET: the export form and your exports of this deliberation. POST: start an export (then
    back here, where it shows its progress live)."""
    deliberation = get_research_deliberation(request.user, public_id)
    allowed = export_identifiers_allowed(request.user)
    form = ExportForm(request.POST or None, identifiers_allowed=allowed)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            export_job_create(
                deliberation=deliberation,
                actor=request.user,
                schema=form.cleaned_data["schema"],
                fmt=form.cleaned_data["fmt"],
                include_bots=form.cleaned_data["include_bots"],
                include_identifiers=form.cleaned_data.get("include_identifiers", False),
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            messages.success(request, "The export has started; it appears below.")
            return redirect("research:data", public_id=public_id)
    elif request.method == "POST":
        status = 400
    jobs = export_jobs_started_by(request.user, [deliberation])[:20]
    return render(
        request,
        "deliberation/research/data.html",
        {
            "deliberation": deliberation,
            "form": form,
            "jobs": jobs,
            "identifiers_allowed": allowed,
            "poll_seconds": POLL_SECONDS,
            "ttl_hours": f"{settings.EXPORT_DOWNLOAD_TTL_HOURS} hours",
        },
        status=status,
    )


@require_GET
@research_required
def export_status(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """One export's row for htmx polling; anyone else goes to the Data page."""
    job = get_export_job(request.user, job_id)
    if not request.htmx:
        return redirect("research:data", public_id=job.deliberation.public_id)
    return render(
        request,
        "deliberation/research/_export_row.html",
        {"job": job, "poll_seconds": POLL_SECONDS},
    )


@require_GET
@research_required
def export_download(request: HttpRequest, job_id: UUID) -> FileResponse:
    job = get_export_job(request.user, job_id)
    handle = export_job_open(job=job, actor=request.user)
    return FileResponse(handle, as_attachment=True, filename=job.file_name.rsplit("/", 1)[-1])


@never_cache
@require_http_methods(["GET", "POST"])
@research_required
def tokens(request: HttpRequest) -> HttpResponse:
    """Your API tokens. POST makes one and shows its secret on this answer only (not cached)."""
    form = TokenForm(request.POST or None)
    secret, status = "", 200
    if request.method == "POST":
        if form.is_valid():
            try:
                secret = api_token_create(user=request.user, name=form.cleaned_data["name"]).secret
            except DomainError as exc:
                form.add_error("name", exc.message)
                status = exc.status
            else:
                form = TokenForm()
        else:
            status = 400
    return render(
        request,
        "deliberation/research/tokens.html",
        {
            "form": form,
            "secret": secret,
            "tokens": ApiToken.objects.filter(user=request.user),
            "api_base": request.build_absolute_uri("/api/v1/"),
        },
        status=status,
    )


@require_POST
@research_required
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    try:
        token = api_token_revoke(user=request.user, token_id=token_id)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked {token.name}; scripts using it are refused now.")
    return redirect("research:tokens")
