"""The embedded mediator measured on the project's evaluation set (inference.evaluation)."""

import json
import re
import subprocess
import sys

import pytest

from inference.evaluation.embedded import (
    SET_PATH,
    both_sides_asserted,
    evaluate,
    first_person_verbatim,
    load_set,
)
from inference.generators.extractive import ExtractiveGenerator
from inference.reward_models.embedding import EmbeddingRewardModel
from tests.conftest import REPO_ROOT

QUESTION = "Should schools move to a four-day week?"
AFFIRMING = "Schools should move to a four-day week."
NEGATING = "Schools should NOT move to a four-day week."
MEMBER = (
    "I am fairly sure that schools should keep a five-day week. I also work shifts, so a fifth "
    "day off means paying for childcare I can't afford."
)
# The statement the issue quotes, from the generator this one replaced.
OLD_STYLE = (
    'On the question "Should schools move to a four-day week?", this is where we stand. Schools '
    "should move to a four-day week: teachers are exhausted. I am fairly sure that schools "
    "should keep a five-day week. I also work shifts, so a fifth day off means paying for "
    "childcare I can't afford."
)


def test_the_questions_are_the_banks_word_for_word(hm_questions):
    bank = {q["id"]: q for q in hm_questions}
    for group in load_set():
        entry = bank[group["question_id"]]
        for key in ("question", "affirming_statement", "negating_statement"):
            assert group[key] == " ".join(entry[key].split())


def test_the_set_is_what_its_header_says():
    data = json.loads(SET_PATH.read_text(encoding="utf-8"))
    assert "CC-BY 4.0" in data["about"] and "habermas_machine" in data["about"]
    groups = load_set()
    assert len(groups) >= 30
    for group in groups:
        assert 3 <= len(group["members"]) <= 5
        for member in group["members"]:
            assert member["side"] in (-1, 0, 1)
            assert member["opinion"].strip()
    sides = [{m["side"] for m in g["members"]} - {0} for g in groups]
    assert sum(s == {1, -1} for s in sides) >= 15  # split groups
    assert sum(len(s) == 1 for s in sides) >= 5  # agreeing groups


def test_the_measures_catch_what_the_issue_found():
    assert first_person_verbatim(OLD_STYLE, [MEMBER])
    assert both_sides_asserted(OLD_STYLE, QUESTION, AFFIRMING, NEGATING)
    reported = (
        "Most of us think that schools should move to a four-day week, while one of us "
        "disagrees. One of us against it notes that they also work shifts, so a fifth day off "
        "means paying for childcare they can't afford."
    )
    assert not first_person_verbatim(reported, [MEMBER])
    assert not both_sides_asserted(reported, QUESTION, AFFIRMING, NEGATING)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 32 groups through MiniLM on a shared 2-core machine
def test_the_embedded_mediator_meets_its_targets_on_the_set():
    result = evaluate(
        generator=ExtractiveGenerator(),
        reward_model=EmbeddingRewardModel(),
        groups=load_set(),
        timing_runs=0,  # speed is the benchmark's business (`evaluate-embedded` prints it)
    )
    assert result.candidates == 16 * len(load_set())
    assert result.first_person_verbatim == 0
    assert result.both_sides_asserted == 0
    assert result.stance_accuracy >= 0.9
    assert result.stance_margin >= 1.0
    assert result.members_represented == 1.0
    # Predictions spread over the scale, and across one member's candidates.
    assert result.prediction_sd >= 0.6
    assert result.within_member_sd >= 0.1
    assert result.prediction_min <= 2 and result.prediction_max >= 6


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_evaluate_embedded_prints_every_figure_with_its_target(tmp_path):
    data = json.loads(SET_PATH.read_text(encoding="utf-8"))
    data["groups"] = [g for g in data["groups"] if len(g["members"]) == 5][:2]
    small = tmp_path / "small.json"
    small.write_text(json.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "inference", "evaluate-embedded", "--set", str(small), "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout
    for label in ("first-person sentence verbatim", "both sides", "stance accuracy", "SD"):
        assert label in out
    timing = re.search(r"mediation, 5 x 16, after warm-up \(median\)\s+(\d+) ms", out)
    assert timing, out
    print(f"\nembedded mediation, 5 x 16: {timing.group(1)} ms (not asserted)")
    report = json.loads(out.strip().splitlines()[-1])
    assert report["mediation_s"] > 0
    assert done.returncode == (0 if all(v is not False for v in report["met"].values()) else 1)
