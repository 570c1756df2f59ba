"""`manage.py simulate`: bot groups pilot a whole study (rounds, critique iterations, conditions)
through the real services and the mediation task, reported as one JSON object. The tests use
`transactional_db`: the services enqueue their tasks on commit, and the subprocess run and the
worker must see the schema and the rows."""

import io
import json
import re
import subprocess
import sys
from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from deliberation.models import (
    CandidateSet,
    Critique,
    Deliberation,
    Group,
    Iteration,
    Opinion,
    Participant,
    PositionRating,
    Prediction,
    Provenance,
    Question,
    Ranking,
    Rating,
    Round,
    Statement,
    SurveyResponse,
)
from deliberation.selectors.simulation import group_report
from deliberation.services.deliberations import question_create
from tests.worker import REPO_ROOT, running_worker, subprocess_env

pytestmark = pytest.mark.timeout(180)

# The issue's command line, with smaller groups for speed.
STUDY = [
    "--groups", "4", "--size", "3", "--rounds", "2", "--iterations", "2",
    "--conditions", "baseline,exclusion", "--json",
]  # fmt: skip


def _simulate(*args: str) -> dict:
    out = io.StringIO()
    call_command("simulate", *args, stdout=out)
    return json.loads(out.getvalue())  # the whole of stdout is one JSON object


def _winner(iteration: dict) -> dict:
    """The winner as it was shown: the first of `shown`, the candidate `winner` indexes."""
    shown = iteration["shown"][0]
    assert shown["role"] == Statement.Role.CANDIDATE
    assert shown["candidate"] == iteration["winner"]
    assert shown["id"] == iteration["candidates"][iteration["winner"]]["id"]
    return shown


def _check_report(report: dict, *, groups: int, size: int, rounds: int = 1, iterations: int = 1):
    """The JSON's shape and its invariants, without the database."""
    assert len(report["groups"]) == groups
    assert len(report["questions"]) == rounds == len(set(report["questions"]))
    seen: set[str] = set()
    quoting = 0
    for group in report["groups"]:
        participants = group["participants"]
        assert len(participants) == size and len(set(participants)) == size
        assert not seen & set(participants), "a participant is in two groups"
        seen |= set(participants)
        assert group["status"] == Group.Status.DONE
        assert [r["position"] for r in group["rounds"]] == list(range(rounds))
        assert [r["question"] for r in group["rounds"]] == report["questions"]  # asked in order
        for round_ in group["rounds"]:
            quoting += _check_round(round_, participants, iterations)
    if iterations > 1:
        # Bots react to the winner they saw by quoting it (one template in four does not quote):
        # a report whose critiques never quote the winner has bots that ignore it.
        assert quoting > 0, "no critique quotes the winner it critiques"


def _check_round(round_: dict, participants: list[str], iterations: int) -> int:
    """Checks one round; returns how many of its critiques quote the winner they critique."""
    everyone = set(participants)
    quoting = 0
    assert round_["status"] == Round.Status.DONE
    assert set(round_["excluded"]) <= everyone
    assert [it["index"] for it in round_["iterations"]] == list(range(iterations))
    winners = []
    for iteration in round_["iterations"]:
        assert iteration["state"] == Iteration.State.DONE
        if iteration["index"] == 0:
            assert {o["participant"] for o in iteration["opinions"]} == everyone
            assert all(o["text"].strip() for o in iteration["opinions"])
            assert iteration["critiques"] == []
        else:
            assert iteration["opinions"] == []
            assert {c["participant"] for c in iteration["critiques"]} == everyone
            for critique in iteration["critiques"]:
                # Each critiques the winner of the iteration before, as the member saw it.
                assert critique["statement"] == winners[-1]["id"]
                quoted = re.search(r'"(.+?)"', critique["text"])
                if quoted:
                    assert quoted.group(1) in winners[-1]["text"]
                    quoting += 1
        candidates = iteration["candidates"]
        assert candidates
        for candidate in candidates:
            assert candidate["text"].strip()
            assert candidate["provenance"]["backend"]
            assert "sample_index" in candidate["provenance"]
        assert iteration["members"] == participants
        assert set(iteration["included"]) == everyone - set(round_["excluded"])
        predictions = iteration["predictions"]
        assert len(predictions) == len(participants)
        assert all(len(row) == len(candidates) for row in predictions)
        assert all(1 <= value <= 7 for row in predictions for value in row)
        scores = iteration["scores"]
        assert len(scores) == len(candidates)
        winner = iteration["winner"]
        assert isinstance(winner, int) and scores[winner] == max(scores)
        winners.append(_winner(iteration))
        # Every member rated every statement shown, excluded members included.
        for shown in iteration["shown"]:
            assert {r["participant"] for r in shown["ratings"]} == everyone
            assert len(shown["ratings"]) == len(participants)
            for rating in shown["ratings"]:
                assert 1 <= rating["agreement"] <= 7 and 1 <= rating["quality"] <= 7
        flat = {(r["participant"], r["statement_id"]) for r in iteration["ratings"]}
        assert flat == {
            (r["participant"], s["id"]) for s in iteration["shown"] for r in s["ratings"]
        }
        shown_ids = {s["id"] for s in iteration["shown"]}
        if len(shown_ids) > 1:
            assert {r["participant"] for r in iteration["rankings"]} == everyone
            assert all(set(r["statements"]) == shown_ids for r in iteration["rankings"])
        else:
            assert iteration["rankings"] == []
    if iterations > 1:
        assert {r["participant"] for r in round_["final_ranking"]} == everyone
        assert all(
            set(r["statements"]) == {w["id"] for w in winners} for r in round_["final_ranking"]
        )
    else:
        assert round_["final_ranking"] == []
    assert round_["position_statement"]
    assert {p["participant"] for p in round_["position_ratings"]} == everyone
    assert all(p["before"] and p["after"] for p in round_["position_ratings"])
    assert {s["participant"] for s in round_["survey"]} == everyone
    return quoting


