"""The one place that decides who may see what.

Views fetch objects only through these helpers; they raise Http404 (the object is not yours to
know about) or PermissionDenied (you are known but not allowed). A participant is identified by
the session of the browser that joined; they see only their own group's content.
"""

from functools import wraps
from typing import NamedTuple
from uuid import UUID

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import translation

from deliberation.models import (
    Critique,
    Deliberation,
    DeliberationShare,
    ExportJob,
    Group,
    Iteration,
    Opinion,
    Participant,
    Round,
    Statement,
)
from deliberation.selectors.consent import with_current_consent

MODERATE_PERMISSION = "deliberation.moderate"
RESEARCH_PERMISSION = "deliberation.research"
VIEW_ALL_PERMISSION = "deliberation.view_all"
EXPORT_IDENTIFIERS_PERMISSION = "deliberation.export_identifiers"


def session_key(deliberation: Deliberation) -> str:
    return f"cg-participant-{deliberation.public_id}"


def remember_participant(request: HttpRequest, participant: Participant) -> None:
    request.session[session_key(participant.deliberation)] = str(participant.public_id)


def get_open_deliberation(public_id: UUID, *, light: bool = False) -> Deliberation:
    """The deliberation behind a join link; `light` skips the long texts (for status polls).

    Participant pages speak their deliberation's language, not the browser's: from here on the
    request is in `deliberation.language` (until it ends: `middleware.LanguageMiddleware`)."""
    queryset = Deliberation.objects.filter(public_id=public_id)
    if light:
        queryset = queryset.defer("consent_text", "description", "mediation_config")
    deliberation = queryset.first()
    if deliberation is None or deliberation.status == Deliberation.Status.DRAFT:
        raise Http404("No such deliberation")
    translation.activate(deliberation.language)
    return deliberation


def get_session_participant(request: HttpRequest, deliberation: Deliberation) -> Participant | None:
    """The participant this browser joined `deliberation` as, or None; with their group and
    whether they agreed to the current consent text, in one query."""
    raw = request.session.get(session_key(deliberation))
    if not raw:
        return None
    participant = (
        with_current_consent(Participant.objects.select_related("group"))
        .filter(public_id=raw, deliberation=deliberation)
        .first()
    )
    if participant is not None:
        participant.deliberation = deliberation
        if participant.group is not None:
            participant.group.deliberation = deliberation
    return participant


def require_session_participant(request: HttpRequest, deliberation: Deliberation) -> Participant:
    participant = get_session_participant(request, deliberation)
    if participant is None:
        raise PermissionDenied("Open the invitation link to join this deliberation first.")
    return participant


class PollMember(NamedTuple):
    """Who a poll token was given to (`poll_member`)."""

    participant_id: int
    group_id: int | None
    deliberation_id: int


def _poll_signer(public_id, session_cookie: str) -> signing.Signer:
    return signing.Signer(salt=f"cg.poll:{public_id}:{session_cookie}")


def poll_token(request: HttpRequest, participant: Participant) -> str:
    """The token the waiting page's poll carries (`?t=`), so that the status endpoint can say
    "nothing changed" without reading the session from the database (`poll_member`).

    It names the participant, their group and deliberation, signed with the SECRET_KEY (HMAC,
    `django.core.signing`) under a salt made of the deliberation's public id and this browser's
    session key. So a token cannot be forged or altered (a changed id breaks the signature), it
    is good for this deliberation only, and only beside the session cookie it was made for (an
    HttpOnly cookie the page's scripts cannot read): a token copied out of a URL or a log is
    useless in another browser. "" when the cheap poll is off or the session has no key yet."""
    cookie = request.session.session_key
    if not settings.CHEAP_POLL or not cookie:
        return ""
    value = f"{participant.pk}.{participant.group_id or 0}.{participant.deliberation_id}"
    return _poll_signer(participant.deliberation.public_id, cookie).sign(value)


