"""`manage.py simulate`: bot groups through the real services and the mediation task, reported as
one JSON object. The tests use `transactional_db`: the services enqueue their tasks on commit,
and the subprocess run must see the schema and the rows."""

import io
import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from deliberation.models import (
    CandidateSet,
    Deliberation,
    Group,
    Iteration,
    Opinion,
    Participant,
    Prediction,
    Provenance,
    Rating,
    Statement,
)
from deliberation.services.deliberations import question_create
from tests.worker import REPO_ROOT, subprocess_env

pytestmark = pytest.mark.timeout(180)


def _check_report(report: dict, *, groups: int, size: int) -> None:
    """The JSON's shape and its invariants, without the database."""
    assert len(report["groups"]) == groups
    seen: set[str] = set()
    for group in report["groups"]:
        participants = group["participants"]
        assert len(participants) == size and len(set(participants)) == size
        assert not seen & set(participants), "a participant is in two groups"
        seen |= set(participants)
        assert len(group["rounds"]) == 1
        round_ = group["rounds"][0]
        assert round_["question"]
        assert len(round_["opinions"]) == size and all(round_["opinions"])
        assert [it["index"] for it in round_["iterations"]] == [0]
        for iteration in round_["iterations"]:
            candidates = iteration["candidates"]
            assert candidates
            for candidate in candidates:
                assert candidate["text"].strip()
                assert candidate["provenance"]["backend"]
                assert "sample_index" in candidate["provenance"]
            assert iteration["members"] == participants
            predictions = iteration["predictions"]
            assert len(predictions) == size
            assert all(len(row) == len(candidates) for row in predictions)
            assert all(1 <= value <= 7 for row in predictions for value in row)
            scores = iteration["scores"]
            assert len(scores) == len(candidates)
            winner = iteration["winner"]
            assert isinstance(winner, int) and scores[winner] == max(scores)
            assert iteration["critiques"] == []
            ratings = iteration["ratings"]
            assert len(ratings) == size
            assert {r["participant"] for r in ratings} == set(participants)
            for rating in ratings:
                assert rating["statement"] == winner
                assert 1 <= rating["agreement"] <= 7 and 1 <= rating["quality"] <= 7
            assert iteration["state"] == Iteration.State.DONE


def _check_database(report: dict, *, groups: int, size: int) -> None:
    """Every row the JSON reports is in the database."""
    deliberation = Deliberation.objects.get(public_id=report["deliberation"])
    assert deliberation.group_size == size and deliberation.min_group_size == size
    assert not deliberation.fill_with_bots
    members = Participant.objects.filter(deliberation=deliberation)
    assert members.count() == groups * size
    assert set(members.values_list("provenance", flat=True)) == {Provenance.BOT_CITIZEN}
    assert set(members.values_list("status", flat=True)) == {Participant.Status.COMPLETED}
    assert Group.objects.filter(deliberation=deliberation, status=Group.Status.DONE).count() == (
        groups
    )
    in_deliberation = {"iteration__round__group__deliberation": deliberation}
    assert Opinion.objects.filter(**in_deliberation).count() == groups * size
    assert Rating.objects.filter(**in_deliberation).count() == groups * size
    for group in report["groups"]:
        iteration = group["rounds"][0]["iterations"][0]
        candidate_set = CandidateSet.objects.get(iteration_id=iteration["id"])
        assert candidate_set.predictions == iteration["predictions"]
        assert candidate_set.scores == iteration["scores"]
        statements = Statement.objects.filter(iteration_id=iteration["id"])
        assert statements.count() == len(iteration["candidates"])
        assert statements.get(is_winner=True).index == iteration["winner"]
        assert Prediction.objects.filter(statement__iteration_id=iteration["id"]).count() == (
            size * len(iteration["candidates"])
        )
        stored = {
            (str(r.participant.public_id), r.agreement, r.quality)
            for r in Rating.objects.filter(iteration_id=iteration["id"]).select_related(
                "participant"
            )
        }
        reported = {(r["participant"], r["agreement"], r["quality"]) for r in iteration["ratings"]}
        assert stored == reported


def test_simulate_json_reports_every_group_and_stores_every_row(transactional_db):
    out = io.StringIO()
    call_command("simulate", "--groups", "2", "--size", "5", "--json", "--seed", "7", stdout=out)

    report = json.loads(out.getvalue())  # the whole of stdout is one JSON object
    _check_report(report, groups=2, size=5)
    _check_database(report, groups=2, size=5)


def test_simulate_as_a_subprocess_prints_only_json(transactional_db):
    result = subprocess.run(
        [sys.executable, "manage.py", "simulate", "--groups", "1", "--size", "3", "--json"],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=150,
    )

    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout)
    _check_report(report, groups=1, size=3)
    _check_database(report, groups=1, size=3)


def test_simulate_summary_names_the_winner_and_the_mean_agreement(transactional_db):
    question_create(
        text="Should libraries open on Sundays?",
        affirming_statement="Libraries should open on Sundays.",
        negating_statement="Libraries should NOT open on Sundays.",
        source="demo",
    )
    out = io.StringIO()
    call_command("simulate", "--groups", "1", "--size", "3", stdout=out)

    text = out.getvalue()
    assert "Question: Should libraries open on Sundays?" in text  # demo questions come first
    assert "Group 1, iteration 0: winner" in text
    assert "Mean agreement overall:" in text


def test_simulate_refuses_demo_source_without_demo_questions(transactional_db):
    with pytest.raises(CommandError, match="seed_demo"):
        call_command("simulate", "--question-source", "demo", stdout=io.StringIO())
    assert not Deliberation.objects.exists()
