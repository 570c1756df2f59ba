"""The whole protocol through the participant pages (Django's test client, real PostgreSQL):
two questions, an opinion and a critique iteration each, a comparison statement so that members
rank, position ratings before and after, the final ranking and the survey; and panels.

Bad input tried here: a ranking that leaves a statement out, gives a place out of range or one
that is not a number, names another group's statement (beside its own, through the service; in
place of one of its own, through the page); a double submission of a ranking, a position rating
and a survey (same answer: stored once; different: 409); a required survey item left out and
sent blank; a position rating for another group's round; a Prolific link without or with a
malformed PROLIFIC_PID; typing the completion URL before every step is saved.
"""

import re

import pytest
from django.test import Client

from deliberation.models import (
    Condition,
    Critique,
    Group,
    PanelIdentity,
    Participant,
    PositionRating,
    Ranking,
    Rating,
    Round,
    Statement,
    SurveyResponse,
)
from deliberation.selectors.participant import participant_step, statements_for
from tests.commits import CommittingClient, committed

pytestmark = pytest.mark.django_db

QUESTIONS = [
    {
        "text": "Should the town centre be closed to cars on Saturdays?",
        "affirming_statement": "The town centre should be closed to cars on Saturdays.",
        "negating_statement": "The town centre should NOT be closed to cars on Saturdays.",
    },
    {
        "text": "Should public libraries open on Sundays?",
        "affirming_statement": "Public libraries should open on Sundays.",
        "negating_statement": "Public libraries should NOT open on Sundays.",
    },
]
OPINIONS = [
    "Closing the centre makes it calmer and safer. People who walk stay longer in the shops.",
    "Traders depend on drivers and a closure would hurt small shops. Buses are not good enough.",
    "A trial on a few Saturdays would show what happens. We should decide on evidence.",
]


@pytest.fixture
def study(fake_model_servers, eager_tasks):
    from deliberation.services.deliberations import deliberation_create, question_create

    def make(questions=QUESTIONS, **options):
        questions = [question_create(**q) for q in questions]
        deliberation = deliberation_create(
            created_by=None,
            title="Town and library",
            questions=questions,
            group_size=3,
            min_group_size=3,
            n_candidates=4,
            critique_iterations=1,
            **options,
        )
        Condition.objects.create(
            deliberation=deliberation, name="with-best-opinion", comparisons=["best_opinion"]
        )
        return deliberation

    return make


def join(client: Client, deliberation, query: str = "") -> Participant:
    url = f"/j/{deliberation.public_id}/{query}"
    assert client.get(url).status_code == 200
    response = client.post(url, {"agree": "on", "version": deliberation.consent_version})
    assert response.status_code == 302, response.content[:500]
    return Participant.objects.filter(deliberation=deliberation).latest("id")


def post(client: Client, deliberation, path: str, data: dict, status: int = 302):
    response = client.post(f"/j/{deliberation.public_id}/{path}", data)
    assert response.status_code == status, response.content.decode()[:2000]
    return response


def answer_step(client: Client, deliberation, participant: Participant, seat: int) -> str:
    """Read the member's page, check it shows the step, and send a valid answer for it."""
    participant.refresh_from_db()
    step = participant_step(participant)
    html = client.get(f"/j/{deliberation.public_id}/go/").content.decode()
    kind = step.kind
    if kind == "position_before" or kind == "position_after":
        assert step.round.question.affirming_statement in html
        index = 0 if kind == "position_before" else 1
        post(client, deliberation, f"position/{step.round.pk}/{index}/", {"agreement": 2 + seat})
    elif kind == "write_opinion":
        assert "What do you think?" in html
        post(client, deliberation, f"opinion/{step.iteration.pk}/", {"text": OPINIONS[seat]})
    elif kind == "write_critique":
        assert step.statement.text[:40] in html.replace("&#x27;", "'")
        text = f"Member {seat} thinks it should say more about cost and about who decides."
        post(client, deliberation, f"critique/{step.iteration.pk}/", {"text": text})
    elif kind == "rate":
        assert html.count('name="agreement"') == 7 and html.count('name="quality"') == 7
        post(
            client,
            deliberation,
            f"rate/{step.statement.pk}/",
            {"agreement": 3 + seat, "quality": 5},
        )
    elif kind == "rank" or kind == "final_ranking":
        shown = step.statements
        assert all(f'name="place_{s.pk}"' in html for s in shown)
        assert "Move up" in html  # the script's buttons, hidden until it runs
        places = {f"place_{s.pk}": len(shown) - i for i, s in enumerate(shown)}
        url = f"rank/{step.iteration.pk}/" if kind == "rank" else f"final/{step.round.pk}/"
        post(client, deliberation, url, places)
    elif kind == "survey":
        assert "A few questions about this round" in html
        post(
            client,
            deliberation,
            f"survey/{step.round.pk}/",
            {"helpful": "6", "represented": str(2 + seat), "comment": "Good discussion."},
        )
    return kind