def _check_database(report: dict, *, groups: int, size: int) -> None:
    """Every row the JSON reports is in the database, and nothing it leaves out."""
    deliberation = Deliberation.objects.get(public_id=report["deliberation"])
    assert deliberation.group_size == size and deliberation.min_group_size == size
    assert deliberation.critique_iterations == report["settings"]["iterations"] - 1
    assert not deliberation.fill_with_bots
    assert [q.text for q in deliberation.questions.order_by("deliberationquestion__position")] == (
        report["questions"]
    )
    members = Participant.objects.filter(deliberation=deliberation)
    assert members.count() == groups * size
    assert set(members.values_list("provenance", flat=True)) == {Provenance.BOT_CITIZEN}
    assert set(members.values_list("status", flat=True)) == {Participant.Status.COMPLETED}
    assert Group.objects.filter(deliberation=deliberation, status=Group.Status.DONE).count() == (
        groups
    )
    public = {str(p.public_id): p.pk for p in members}
    for group in report["groups"]:
        stored = Group.objects.select_related("condition").get(pk=group["id"])
        assert (stored.condition.name if stored.condition else None) == group["condition"]
        for round_ in group["rounds"]:
            _check_round_rows(round_, public)


def _check_round_rows(round_: dict, public: dict[str, int]) -> None:
    def rows(model, *fields, **where):
        return set(model.objects.filter(**where).values_list(*fields))

    stored_round = Round.objects.get(pk=round_["id"])
    assert set(stored_round.excluded.values_list("pk", flat=True)) == {
        public[p] for p in round_["excluded"]
    }
    assert rows(PositionRating, "participant", "index", "agreement", round=stored_round) == {
        (public[p["participant"]], index, p[key])
        for p in round_["position_ratings"]
        for index, key in ((0, "before"), (1, "after"))
    }
    assert _rankings(round=stored_round, kind=Ranking.Kind.FINAL) == _reported_rankings(
        round_["final_ranking"], public
    )
    assert SurveyResponse.objects.filter(round=stored_round).count() == sum(
        len(s["answers"]) for s in round_["survey"]
    )
    for iteration in round_["iterations"]:
        where = {"iteration_id": iteration["id"]}
        assert rows(Opinion, "participant", "text", **where) == {
            (public[o["participant"]], o["text"]) for o in iteration["opinions"]
        }
        assert rows(Critique, "participant", "text", "statement", **where) == {
            (public[c["participant"]], c["text"], c["statement"]) for c in iteration["critiques"]
        }
        candidate_set = CandidateSet.objects.get(**where)
        assert candidate_set.predictions == iteration["predictions"]
        assert candidate_set.scores == iteration["scores"]
        assert candidate_set.member_ids == [public[p] for p in iteration["members"]]
        candidates = Statement.objects.filter(candidate_set=candidate_set)
        assert candidates.count() == len(iteration["candidates"])
        assert candidates.get(is_winner=True).index == iteration["winner"]
        assert rows(Statement, "pk", "role", "text", shown=True, **where) == {
            (s["id"], s["role"], s["text"]) for s in iteration["shown"]
        }
        assert Prediction.objects.filter(statement__iteration_id=iteration["id"]).count() == (
            len(iteration["members"]) * (len(iteration["candidates"]) + len(iteration["shown"]) - 1)
        )
        assert rows(Rating, "participant", "statement", "agreement", "quality", **where) == {
            (public[r["participant"]], s["id"], r["agreement"], r["quality"])
            for s in iteration["shown"]
            for r in s["ratings"]
        }
        assert _rankings(kind=Ranking.Kind.STATEMENTS, **where) == _reported_rankings(
            iteration["rankings"], public
        )


