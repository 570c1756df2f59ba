"""Experimental conditions: which condition a new group gets, and who a round leaves out.

A deliberation lists its conditions (`Condition` rows). Each new group is assigned one,
randomised and balanced; a condition can override the mediation config, name comparison
statements shown beside the winner (`COMPARISONS`, stored by `services.mediation`), and be an
**exclusion** condition, where every round silently leaves some members out of the mediation.
"""

from __future__ import annotations

import random

from django.db import transaction
from django.db.models import Count

from deliberation.models import Condition, Deliberation, Group, Round
from deliberation.selectors.iterations import present_members
from deliberation.services.study_settings import COMPARISONS

# The names a condition's `comparisons` may hold (checked by `deliberation_create`).
BEST_OPINION, BASELINE = COMPARISONS

_system_random = random.SystemRandom()


def condition_for_new_group(
    *, deliberation: Deliberation, rng: random.Random | None = None
) -> Condition | None:
    """The condition for the deliberation's next group: one of those with the fewest groups so
    far, chosen at random among them. Any k groups over c conditions are therefore as balanced as
    they can be (the counts differ by at most one), and the order is random. `None` when the
    deliberation has no conditions.

    Groups ended by a moderator still count: the assignment is balanced over groups formed,
    which is what randomisation promises (a group's fate after assignment must not steer the
    next assignment). The caller holds the deliberation's row lock, which `participant_assign_group`
    takes to open a group, so concurrent joins cannot both see the same counts. `rng` is for tests; the default draws
    from the operating system.
    """
    conditions = list(
        Condition.objects.filter(deliberation=deliberation).annotate(n_groups=Count("groups"))
    )
    if not conditions:
        return None
    fewest = min(c.n_groups for c in conditions)
    candidates = sorted((c for c in conditions if c.n_groups == fewest), key=lambda c: c.pk)
    return (rng or _system_random).choice(candidates)


@transaction.atomic
def round_exclusion_choose(*, round_: Round, rng: random.Random | None = None) -> list[int]:
    """In an exclusion-condition group, choose who this round leaves out of the mediation.

    Draws `deliberation.exclusion_count` of the group's active members uniformly at random and
    stores them in `Round.excluded`; returns their ids (sorted). The mediation then writes its
    statements from the others only, while the reward model still predicts for everyone and
    everyone rates. The excluded members are not told.

    The count is clipped so that at least one active member stays included: with 3 members and
    `exclusion_count = 5`, 2 are left out; with 1 member, none. A group not in an exclusion
    condition gets nobody excluded. Idempotent: a round that already has its excluded members
    keeps them. `rng` is for tests; the default draws from the operating system.
    """
    if not Condition.objects.filter(groups__rounds=round_, exclusion=True).exists():
        return []
    round_ = (
        Round.objects.select_for_update(of=("self",))
        .select_related("group__deliberation")
        .get(pk=round_.pk)
    )
    existing = sorted(round_.excluded.values_list("pk", flat=True))
    if existing:
        return existing
    group: Group = round_.group
    members = sorted(present_members(group).values_list("pk", flat=True))
    count = min(group.deliberation.exclusion_count, max(len(members) - 1, 0))
    chosen = sorted((rng or _system_random).sample(members, count))
    round_.excluded.add(*chosen)
    return chosen