def poll_member(request: HttpRequest, public_id: UUID) -> PollMember | None:
    """Who the request's poll token (`poll_token`) was given to, when it is genuine, for this
    deliberation and beside the session cookie it was made for; None otherwise (the caller then
    asks the session, as every other page does). No query: the session is not loaded.

    What a genuine token grants is narrow: the answer "nothing changed" (204, no content) about
    the participant it names, and noting that they are still here. Anything with content is
    decided from the session."""
    token = request.GET.get("t")
    cookie = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not settings.CHEAP_POLL or not token or not cookie:
        return None
    try:
        value = _poll_signer(public_id, cookie).unsign(token)
        participant_id, group_id, deliberation_id = (int(part) for part in value.split("."))
    except (signing.BadSignature, ValueError):
        return None
    return PollMember(participant_id, group_id or None, deliberation_id)


def _of_own_group(participant: Participant, found, what: str):
    """`found`, read with the participant's group as a filter, or a 404 when it is missing or
    the participant has no group."""
    if found is None or participant.group_id is None:
        raise Http404(f"No such {what} in your group")
    return found


def get_member_round(participant: Participant, round_id: int) -> Round:
    """A round of the participant's own group; anything else is a 404."""
    round_ = (
        Round.objects.select_related("group__deliberation", "question")
        .filter(pk=round_id, group_id=participant.group_id)
        .first()
    )
    return _of_own_group(participant, round_, "round")


def get_member_iteration(participant: Participant, iteration_id: int) -> Iteration:
    """An iteration of the participant's own group; anything else is a 404."""
    iteration = (
        Iteration.objects.select_related("round__group", "round__question")
        .filter(pk=iteration_id, round__group_id=participant.group_id)
        .first()
    )
    return _of_own_group(participant, iteration, "iteration")


def is_moderator(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or user.has_perm(MODERATE_PERMISSION)))


def _require_moderator(user) -> None:
    if not is_moderator(user):
        raise PermissionDenied("You need the moderator permission.")


def moderator_required(view):
    """Log in first (redirect), then hold the moderate permission (403)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        _require_moderator(request.user)
        return view(request, *args, **kwargs)

    return wrapped


def _shared_with(user, role: str) -> QuerySet:
    return DeliberationShare.objects.filter(user=user, role=role).values("deliberation")


def moderated_deliberations(user) -> QuerySet[Deliberation]:
    """The deliberations `user` may run: those they created or that were shared with them as
    a moderator (every one for a superuser); none without the moderator permission."""
    if not is_moderator(user):
        return Deliberation.objects.none()
    if user.is_superuser:
        return Deliberation.objects.all()
    return Deliberation.objects.filter(
        Q(created_by=user) | Q(pk__in=_shared_with(user, DeliberationShare.Role.MODERATOR))
    )


def get_moderated_deliberation(user, public_id: UUID) -> Deliberation:
    """A deliberation `user` may run; 403 without the moderator permission, 404 when it is
    missing or not theirs (one answer for both, so ids cannot be probed)."""
    _require_moderator(user)
    deliberation = moderated_deliberations(user).filter(public_id=public_id).first()
    if deliberation is None:
        raise Http404("No such deliberation")
    return deliberation


def is_owner(user, deliberation: Deliberation) -> bool:
    """Whether `user` may share `deliberation`: its creator (still a moderator), or a superuser."""
    if not is_moderator(user):
        return False
    return bool(user.is_superuser or deliberation.created_by_id == user.pk)


def get_owned_deliberation(user, public_id: UUID) -> Deliberation:
    """A deliberation whose sharing `user` manages: 403 for another moderator who runs it,
    404 for anyone who does not."""
    deliberation = get_moderated_deliberation(user, public_id)
    if not is_owner(user, deliberation):
        raise PermissionDenied("Only the moderator who created this deliberation can share it.")
    return deliberation


def get_moderated_group(user, deliberation: Deliberation, number: int) -> Group:
    _require_moderator(user)
    group = Group.objects.filter(deliberation=deliberation, number=number).first()
    if group is None:
        raise Http404("No such group")
    return group


def get_member_statement(participant: Participant, statement_id: int) -> Statement:
    """A statement of the participant's own group; anything else is a 404."""
    statement = (
        Statement.objects.select_related("iteration__round")
        .filter(pk=statement_id, iteration__round__group_id=participant.group_id)
        .first()
    )
    return _of_own_group(participant, statement, "statement")