def test_two_rounds_of_two_iterations_with_rankings_position_ratings_and_surveys(study):
    deliberation = study()
    clients = [CommittingClient() for _ in range(3)]
    members = [join(c, deliberation) for c in clients]
    group = Group.objects.get(deliberation=deliberation)
    assert group.condition.name == "with-best-opinion"

    seen: list[list[str]] = [[] for _ in members]
    for _ in range(60):
        moved = False
        for seat, (client, member) in enumerate(zip(clients, members, strict=True)):
            kind = answer_step(client, deliberation, member, seat)
            if kind not in ("waiting", "mediating", "done"):
                seen[seat].append(kind)
                moved = True
        if not moved:
            break
    for member in members:
        member.refresh_from_db()
        assert member.status == Participant.Status.COMPLETED

    # Each member went through the protocol of METHOD.md §1, in order, twice.
    one_round = [
        "position_before",
        "write_opinion",
        "rate",  # the winner ...
        "rate",  # ... and the best opinion beside it
        "rank",
        "write_critique",
        "rate",  # the revision (no best opinion in a critique iteration)
        "final_ranking",
        "position_after",
        "survey",
    ]
    assert seen[0] == one_round * 2
    assert seen[1] == seen[2] == one_round * 2

    rounds = list(Round.objects.filter(group=group).order_by("position"))
    assert [r.status for r in rounds] == ["done", "done"]
    for round_ in rounds:
        assert PositionRating.objects.filter(round=round_).count() == 6  # 3 members x before/after
        opinion_winner = Statement.objects.get(
            iteration__round=round_, iteration__index=0, is_winner=True
        )
        critiques = Critique.objects.filter(iteration__round=round_, iteration__index=1)
        assert {c.statement_id for c in critiques} == {opinion_winner.pk}
        shown = Statement.objects.filter(iteration__round=round_, iteration__index=0, shown=True)
        assert sorted(shown.values_list("role", flat=True)) == ["best_opinion", "candidate"]
        for member in members:
            ranking = Ranking.objects.get(
                participant=member, iteration__round=round_, kind="statements"
            )
            order = [s.pk for s in statements_for(member, ranking.iteration)]
            assert ranking.statement_ids == order
            # The test gave the last statement shown the first place.
            assert ranking.numerical_ranks == list(range(len(order)))[::-1]
            final = Ranking.objects.get(participant=member, round=round_, kind="final")
            assert len(final.statement_ids) == 2 and final.iteration is None
            assert Rating.objects.filter(participant=member, iteration__round=round_).count() == 3
        assert SurveyResponse.objects.filter(round=round_).count() == 3 * 3


def test_bad_rankings_are_refused_with_a_message_and_nothing_is_stored(study):
    from deliberation.errors import DomainError
    from deliberation.services.responses import ranking_submit

    deliberation = study()
    # Two groups of three, so that there is another group's statement to name.
    clients = [CommittingClient() for _ in range(6)]
    members = [join(c, deliberation) for c in clients]
    # Everyone answers up to the ranking of the opinion iteration.
    for _ in range(6):
        for client, member in zip(clients, members, strict=True):
            if participant_step(member).kind != "rank":
                answer_step(client, deliberation, member, member.seat)
    member, client = members[0], clients[0]
    step = participant_step(member)
    assert step.kind == "rank"
    a, b = step.statements
    url = f"rank/{step.iteration.pk}/"
    other = next(m for m in members if m.group_id != member.group_id)
    other_step = participant_step(other)
    assert other_step.kind == "rank"
    foreign = other_step.statements[0]

    with pytest.raises(DomainError) as refused:
        with committed():
            ranking_submit(
                participant=member,
                iteration=step.iteration,
                places={a.pk: 1, b.pk: 2, foreign.pk: 3},
            )
    assert refused.value.code == "ranking_incomplete"
    post(client, deliberation, url, {f"place_{a.pk}": "1", f"place_{foreign.pk}": "2"}, status=400)
    assert not Ranking.objects.filter(participant=member).exists()

    response = post(client, deliberation, url, {f"place_{a.pk}": "1"}, status=400)
    assert "Please choose a place for statement B." in response.content.decode()
    post(client, deliberation, url, {f"place_{a.pk}": "1", f"place_{b.pk}": "3"}, status=400)
    post(client, deliberation, url, {f"place_{a.pk}": "x", f"place_{b.pk}": "1"}, status=400)
    assert not Ranking.objects.filter(participant=member).exists()

    # Equal places are a tie, as in [T24]'s data; the same ranking twice is stored once.
    post(client, deliberation, url, {f"place_{a.pk}": "1", f"place_{b.pk}": "1"})
    post(client, deliberation, url, {f"place_{a.pk}": "1", f"place_{b.pk}": "1"})
    ranking = Ranking.objects.get(participant=member)
    assert ranking.numerical_ranks == [0, 0]
    response = post(
        client, deliberation, url, {f"place_{a.pk}": "1", f"place_{b.pk}": "2"}, status=409
    )
    assert "cannot be changed" in response.content.decode()
    assert Ranking.objects.get(participant=member).numerical_ranks == [0, 0]


