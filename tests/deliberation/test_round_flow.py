"""One opinion round through the services, on the real PostgreSQL.

Bad input tried here: an empty and a whitespace-only opinion, an overlong opinion, ratings
outside 1-7 and not numbers, double submissions of opinions and ratings (same and different
content), a member of group A posting to group B, duplicate rows written straight to the
database, a mediation run twice, a model server that is down during mediation, a deadline that
passes with too few opinions.
"""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from deliberation.errors import DomainError, NotAllowed
from deliberation.models import (
    CandidateSet,
    Group,
    Iteration,
    Opinion,
    Participant,
    Prediction,
    Rating,
    Statement,
)
from deliberation.selectors.participant import participant_step
from deliberation.services.deadlines import iterations_advance_overdue
from deliberation.services.mediation import iteration_mediate
from deliberation.services.ratings import rating_submit
from deliberation.services.responses import survey_submit
from deliberation.services.texts import opinion_submit
from tests.commits import committed

pytestmark = pytest.mark.django_db

OPINIONS = [
    "Closing the centre on Saturdays would make it safer for children. Shops might even gain "
    "customers who walk. Buses must run more often though.",
    "I drive in from a village with no bus, so a closure would cut me off. Delivery vans need "
    "access too. Maybe close only a few streets.",
    "Air quality in the centre is poor and traffic is the main cause. A trial for one summer "
    "would show whether it works.",
]


def current_iteration(participant: Participant) -> Iteration:
    return Iteration.objects.filter(round__group=participant.group).order_by("-id").first()


