"""The one place that decides who may see what.

Views fetch objects only through these helpers; they raise Http404 (the object is not yours to
know about) or PermissionDenied (you are known but not allowed). A participant is identified by
the session of the browser that joined; they see only their own group's content.
"""

from functools import wraps
from uuid import UUID

from django.contrib.auth.views import redirect_to_login
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
    """The participant this browser joined `deliberation` as, or None."""
    raw = request.session.get(session_key(deliberation))
    if not raw:
        return None
    return (
        Participant.objects.select_related("deliberation", "group")
        .filter(public_id=raw, deliberation=deliberation)
        .first()
    )


def require_session_participant(request: HttpRequest, deliberation: Deliberation) -> Participant:
    participant = get_session_participant(request, deliberation)
    if participant is None:
        raise PermissionDenied("Open the invitation link to join this deliberation first.")
    return participant


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