def test_another_groups_round_and_iteration_are_out_of_reach(study):
    deliberation = study()
    clients = [CommittingClient() for _ in range(6)]
    members = [join(c, deliberation) for c in clients]
    group_a, group_b = members[0].group_id, members[3].group_id
    assert group_a != group_b
    round_b = Round.objects.get(group_id=group_b)
    iteration_b = round_b.iterations.get(index=0)
    client_a = clients[0]
    post(client_a, deliberation, f"position/{round_b.pk}/0/", {"agreement": "4"}, status=404)
    post(client_a, deliberation, f"rank/{iteration_b.pk}/", {}, status=404)
    post(client_a, deliberation, f"final/{round_b.pk}/", {}, status=404)
    post(client_a, deliberation, f"survey/{round_b.pk}/", {"helpful": "3"}, status=404)
    assert not PositionRating.objects.filter(round=round_b).exists()


def test_position_rating_and_survey_are_stored_once_and_checked(study):
    deliberation = study()
    clients = [CommittingClient() for _ in range(3)]
    members = [join(c, deliberation) for c in clients]
    client, member = clients[0], members[0]
    round_ = Round.objects.get(group=member.group)
    url = f"position/{round_.pk}/0/"
    response = post(client, deliberation, url, {"agreement": "9"}, status=400)
    assert "from 1 to 7" in response.content.decode()
    post(client, deliberation, url, {"agreement": "5"})
    post(client, deliberation, url, {"agreement": "5"})
    post(client, deliberation, url, {"agreement": "2"}, status=409)
    assert list(PositionRating.objects.filter(participant=member).values_list("agreement")) == [
        (5,)
    ]
    # Asking for the "after" rating before the round is over is refused.
    post(client, deliberation, f"position/{round_.pk}/1/", {"agreement": "5"}, status=409)

    # Run everyone to the survey of the first round.
    for _ in range(40):
        for seat, (c, m) in enumerate(zip(clients, members, strict=True)):
            if participant_step(m).kind != "survey":
                answer_step(c, deliberation, m, seat)
        if all(participant_step(m).kind == "survey" for m in members):
            break
    step = participant_step(member)
    assert step.kind == "survey"
    survey_url = f"survey/{step.round.pk}/"
    response = post(client, deliberation, survey_url, {"helpful": "6"}, status=400)
    assert not SurveyResponse.objects.filter(participant=member).exists()
    blank = post(client, deliberation, survey_url, {"helpful": "6", "represented": ""}, status=400)
    assert re.search(r'name="helpful" value="6"[^>]*checked', blank.content.decode())
    assert not SurveyResponse.objects.filter(participant=member).exists()
    html = response.content.decode()
    assert re.search(r'name="helpful" value="6"[^>]*checked', html), "the answer is kept"
    post(client, deliberation, survey_url, {"helpful": "6", "represented": "5"})
    post(client, deliberation, survey_url, {"helpful": "6", "represented": "5"})
    post(client, deliberation, survey_url, {"helpful": "1", "represented": "5"}, status=409)
    stored = dict(SurveyResponse.objects.filter(participant=member).values_list("item", "value"))
    assert stored == {"helpful": 6, "represented": 5, "comment": ""}


def prolific_query(pid: str = "5f8a1c2b3d4e5f6a7b8c9d0e") -> str:
    return f"?PROLIFIC_PID={pid}&STUDY_ID=study-1&SESSION_ID=session-{pid[-4:]}"


