"""Nothing is recorded that a member did not give: every answer form starts empty (no ranking in
display order, no radio ticked), and a form sent untouched is refused with a message and stores
nothing, through the service and through the page (Django's test client, real PostgreSQL)."""

import re

import pytest

from deliberation.errors import DomainError
from deliberation.models import PositionRating, Ranking, Rating, SurveyResponse
from deliberation.selectors.participant import participant_step
from deliberation.services.responses import final_ranking_submit, ranking_submit
from tests.commits import CommittingClient, committed
from tests.deliberation.test_protocol_pages import answer_step, join, post, study  # noqa: F401

pytestmark = pytest.mark.django_db

ASKED = {"position_before", "rate", "rank", "final_ranking", "survey"}
UNTOUCHED = "Nothing was saved: you have not ranked the statements yet."


def _selects(html: str) -> list[str]:
    return re.findall(r"<select[^>]*name=\"place_\d+\"[^>]*>.*?</select>", html, flags=re.S)


def _check_starts_unranked(html: str, count: int) -> None:
    selects = _selects(html)
    assert len(selects) == count
    for select in selects:
        assert "required" in select
        # The blank choice comes first and is the one selected; no place is chosen.
        options = re.findall(r"<option[^>]*>[^<]*</option>", select)
        assert options[0] == '<option value="" selected>Choose a place</option>'
        assert not any("selected" in option for option in options[1:])


def _check_no_radio_ticked(html: str) -> None:
    assert 'type="radio"' in html
    assert " checked" not in html


def test_untouched_answer_forms_are_refused_and_store_nothing(study):  # noqa: F811
    deliberation = study()
    clients = [CommittingClient() for _ in range(3)]
    members = [join(c, deliberation) for c in clients]
    member, client = members[0], clients[0]
    checked = set()
    for _ in range(40):
        step = participant_step(member)
        kind = step.kind
        page = client.get(f"/j/{deliberation.public_id}/go/").content.decode()
        if kind in ("rank", "final_ranking") and kind not in checked:
            checked.add(kind)
            shown = step.statements
            _check_starts_unranked(page, len(shown))
            url = f"rank/{step.iteration.pk}/" if kind == "rank" else f"final/{step.round.pk}/"
            # What a browser sends for the untouched form: every place blank.
            response = post(
                client, deliberation, url, {f"place_{s.pk}": "" for s in shown}, status=400
            )
            html = response.content.decode()
            assert UNTOUCHED in html
            _check_starts_unranked(html, len(shown))  # redrawn with nothing chosen for them
            # One place chosen, the other left: refused, naming the statement left out.
            response = post(
                client,
                deliberation,
                url,
                {f"place_{shown[0].pk}": "1", f"place_{shown[1].pk}": ""},
                status=400,
            )
            assert "please choose a place for statement B as well" in response.content.decode()
            assert "Please choose a place for statement B." in response.content.decode()
            # The service refuses unchosen places too, whoever calls it.
            with pytest.raises(DomainError) as refused:
                if kind == "rank":
                    with committed():
                        ranking_submit(
                            participant=member,
                            iteration=step.iteration,
                            places={s.pk: None for s in shown},
                        )
                else:
                    with committed():
                        final_ranking_submit(
                            participant=member, round_=step.round, places={s.pk: "" for s in shown}
                        )
            assert refused.value.code == "ranking_incomplete"
            assert not Ranking.objects.filter(participant=member, kind=step_kind(kind)).exists()
        elif kind == "rate" and kind not in checked:
            checked.add(kind)
            _check_no_radio_ticked(page)
            post(client, deliberation, f"rate/{step.statement.pk}/", {}, status=400)
            assert not Rating.objects.filter(participant=member).exists()
        elif kind in ("position_before", "survey") and kind not in checked:
            checked.add(kind)
            _check_no_radio_ticked(page)
            url = (
                f"position/{step.round.pk}/0/"
                if kind == "position_before"
                else f"survey/{step.round.pk}/"
            )
            post(client, deliberation, url, {}, status=400)
            assert not PositionRating.objects.filter(participant=member).exists() or (
                kind == "survey"
            )
            assert not SurveyResponse.objects.filter(participant=member).exists()
        for seat, (other_client, other) in enumerate(zip(clients, members, strict=True)):
            answer_step(other_client, deliberation, other, seat)
        if checked == ASKED or participant_step(member).kind == "done":
            break  # every kind of answer form has been tried (all are asked in the first round)
    assert checked == ASKED


def step_kind(kind: str) -> str:
    return Ranking.Kind.STATEMENTS if kind == "rank" else Ranking.Kind.FINAL