def write_all(members, texts=OPINIONS):
    iteration = current_iteration(members[0])
    for member, text in zip(members, texts, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    iteration.refresh_from_db()
    return iteration


def test_group_starts_when_full_with_seats_and_an_open_opinion_phase(make_group):
    deliberation, members = make_group(3)
    group = Group.objects.get(deliberation=deliberation)
    assert group.status == Group.Status.ACTIVE
    assert sorted(m.seat for m in members) == [0, 1, 2]
    assert all(m.status == Participant.Status.ACTIVE for m in members)
    iteration = current_iteration(members[0])
    assert (iteration.index, iteration.state) == (0, Iteration.State.COLLECTING)
    assert iteration.deadline > timezone.now()
    assert participant_step(members[0]).kind == "write_opinion"


def test_a_whole_opinion_round_stores_candidates_predictions_winner_and_ratings(make_group):
    deliberation, members = make_group(3, n_candidates=4)
    iteration = write_all(members)

    assert iteration.state == Iteration.State.RATING
    candidate_set = CandidateSet.objects.get(iteration=iteration)
    statements = list(Statement.objects.filter(candidate_set=candidate_set).order_by("index"))
    assert len(statements) == 4
    assert all(s.provenance == "model_mediator" and s.metadata for s in statements)
    assert len(candidate_set.predictions) == 3 and all(
        len(r) == 4 for r in candidate_set.predictions
    )
    assert candidate_set.member_ids == [m.pk for m in sorted(members, key=lambda m: m.seat)]
    assert Prediction.objects.filter(statement__candidate_set=candidate_set).count() == 12
    winners = [s for s in statements if s.is_winner]
    assert len(winners) == 1 and winners[0].shown
    best = max(range(4), key=lambda c: candidate_set.scores[c])
    assert winners[0].index == best
    assert (
        candidate_set.generator.role == "generator" and candidate_set.reward_model.role == "reward"
    )
    assert {"generate_s", "predict_s"} <= set(candidate_set.timings)

    for member, (agreement, quality) in zip(members, [(6, 5), (3, 4), (7, 7)], strict=True):
        assert participant_step(member).kind == "rate"
        with committed():
            rating_submit(
                participant=member, statement=winners[0], agreement=agreement, quality=quality
            )
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.DONE
    assert Rating.objects.filter(iteration=iteration).count() == 3
    group = Group.objects.get(deliberation=deliberation)
    assert group.status == Group.Status.DONE
    # The group is done; each member is completed once the end-of-round survey is answered.
    assert set(group.members.values_list("status", flat=True)) == {"active"}
    for member in members:
        assert participant_step(member).kind == "survey"
        with committed():
            survey_submit(
                participant=member,
                round_=iteration.round,
                answers={"helpful": 5, "represented": 4, "comment": ""},
            )
    assert set(group.members.values_list("status", flat=True)) == {"completed"}
    assert participant_step(Participant.objects.get(pk=members[0].pk)).kind == "done"


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_opinion_is_refused_and_nothing_is_stored(make_group, text):
    _, members = make_group(3)
    with pytest.raises(DomainError) as error:
        opinion_submit(participant=members[0], iteration=current_iteration(members[0]), text=text)
    assert error.value.code == "opinion_empty"
    assert Opinion.objects.count() == 0


def test_overlong_opinion_is_refused_but_2000_characters_after_trimming_is_accepted(make_group):
    _, members = make_group(3)
    iteration = current_iteration(members[0])
    with pytest.raises(DomainError) as error:
        opinion_submit(participant=members[0], iteration=iteration, text="a" * 2001)
    assert error.value.code == "opinion_too_long"
    assert "2,001" in error.value.message
    assert Opinion.objects.count() == 0

    opinion = opinion_submit(
        participant=members[0], iteration=iteration, text="  " + "b" * 2000 + "\n"
    )
    assert len(opinion.text) == 2000


def test_opinion_sent_twice_is_stored_once_and_a_changed_one_is_refused(make_group):
    _, members = make_group(3)
    iteration = current_iteration(members[0])
    first = opinion_submit(participant=members[0], iteration=iteration, text=OPINIONS[0])
    again = opinion_submit(participant=members[0], iteration=iteration, text=OPINIONS[0])
    assert first.pk == again.pk
    with pytest.raises(DomainError) as error:
        opinion_submit(participant=members[0], iteration=iteration, text="Something else.")
    assert error.value.code == "already_submitted" and error.value.status == 409
    assert Opinion.objects.get().text == OPINIONS[0]


@pytest.mark.parametrize("agreement", [0, 8, -1, "abc", "3.5", 3.5, None, True, "", "7; DROP"])
def test_rating_outside_the_scale_or_not_a_number_is_refused(make_group, agreement):
    _, members = make_group(3)
    iteration = write_all(members)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    with pytest.raises(DomainError) as error:
        rating_submit(participant=members[0], statement=winner, agreement=agreement, quality=4)
    assert error.value.code.startswith("agreement")
    with pytest.raises(DomainError):
        rating_submit(participant=members[0], statement=winner, agreement=4, quality=agreement)
    assert Rating.objects.count() == 0


def test_rating_sent_twice_is_stored_once_and_a_changed_one_is_refused(make_group):
    _, members = make_group(3)
    iteration = write_all(members)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    first = rating_submit(participant=members[0], statement=winner, agreement="5", quality="6")
    again = rating_submit(participant=members[0], statement=winner, agreement=5, quality=6)
    assert first.pk == again.pk
    with pytest.raises(DomainError) as error:
        rating_submit(participant=members[0], statement=winner, agreement=2, quality=6)
    assert error.value.code == "already_rated"
    assert list(Rating.objects.values_list("agreement", "quality")) == [(5, 6)]


def test_the_database_itself_refuses_duplicate_opinions_ratings_and_candidate_sets(make_group):
    _, members = make_group(3)
    iteration = write_all(members)
    winner = Statement.objects.get(iteration=iteration, is_winner=True)
    rating_submit(participant=members[0], statement=winner, agreement=5, quality=5)

    with pytest.raises(IntegrityError), transaction.atomic():
        Opinion.objects.create(iteration=iteration, participant=members[0], text="again")
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(
            participant=members[0], statement=winner, iteration=iteration, agreement=1, quality=1
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        CandidateSet.objects.create(iteration=iteration, aggregation="welfare", seed=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(
            participant=members[1], statement=winner, iteration=iteration, agreement=9, quality=1
        )


def test_member_of_one_group_cannot_write_or_rate_in_another(make_group):
    deliberation, group_a = make_group(3)
    _, group_b = make_group(3, title="Another deliberation")
    iteration_b = current_iteration(group_b[0])
    with pytest.raises(NotAllowed):
        opinion_submit(participant=group_a[0], iteration=iteration_b, text="Not my group.")
    assert not Opinion.objects.filter(iteration=iteration_b).exists()

    write_all(group_b)
    winner_b = Statement.objects.get(iteration=iteration_b, is_winner=True)
    with pytest.raises(NotAllowed):
        rating_submit(participant=group_a[0], statement=winner_b, agreement=4, quality=4)
    assert not Rating.objects.exists()


def test_mediating_the_same_iteration_twice_stores_one_candidate_set(make_group):
    _, members = make_group(3)
    iteration = write_all(members)
    first = CandidateSet.objects.get(iteration=iteration)

    assert iteration_mediate(iteration_id=iteration.pk).pk == first.pk
    # Even pushed back into the mediating state, a repeat finds the stored set and adds nothing.
    Iteration.objects.filter(pk=iteration.pk).update(
        state=Iteration.State.MEDIATING, mediation_started_at=None
    )
    assert iteration_mediate(iteration_id=iteration.pk).pk == first.pk
    assert CandidateSet.objects.count() == 1
    assert Statement.objects.filter(iteration=iteration).count() == 4


def test_a_model_server_that_is_down_leaves_a_visible_failure_and_loses_nothing(make_group):
    deliberation, members = make_group(3)
    deliberation.mediation_config = {
        **deliberation.mediation_config,
        "generator": {
            "backend": "vllm",
            "url": "http://127.0.0.1:9/v1",
            "model": "down",
            "options": {"timeout": 0.5, "retries": 0},
        },
    }
    deliberation.save()
    iteration = write_all(members)

    assert iteration.state == Iteration.State.FAILED
    assert "BackendUnavailable" in iteration.failure_reason
    assert Opinion.objects.filter(iteration=iteration).count() == 3
    assert not CandidateSet.objects.exists()
    assert participant_step(members[0]).kind == "failed"


def test_deadline_with_enough_opinions_mediates_without_the_missing_member(make_group):
    _, members = make_group(3, min_group_size=2)
    iteration = current_iteration(members[0])
    for member, text in zip(members[:2], OPINIONS, strict=False):
        with committed():
            opinion_submit(participant=member, iteration=iteration, text=text)
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.COLLECTING

    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with committed():
        assert iterations_advance_overdue() == 1
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.RATING
    assert len(CandidateSet.objects.get(iteration=iteration).member_ids) == 2


def test_deadline_with_too_few_opinions_fails_with_the_reason(make_group):
    _, members = make_group(3, min_group_size=3)
    iteration = current_iteration(members[0])
    with committed():
        opinion_submit(participant=members[0], iteration=iteration, text=OPINIONS[0])
    Iteration.objects.filter(pk=iteration.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    with committed():
        iterations_advance_overdue()
    iteration.refresh_from_db()
    assert iteration.state == Iteration.State.FAILED
    assert "Only 1 member(s) wrote" in iteration.failure_reason
    assert Opinion.objects.count() == 1


def test_services_run_several_rounds_with_a_critique_iteration_each(
    fake_model_servers, eager_tasks
):
    """The pages for critiques come with the full protocol; the services already run it."""
    from deliberation.models import Critique, Deliberation
    from deliberation.services.deliberations import deliberation_create
    from deliberation.services.participants import participant_consent, participant_join

    deliberation = deliberation_create(
        created_by=None,
        title="Two rounds",
        questions=["Should libraries open on Sundays?", "Should buses be free?"],
        group_size=3,
        min_group_size=3,
        n_candidates=3,
        critique_iterations=1,
    )
    for _ in range(3):
        bot = participant_join(deliberation=deliberation, provenance="bot_citizen")
        with committed():
            participant_consent(participant=bot, version=deliberation.consent_version)

    group = Group.objects.get(deliberation=Deliberation.objects.get(pk=deliberation.pk))
    assert group.status == Group.Status.DONE
    iterations = list(
        Iteration.objects.filter(round__group=group).order_by("round__position", "index")
    )
    assert [(i.round.position, i.index, i.state) for i in iterations] == [
        (0, 0, "done"),
        (0, 1, "done"),
        (1, 0, "done"),
        (1, 1, "done"),
    ]
    for opinion_iteration, critique_iteration in (iterations[0:2], iterations[2:4]):
        first_winner = Statement.objects.get(iteration=opinion_iteration, is_winner=True)
        revision = Statement.objects.get(iteration=critique_iteration, is_winner=True)
        critiques = Critique.objects.filter(iteration=critique_iteration)
        assert critiques.count() == 3
        assert all(c.statement_id == first_winner.pk for c in critiques)
        assert list(revision.parents.all()) == [first_winner]
        assert Rating.objects.filter(iteration=critique_iteration).count() == 3