def _rankings(**where) -> list[tuple]:
    stored = Ranking.objects.filter(**where).values_list(
        "participant", "statement_ids", "numerical_ranks"
    )
    return sorted((p, tuple(ids), tuple(ranks)) for p, ids, ranks in stored)


def _reported_rankings(reported: list[dict], public: dict[str, int]) -> list[tuple]:
    return sorted(
        (public[r["participant"]], tuple(r["statements"]), tuple(r["ranks"])) for r in reported
    )


def _check_study(report: dict, *, groups: int, size: int) -> None:
    """The issue's study: two conditions over four groups, balanced; the exclusion groups leave
    a member out of each round's mediation, who still rates; the baseline groups rate a
    baseline statement beside every winner."""
    assert report["settings"]["conditions"] == ["baseline", "exclusion"]
    assert Counter(g["condition"] for g in report["groups"]) == {"baseline": 2, "exclusion": 2}
    by_name = {c["name"]: c for c in report["conditions"]}
    assert by_name["baseline"]["comparisons"] == ["baseline"]
    assert by_name["exclusion"]["exclusion"] is True
    for name, condition in by_name.items():
        assert condition["groups"] == [
            g["number"] for g in report["groups"] if g["condition"] == name
        ]
    for group in report["groups"]:
        for round_ in group["rounds"]:
            if group["condition"] == "exclusion":
                assert len(round_["excluded"]) == report["settings"]["exclusion_count"] == 1
                left_out = round_["excluded"][0]
                for iteration in round_["iterations"]:
                    assert left_out in iteration["members"]
                    assert left_out not in iteration["included"]
                    assert left_out in {r["participant"] for r in _winner(iteration)["ratings"]}
                    assert [s["role"] for s in iteration["shown"]] == [Statement.Role.CANDIDATE]
            else:
                assert round_["excluded"] == []
                for iteration in round_["iterations"]:
                    roles = [s["role"] for s in iteration["shown"]]
                    assert roles == [Statement.Role.CANDIDATE, Statement.Role.BASELINE]
                    baseline = iteration["shown"][1]
                    assert len(baseline["ratings"]) == size
    _check_report(report, groups=groups, size=size, rounds=2, iterations=2)


def test_simulate_pilots_the_issue_study_as_a_subprocess(
    transactional_db, fake_model_servers, django_assert_num_queries
):
    result = subprocess.run(
        [sys.executable, "manage.py", "simulate", *STUDY],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=150,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)  # stdout carries only the JSON
    _check_study(report, groups=4, size=3)
    _check_database(report, groups=4, size=3)
    group = Group.objects.select_related("condition").get(pk=report["groups"][0]["id"])
    with django_assert_num_queries(12):  # the same however many rounds and iterations
        assert group_report(group) == report["groups"][0]


def test_simulate_json_reports_every_group_and_stores_every_row(transactional_db):
    """One round of one iteration, no conditions, on the embedded default backends."""
    report = _simulate("--groups", "2", "--size", "4", "--json", "--seed", "7")

    assert report["settings"]["rounds"] == 1 and report["settings"]["iterations"] == 1
    assert report["conditions"] == []
    assert all(g["condition"] is None for g in report["groups"])
    assert all(r["excluded"] == [] for g in report["groups"] for r in g["rounds"])
    _check_report(report, groups=2, size=4)
    _check_database(report, groups=2, size=4)


def test_simulate_presets_change_what_is_mediated_and_shown(transactional_db, fake_model_servers):
    report = _simulate(
        "--groups", "3", "--size", "3", "--iterations", "2",
        "--conditions", "control,best_opinion,no_rerank", "--json",
    )  # fmt: skip

    assert sorted(g["condition"] for g in report["groups"]) == [
        "best_opinion",
        "control",
        "no_rerank",
    ]
    for group in report["groups"]:
        opinion, critique = group["rounds"][0]["iterations"]
        if group["condition"] == "best_opinion":
            # The best human opinion is shown beside the winner once, in the opinion iteration.
            assert [s["role"] for s in opinion["shown"]] == ["candidate", "best_opinion"]
            assert opinion["shown"][1]["text"] in {o["text"] for o in opinion["opinions"]}
            assert [s["role"] for s in critique["shown"]] == ["candidate"]
        else:
            assert [s["role"] for s in opinion["shown"]] == ["candidate"]
        if group["condition"] == "no_rerank":
            assert len(opinion["candidates"]) == len(critique["candidates"]) == 1
        else:
            assert len(opinion["candidates"]) > 1
    _check_report(report, groups=3, size=3, iterations=2)
    _check_database(report, groups=3, size=3)