def test_prolific_ids_are_stored_apart_and_the_redirect_comes_only_after_completion(study):
    # One question: every step of a round is tried for the way to the code; two rounds add none.
    deliberation = study(panel="prolific", completion_code="C1A2B3", questions=QUESTIONS[:1])
    clients = [CommittingClient() for _ in range(3)]
    pids = [f"5f8a1c2b3d4e5f6a7b8c9d0{i}" for i in range(3)]
    members = [join(c, deliberation, prolific_query(p)) for c, p in zip(clients, pids, strict=True)]
    identity = PanelIdentity.objects.get(participant=members[0])
    assert (identity.external_id, identity.study_id) == (pids[0], "study-1")
    assert identity.deliberation_id == deliberation.pk
    assert pids[0] not in str(members[0].public_id)

    client = clients[0]
    # Typing the completion URL before the end takes the member back to their step; no code.
    response = client.get(f"/j/{deliberation.public_id}/complete/")
    assert response.status_code == 302
    assert response["Location"] == f"/j/{deliberation.public_id}/go/"
    assert "C1A2B3" not in client.get(f"/j/{deliberation.public_id}/go/").content.decode()

    # The same Prolific member opening the link again, in another browser, resumes.
    again = CommittingClient()
    response = again.get(f"/j/{deliberation.public_id}/{prolific_query(pids[0])}")
    assert response.status_code == 302
    assert response["Location"] == f"/j/{deliberation.public_id}/go/"
    assert Participant.objects.filter(deliberation=deliberation).count() == 3

    for _ in range(80):
        for seat, (c, m) in enumerate(zip(clients, members, strict=True)):
            m.refresh_from_db()
            if m.status == Participant.Status.ACTIVE:
                # Until the very last step is saved, there is no way to the code.
                assert c.get(f"/j/{deliberation.public_id}/complete/")["Location"].endswith("/go/")
                answer_step(c, deliberation, m, seat)
        if all(
            Participant.objects.get(pk=m.pk).status == Participant.Status.COMPLETED for m in members
        ):
            break
    html = client.get(f"/j/{deliberation.public_id}/go/").content.decode()
    assert "C1A2B3" in html and "Return to Prolific" in html
    response = client.get(f"/j/{deliberation.public_id}/complete/")
    assert response.status_code == 302
    assert response["Location"] == "https://app.prolific.com/submissions/complete?cc=C1A2B3"


@pytest.mark.parametrize(
    "query",
    ["", "?STUDY_ID=s", "?PROLIFIC_PID=", "?PROLIFIC_PID={{%PROLIFIC_PID%}}", "?PROLIFIC_PID=a b"],
)
def test_a_prolific_link_without_a_valid_id_is_refused_clearly(study, query):
    deliberation = study(panel="prolific", completion_code="C1A2B3")
    client = CommittingClient()
    response = client.get(f"/j/{deliberation.public_id}/{query}")
    assert response.status_code == 400
    assert "Prolific ID" in response.content.decode()
    response = client.post(
        f"/j/{deliberation.public_id}/{query}",
        {"agree": "on", "version": deliberation.consent_version},
    )
    assert response.status_code == 400
    assert not Participant.objects.filter(deliberation=deliberation).exists()


def test_a_member_reopening_the_link_without_its_ids_resumes(study):
    deliberation = study(panel="prolific", completion_code="C1A2B3")
    client = CommittingClient()
    member = join(client, deliberation, prolific_query())
    response = client.get(f"/j/{deliberation.public_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/j/{deliberation.public_id}/go/"
    assert list(Participant.objects.filter(deliberation=deliberation)) == [member]


def test_mturk_and_generic_ids(study):
    mturk = study(panel="mturk", completion_code="MT-1")
    client = CommittingClient()
    preview = client.get(f"/j/{mturk.public_id}/?assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE")
    assert preview.status_code == 400 and "preview" in preview.content.decode()
    foreign = client.get(
        f"/j/{mturk.public_id}/?workerId=W1&assignmentId=A1&turkSubmitTo=https://evil.example"
    )
    assert foreign.status_code == 400
    assert not Participant.objects.filter(deliberation=mturk).exists()
    member = join(
        client,
        mturk,
        "?workerId=W1&assignmentId=A1&hitId=H1&turkSubmitTo=https://workersandbox.mturk.com",
    )
    identity = member.panel_identity
    assert (identity.panel, identity.external_id, identity.session_id) == ("mturk", "W1", "A1")

    generic = study(
        panel="generic",
        completion_url="https://survey.example/back?code={code}",
        completion_code="G1",
    )
    other = CommittingClient()
    assert other.get(f"/j/{generic.public_id}/").status_code == 400
    member = join(other, generic, "?xid=abc-123")
    assert member.panel_identity.external_id == "abc-123"
