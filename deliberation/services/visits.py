"""What a member's request does before anything else: they are seen, and the study catches up.

Pages, polls and answers all go through here, so that "being here" means the same everywhere,
and deadlines hold even where no beat runs (the embedded default).
"""

from deliberation.models import Participant
from deliberation.selectors.participant import Step, participant_step
from deliberation.services.deadlines import iteration_advance_if_overdue
from deliberation.services.participants import participant_touch
from deliberation.services.presence import participant_presence_check


def participant_seen(*, participant: Participant) -> None:
    """The member is here: noted (`participant_touch`); a member dropped as absent comes back,
    and a waiting pool that has waited too long forms or releases its members."""
    participant_touch(participant=participant)
    participant_presence_check(participant=participant)


def participant_visit(*, participant: Participant) -> Step:
    """A member opens their step page or polls it: `participant_seen`, then their group's phase
    is closed if its deadline has passed. Returns the member's step as it is then."""
    participant_seen(participant=participant)
    step = participant_step(participant)
    if step.iteration is not None and iteration_advance_if_overdue(iteration=step.iteration):
        step = participant_step(participant)
    return step
