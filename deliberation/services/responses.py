"""What a member answers besides opinions, critiques and ratings: position ratings, rankings of
the statements shown, the final preference ranking between a round's winners, the end-of-round
survey, and the moment a member has finished everything and counts as completed.

Every answer is stored once. Sending the same answer again (a double click, a second tab) returns
what is stored; sending a different one is refused with 409, never silently overwritten.
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from deliberation.errors import DomainError, WrongPhase
from deliberation.models import (
    TEXT_MAX,
    Iteration,
    Participant,
    PositionRating,
    Ranking,
    Round,
    SurveyResponse,
)
from deliberation.selectors.participant import (
    position_statement,
    round_winners,
    statements_for,
)
from deliberation.services.inputs import already_sent, grouped, member_check
from deliberation.services.once import create_once
from deliberation.services.ratings import likert_value
from deliberation.services.rounds import iteration_finish_if_rated, participant_complete_if_done
from deliberation.services.versions import member_views_changed


def position_rating_submit(
    *, participant: Participant, round_: Round, index: int, agreement
) -> PositionRating:
    """Agreement with the round's position statement: index 0 before the round, 1 after it."""
    agreement = likert_value(agreement, what="agreement")
    if index not in (0, 1):
        raise DomainError(
            gettext("A position is rated before (0) or after (1) a round."), code="index"
        )

    def check() -> None:
        member_check(participant, round_.group_id)
        if not position_statement(round_):
            raise WrongPhase(
                gettext("This question has no position statement to rate."), code="wrong_phase"
            )
        if index == 0:
            opinion_iteration = round_.iterations.filter(index=0).first()
            if opinion_iteration is None or opinion_iteration.state != Iteration.State.COLLECTING:
                raise WrongPhase(
                    gettext("The round has moved on past this question."), code="wrong_phase"
                )
        elif round_.status != Round.Status.DONE:
            raise WrongPhase(
                gettext("This question is asked at the end of the round."), code="wrong_phase"
            )

    rating, created = create_once(
        PositionRating,
        key={"participant": participant, "round": round_, "index": index},
        values=lambda: {"agreement": agreement},
        same=lambda existing: existing.agreement == agreement,
        refusal=lambda: already_sent("position rating"),
        check=check,
    )
    if created:
        member_views_changed(participant_ids=[participant.pk])  # only their own next step
        participant_complete_if_done(participant=participant)
    return rating


def _ranks(places: dict, statement_ids: list[int]) -> list[int]:
    """Places (1 = best, ties allowed) for exactly the given statements -> dense 0-based ranks in
    the order of `statement_ids`."""
    if not isinstance(places, dict):
        raise DomainError(
            gettext("A ranking gives a place to every statement."), code="ranking_invalid"
        )
    keys = {str(k) for k in places}
    wanted = {str(s) for s in statement_ids}
    if keys != wanted:
        raise DomainError(
            gettext("Please give a place to every statement shown, and only to those."),
            code="ranking_incomplete",
        )
    count = len(statement_ids)
    values = []
    for statement_id in statement_ids:
        value = places.get(statement_id, places.get(str(statement_id)))
        if value is None or (isinstance(value, str) and not value.strip()):
            # An unchosen place is not a ranking: nothing is stored that the member did not give.
            raise DomainError(
                gettext("Nothing was saved: please choose a place for every statement."),
                code="ranking_incomplete",
            )
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= count:
            raise DomainError(
                gettext("Each place must be a whole number from 1 to %(count)s.")
                % {"count": count},
                code="ranking_invalid",
            )
        values.append(value)
    dense = {v: i for i, v in enumerate(sorted(set(values)))}
    return [dense[v] for v in values]


def _ranking_store(
    *,
    participant: Participant,
    round_: Round,
    iteration: Iteration | None,
    kind: str,
    statement_ids: list[int],
    places: dict,
    check_phase,
    what: str,
) -> tuple[Ranking, bool]:
    """Store a ranking once: (ranking, created). The same ranking again returns the stored one;
    a different one is refused. `check_phase` raises when the ranking is not asked now."""
    ranks = _ranks(places, statement_ids)

    def check() -> None:
        member_check(participant, round_.group_id)
        check_phase()
        if len(statement_ids) < 2:
            raise WrongPhase(
                gettext("There is only one statement; there is nothing to rank."), code="no_rank"
            )

    return create_once(
        Ranking,
        key={"participant": participant, "round": round_, "iteration": iteration, "kind": kind},
        values=lambda: {"statement_ids": statement_ids, "numerical_ranks": ranks},
        same=lambda existing: (
            existing.statement_ids == statement_ids and existing.numerical_ranks == ranks
        ),
        refusal=lambda: already_sent(what),
        check=check,
    )


