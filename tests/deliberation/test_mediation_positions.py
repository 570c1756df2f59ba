"""The mediator is handed what the platform knows about each member's side: the question's
position statements and the position ratings members gave before the round."""

import pytest

from deliberation.models import Iteration
from deliberation.services.deliberations import question_create
from deliberation.services.mediation import mediation_inputs
from deliberation.services.responses import position_rating_submit
from deliberation.services.texts import opinion_submit
from tests.commits import committed

pytestmark = pytest.mark.django_db

AFFIRMING = "Towns should close their centres to private cars on Saturdays."
NEGATING = "Towns should NOT close their centres to private cars on Saturdays."
OPINIONS = [
    "Close them. The air in the centre is awful on Saturdays.",
    "Shops need customers who drive in from the villages.",
    "I'm not sure; a trial for one summer would tell us.",
]


def test_position_statements_and_ratings_before_the_round_reach_the_mediator(make_group):
    question = question_create(
        text="Should towns close their centres to private cars on Saturdays?",
        affirming_statement=AFFIRMING,
        negating_statement=NEGATING,
    )
    deliberation, members = make_group(3, questions=[question])
    iteration = Iteration.objects.filter(round__group=members[0].group).get()
    # Member 2 skips the rating: the mediator gets None for them, not a made-up value.
    for member, agreement in zip(members[:2], (7, 2), strict=True):
        with committed():
            position_rating_submit(
                participant=member, round_=iteration.round, index=0, agreement=agreement
            )
    for member, text in zip(members, OPINIONS, strict=True):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)

    inputs = mediation_inputs(iteration)

    assert inputs.affirming_statement == AFFIRMING
    assert inputs.negating_statement == NEGATING
    assert inputs.opinions == OPINIONS
    assert inputs.position_ratings == [7, 2, None]


def test_without_ratings_the_mediator_gets_none(make_group):
    deliberation, members = make_group(3)
    iteration = Iteration.objects.filter(round__group=members[0].group).get()
    for member, text in zip(members, OPINIONS, strict=True):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    inputs = mediation_inputs(iteration)
    assert inputs.position_ratings is None
    assert inputs.affirming_statement == ""
