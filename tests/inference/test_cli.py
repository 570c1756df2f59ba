"""`python -m inference mediate` as a user runs it: a subprocess, JSON in, JSON out."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

FAKE_CONFIG = {"generator": "fake", "reward": "fake", "n_candidates": 4, "seed": 3}
ROUND = {
    "question": "Should the voting age be lowered to 16?",
    "opinions": [
        "Sixteen year olds pay taxes and work. They deserve a say.",
        "Teenagers are not mature enough to vote. Parents shape their views.",
        "Lowering the age could raise turnout for life. Habits stick.",
        "Civic education should come first. Then we can talk.",
    ],
}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "inference", *args],
        cwd=REPO_ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def mediate(tmp_path, round_data=ROUND, config=FAKE_CONFIG):
    args = ["mediate", "--input", write(tmp_path, "round.json", round_data)]
    if config is not None:
        args += ["--config", write(tmp_path, "config.json", config)]
    return cli(*args)


def assert_one_line_error(completed):
    assert completed.returncode != 0
    assert completed.stdout == ""
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_mediate_prints_one_json_object(tmp_path):
    completed = mediate(tmp_path)
    assert completed.returncode == 0, completed.stderr
    (line,) = completed.stdout.strip().splitlines()
    data = json.loads(line)
    assert len(data["candidates"]) == 4
    assert {"text", "provenance"} <= set(data["candidates"][0])
    assert data["candidates"][0]["provenance"]["backend"] == "fake"
    assert len(data["predictions"]) == 4 and len(data["predictions"][0]) == 4
    assert len(data["scores"]) == 4
    assert data["winner"] == max(range(4), key=lambda c: data["scores"][c])
    assert set(data["timings"]) >= {"generate_s", "predict_s", "aggregate_s", "total_s"}
    assert data["config"]["seed"] == 3


def test_mediate_reads_stdin_and_runs_exclusion_and_critique_rounds(tmp_path):
    config = write(tmp_path, "config.json", {**FAKE_CONFIG, "aggregation": "schulze"})
    round_data = {
        **ROUND,
        "previous_winner": "Young people deserve a voice, with civic education first.",
        "critiques": ["More on taxes.", "More on maturity.", "Mention turnout.", "Good."],
        "include": [0, 2],
    }
    completed = cli("mediate", "--input", "-", "--config", config, stdin=json.dumps(round_data))
    assert completed.returncode == 0, completed.stderr
    data = json.loads(completed.stdout)
    assert data["included"] == [0, 2]
    assert len(data["predictions"]) == 4
    assert data["aggregation"]["method"] == "schulze"
    assert data["candidates"][0]["provenance"]["critique_round"] is True


@pytest.mark.parametrize(
    "round_data",
    [
        {"opinions": ROUND["opinions"]},  # no question
        {"question": "  ", "opinions": ROUND["opinions"]},
        {"question": ROUND["question"]},  # no opinions
        {"question": ROUND["question"], "opinions": []},
        {"question": ROUND["question"], "opinions": ["fine", 3]},
        {**ROUND, "previous_winner": "A statement.", "critiques": ["only one"]},
        {**ROUND, "critiques": ["a", "b", "c", "d"]},  # no previous winner
        {**ROUND, "include": [9]},
        {**ROUND, "include": []},
        {**ROUND, "include": "all"},
        {**ROUND, "position_ratings": [4]},
        {**ROUND, "affirming_statement": 7},
        {**ROUND, "opinion": "typo"},
        ["not", "an", "object"],
        "{not json",
        "",
    ],
)
def test_bad_input_exits_with_one_line(tmp_path, round_data):
    assert_one_line_error(mediate(tmp_path, round_data=round_data))


def test_an_unusable_round_is_refused_with_what_is_wrong(tmp_path):
    line = assert_one_line_error(
        mediate(tmp_path, round_data={**ROUND, "position_ratings": [4, 9, None, 1]})
    )
    assert line == "error: the input is not a usable round: a position rating is 9, outside 1-7"


@pytest.mark.parametrize(
    "config",
    [
        {"generator": "no-such-backend", "reward": "fake"},
        {"generator": "fake", "reward": "no-such-backend"},
        {"generator": "fake", "reward": "fake", "aggregation": "borda"},
        {"generator": "fake", "reward": "fake", "alpha": -1},
        {"generator": "fake", "reward": "fake", "n_candidates": 0},
        {"generator": "fake", "reward": "fake", "colour": "blue"},
        {"generator": {"backend": "fake", "options": {"fail": "unavailable"}}, "reward": "fake"},
        {"generator": "fake", "reward": {"backend": "fake", "options": {"fail": "bad_output"}}},
        {"generator": "fake", "reward": {"backend": "fake", "options": {"matrix": [[4.0]]}}},
        [1, 2],
        "{",
    ],
)
def test_bad_config_exits_with_one_line(tmp_path, config):
    assert_one_line_error(mediate(tmp_path, config=config))


def test_unreadable_files_exit_with_one_line(tmp_path):
    missing = str(tmp_path / "missing.json")
    assert_one_line_error(cli("mediate", "--input", missing))
    round_file = write(tmp_path, "round.json", ROUND)
    assert_one_line_error(cli("mediate", "--input", round_file, "--config", missing))
    assert_one_line_error(cli("mediate", "--input", str(tmp_path)))  # a directory
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert_one_line_error(cli("mediate", "--input", str(binary)))


def test_model_server_that_does_not_answer_exits_with_one_line(tmp_path):
    # Nothing listens on the discard port of the loopback interface: the connection is refused.
    config = {
        "generator": {
            "backend": "vllm",
            "url": "http://127.0.0.1:9/v1",
            "model": "nobody",
            "options": {"timeout": 2, "retries": 0},
        },
        "reward": "fake",
        "n_candidates": 2,
    }
    line = assert_one_line_error(mediate(tmp_path, config=config))
    assert "BackendUnavailable" in line