def test_simulate_summary_shows_rounds_iterations_and_conditions(
    transactional_db, fake_model_servers
):
    for text in ("Should libraries open on Sundays?", "Should parks stay open at night?"):
        question_create(
            text=text,
            affirming_statement=text.replace("Should ", "").rstrip("?") + ".",
            source="demo",
        )
    out = io.StringIO()
    call_command(
        "simulate", "--groups", "2", "--size", "3", "--rounds", "2", "--iterations", "2",
        "--conditions", "exclusion,control", stdout=out,
    )  # fmt: skip

    text = out.getvalue()
    # Demo questions come first when there are enough of them.
    assert re.search(
        r"^Round 1: Should (libraries open on Sundays|parks stay open at night)\?", text, re.M
    )
    for round_ in (1, 2):
        for index in (0, 1):
            assert re.search(
                rf"Group \d, round {round_}, iteration {index}: 3 \w+\(s\), winner", text
            )
    assert re.search(r"Group \d, round 1: left out of the mediation: \w{8}", text)
    assert re.search(r"^  control: \d\.\d\d from 12 rating\(s\)$", text, re.M)
    assert re.search(
        r"^  exclusion: \d\.\d\d from 12 rating\(s\); included members \d\.\d\d \(8\), "
        r"excluded members \d\.\d\d \(4\)$",
        text,
        re.M,
    )
    assert "Mean agreement overall:" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--conditions", "baseline,sham"], "Unknown condition.*sham.*presets are: control"),
        (["--bot-bias", "mediator=1"], "Unknown statement role.*mediator"),
        (["--bot-bias", "baseline=-1", "--bot-bias", "baseline=2"], "names baseline twice"),
        (["--exclusion-penalty", "7"], "exclusion penalty must be from -6 to 6"),
        (["--conditions", "exclusion,exclusion"], "named once; repeated: exclusion"),
        (["--size", "1", "--conditions", "exclusion"], "minimum group size must be at least 2"),
        (["--iterations", "7"], "--iterations must be from 1 to 6"),
        (["--rounds", "9", "--question-source", "built-in"], "8 built-in questions"),
        (["--rounds", "2", "--question-source", "demo"], "seed_demo"),
    ],
)
def test_simulate_refuses_a_bad_study_and_writes_nothing(transactional_db, args, message):
    """Bad input tried: an unknown condition name, a condition named twice, a planted effect on
    an unknown role, a role named twice or a penalty out of range, an exclusion
    condition in groups of one (nobody could be left out), too many iterations, more rounds than
    the chosen source has questions (built-in; demo with none)."""
    questions = Question.objects.count()
    with pytest.raises(CommandError, match=message):
        call_command("simulate", *args, stdout=io.StringIO())
    assert not Deliberation.objects.exists()
    assert Question.objects.count() == questions


@pytest.fixture(scope="module")
def fake_worker(django_db_setup, django_db_blocker):
    """A real Celery worker on the fake model servers."""
    with override_settings(INFERENCE_ENV={"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"}):
        with running_worker(django_db_blocker) as worker:
            yield worker


@pytest.mark.worker
def test_simulate_with_broker_waits_until_every_member_completed(
    transactional_db, fake_model_servers, fake_worker
):
    since = len(fake_worker.log())
    report = _simulate(
        "--groups", "2", "--size", "3", "--rounds", "2", "--iterations", "2",
        "--conditions", "baseline,exclusion", "--json", "--use-broker", "--timeout", "120",
    )  # fmt: skip

    # The command returned only after the worker had run the bots' end-of-round answers too.
    _check_report(report, groups=2, size=3, rounds=2, iterations=2)
    _check_database(report, groups=2, size=3)
    assert "mediate_iteration" in fake_worker.log()
    # That name is also in the worker's start-up banner. What shows the worker did the work: its
    # own log line for the task of every iteration reported, returning that iteration's candidate
    # set, and the bots' task run there too.
    log = fake_worker.log()[since:]
    mediated = set(re.findall(r"mediate_iteration\[[^\]]+\] succeeded in [\d.]+s: (\d+)", log))
    reported = {
        str(CandidateSet.objects.get(iteration_id=iteration["id"]).pk)
        for group in report["groups"]
        for round_ in group["rounds"]
        for iteration in round_["iterations"]
    }
    assert len(reported) == 2 * 2 * 2
    assert reported <= mediated
    assert re.search(r"bots_act\[[^\]]+\] succeeded", log)