def get_moderated_iteration(group: Group, iteration_id: int) -> Iteration:
    """An iteration of the moderated `group`; one of another group is a 404."""
    iteration = (
        Iteration.objects.select_related("round__group")
        .filter(pk=iteration_id, round__group=group)
        .first()
    )
    if iteration is None:
        raise Http404("No such iteration in this group")
    return iteration


def get_moderated_text(group: Group, kind: str, text_id: int) -> Opinion | Critique:
    """An opinion or critique (`kind`) written in the moderated `group`; anything else is a 404."""
    model = {"opinion": Opinion, "critique": Critique}.get(kind)
    text = (
        model.objects.filter(pk=text_id, iteration__round__group=group).first() if model else None
    )
    if text is None:
        raise Http404("No such text in this group")
    return text


def research_deliberations(user) -> QuerySet[Deliberation]:
    """The deliberations whose results and data `user` may read: every one with `view_all` (or
    as a superuser); else those they run (owner, or shared as moderator, while a moderator) and
    those shared with them as a researcher (while they hold the `research` permission)."""
    if not user.is_authenticated or not user.is_active:
        return Deliberation.objects.none()
    if user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION):
        return Deliberation.objects.all()
    allowed = Q(pk__in=[])
    if is_moderator(user):
        allowed |= Q(created_by=user) | Q(
            pk__in=_shared_with(user, DeliberationShare.Role.MODERATOR)
        )
    if user.has_perm(RESEARCH_PERMISSION):
        allowed |= Q(pk__in=_shared_with(user, DeliberationShare.Role.RESEARCHER))
    return Deliberation.objects.filter(allowed)


def can_read_research_data(user, deliberation: Deliberation) -> bool:
    """Whether `user` may read results and export the data of `deliberation`."""
    return research_deliberations(user).filter(pk=deliberation.pk).exists()


def get_research_deliberation(user, public_id: UUID) -> Deliberation:
    """The deliberation whose results and data `user` may read; 404 when it is missing or not
    theirs to know about."""
    deliberation = research_deliberations(user).filter(public_id=public_id).first()
    if deliberation is None:
        raise Http404("No such deliberation")
    return deliberation


def research_required(view):
    """Log in first (redirect); the object helpers then decide (404 when not allowed)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapped


def export_identifiers_allowed(user) -> bool:
    """Panel identifiers leave the database only for holders of this explicit permission."""
    return bool(
        user.is_authenticated and user.is_active and user.has_perm(EXPORT_IDENTIFIERS_PERMISSION)
    )


def get_export_job(user, public_id: UUID) -> ExportJob:
    """An export job `user` started, of a deliberation they may still read (and, for one with
    identifiers, while they may still export them); 404 otherwise."""
    job = (
        ExportJob.objects.select_related("deliberation")
        .filter(public_id=public_id, created_by_id=user.pk if user.is_authenticated else None)
        .first()
    )
    if (
        job is None
        or not can_read_research_data(user, job.deliberation)
        or (job.include_identifiers and not export_identifiers_allowed(user))
    ):
        raise Http404("No such export")
    return job


def require_question_reader(user) -> None:
    """The question bank is read by moderators and researchers (403 for anyone else)."""
    if not (
        user.is_authenticated
        and (
            is_moderator(user)
            or user.has_perm(RESEARCH_PERMISSION)
            or user.has_perm(VIEW_ALL_PERMISSION)
        )
    ):
        raise PermissionDenied("You need the moderator or researcher permission.")


def require_question_importer(user) -> None:
    """Only moderators add questions to the bank."""
    _require_moderator(user)
