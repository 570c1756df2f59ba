"""The one place that decides who may see what.

Views fetch objects only through these helpers; they raise Http404 (the object is not yours to
know about) or PermissionDenied (you are known but not allowed). A participant is identified by
the session of the browser that joined; they see only their own group's content.
"""

from functools import wraps
from uuid import UUID

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest

from deliberation.models import (
    Critique,
    Deliberation,
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
    """The deliberation behind a join link; `light` skips the long texts (for status polls)."""
    queryset = Deliberation.objects.filter(public_id=public_id)
    if light:
        queryset = queryset.defer("consent_text", "description", "mediation_config")
    deliberation = queryset.first()
    if deliberation is None or deliberation.status == Deliberation.Status.DRAFT:
        raise Http404("No such deliberation")
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


def get_moderated_deliberation(user, public_id: UUID) -> Deliberation:
    _require_moderator(user)
    deliberation = Deliberation.objects.filter(public_id=public_id).first()
    if deliberation is None:
        raise Http404("No such deliberation")
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


def can_read_research_data(user, deliberation: Deliberation) -> bool:
    """Whether `user` may read results and export the data of `deliberation`.

    (First cut: moderators and `view_all`; ownership and sharing come with the research-access
    work of issue 8.)
    """
    if not user.is_authenticated:
        return False
    return bool(user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION) or is_moderator(user))


def get_research_deliberation(user, public_id: UUID) -> Deliberation:
    """The deliberation whose results and data `user` may read; 404 when it is missing or not
    theirs to know about."""
    deliberation = Deliberation.objects.filter(public_id=public_id).first()
    if deliberation is None or not can_read_research_data(user, deliberation):
        raise Http404("No such deliberation")
    return deliberation


def export_identifiers_allowed(user) -> bool:
    """Panel identifiers leave the database only for holders of this explicit permission."""
    return bool(user.is_authenticated and user.has_perm(EXPORT_IDENTIFIERS_PERMISSION))