def ranking_submit(*, participant: Participant, iteration: Iteration, places: dict) -> Ranking:
    """A member's ranking of the statements shown to them in an iteration.

    `places` maps statement id to place (1 = best; equal places are ties, as in [T24]'s data).
    Stored in the order the member saw the statements, with 0-based numerical ranks.
    """

    def check_phase():
        if iteration.state != Iteration.State.RATING:
            raise WrongPhase(
                gettext("Ranking has closed for these statements."), code="wrong_phase"
            )

    ranking, created = _ranking_store(
        participant=participant,
        round_=iteration.round,
        iteration=iteration,
        kind=Ranking.Kind.STATEMENTS,
        statement_ids=[s.pk for s in statements_for(participant, iteration)],
        places=places,
        check_phase=check_phase,
        what="ranking",
    )
    if created:
        member_views_changed(group_ids=[participant.group_id])  # the group's count of who is done
        iteration_finish_if_rated(iteration=iteration)
    return ranking


def final_ranking_submit(*, participant: Participant, round_: Round, places: dict) -> Ranking:
    """The member's preference between the round's winners (one per iteration), after the round."""

    def check_phase():
        if round_.status != Round.Status.DONE:
            raise WrongPhase(
                gettext("This question is asked at the end of the round."), code="wrong_phase"
            )

    ranking, created = _ranking_store(
        participant=participant,
        round_=round_,
        iteration=None,
        kind=Ranking.Kind.FINAL,
        statement_ids=[s.pk for s in round_winners(participant, round_)],
        places=places,
        check_phase=check_phase,
        what="final ranking",
    )
    if created:
        member_views_changed(participant_ids=[participant.pk])
        participant_complete_if_done(participant=participant)
    return ranking


def _survey_answer(item: dict, value):
    question, code = item["text"], f"survey_{item['key']}"
    blank = value is None or (isinstance(value, str) and not value.strip())
    if blank:
        if item.get("required"):
            raise DomainError(
                gettext('Please answer "%(question)s".') % {"question": question}, code=code
            )
        return ""
    if item["kind"] == "likert":
        return likert_value(value, what=code, question=question)
    if not isinstance(value, str):
        raise DomainError(
            gettext('The answer to "%(question)s" must be text.') % {"question": question},
            code=code,
        )
    value = value.replace("\r\n", "\n").strip()
    if len(value) > TEXT_MAX or "\x00" in value:
        raise DomainError(
            gettext('Please keep the answer to "%(question)s" to %(limit)s characters.')
            % {"question": question, "limit": grouped(TEXT_MAX)},
            code=code,
        )
    return value


def survey_submit(*, participant: Participant, round_: Round, answers: dict) -> int:
    """The end-of-round survey, all items at once; an optional item left blank is stored as "".

    Returns the number of items stored (0 when the same answers were already stored).
    """
    items = list(round_.group.deliberation.survey_items or [])
    if not isinstance(answers, dict):
        raise DomainError("The survey answers must be a mapping of item to answer.", code="survey")
    unknown = set(map(str, answers)) - {item["key"] for item in items}
    if unknown:
        raise DomainError(
            f"Unknown survey item(s): {', '.join(sorted(unknown))}.", code="survey_unknown"
        )
    cleaned = {item["key"]: _survey_answer(item, answers.get(item["key"])) for item in items}
    stored = dict(
        SurveyResponse.objects.filter(participant=participant, round=round_).values_list(
            "item", "value"
        )
    )
    if stored:
        if stored == cleaned:
            return 0
        raise already_sent("survey")
    member_check(participant, round_.group_id)
    if round_.status != Round.Status.DONE:
        raise WrongPhase(
            gettext("The survey is asked at the end of the round."), code="wrong_phase"
        )
    if not items:
        raise WrongPhase(gettext("This study has no survey."), code="wrong_phase")
    try:
        with transaction.atomic():
            SurveyResponse.objects.bulk_create(
                SurveyResponse(participant=participant, round=round_, item=key, value=value)
                for key, value in cleaned.items()
            )
    except IntegrityError:
        raise already_sent("survey") from None
    member_views_changed(participant_ids=[participant.pk])
    participant_complete_if_done(participant=participant)
    return len(cleaned)
