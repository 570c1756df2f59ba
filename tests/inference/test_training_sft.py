"""The SFT export keeps statements whose mean quality is above the threshold, by the population
asked for, and writes them with the generator's own prompt templates."""

import json

import pandas as pd
import pytest

from inference.prompts.statements import opinion_prompt
from inference.training.datasets import DatasetError
from inference.training.sft import sft_records, write_sft_jsonl
from tests.inference.tidy_builder import TOPICS, build_tables


@pytest.fixture(scope="module")
def tables():
    return build_tables(questions=TOPICS[:3], members=3, candidates=3, seed=5)


def test_only_statements_rated_above_the_threshold_are_kept(tables):
    means = tables["ratings"].groupby("statement_id")["quality"].mean()
    for threshold in (3.0, 5.0, 6.0):
        kept = {r["metadata"]["statement_id"]
                for r in sft_records(tables, min_quality=threshold, population="bots")}  # fmt: skip
        assert kept == {int(s) for s, m in means.items() if m > threshold}
    assert {int(s) for s, m in means.items() if m == 5.0} - {
        r["metadata"]["statement_id"] for r in sft_records(tables, population="bots")
    } == {int(s) for s, m in means.items() if m == 5.0}  # "above", not "at least"
    # People only by default: these ratings are all bots'.
    assert list(sft_records(tables, min_quality=1.0)) == []


def test_examples_use_the_generators_prompt_template(tables, tmp_path):
    record = next(iter(sft_records(tables, min_quality=1.0, population="bots")))
    statement_id = record["metadata"]["statement_id"]
    statement = tables["statements"].set_index("statement_id").loc[statement_id]
    iteration = tables["iterations"].set_index("iteration_id").loc[statement["iteration_id"]]
    round_ = tables["rounds"].set_index("round_id").loc[iteration["round_id"]]
    question = tables["questions"].set_index("question_id").loc[round_["question_id"], "text"]
    opinions = tables["opinions"][tables["opinions"]["iteration_id"] == statement["iteration_id"]]
    expected = opinion_prompt(question, list(opinions.sort_values("participant_id")["text"]))
    assert record["messages"][:2] == expected.messages()
    assert record["messages"][2] == {
        "role": "assistant",
        "content": f"<statement>{statement['text']}</statement>",
    }
    assert record["metadata"]["template_version"] == expected.version
    out = tmp_path / "sft.jsonl"
    count = write_sft_jsonl(sft_records(tables, min_quality=1.0, population="bots"), out)
    lines = out.read_text().splitlines()
    assert count == len(lines) == len(tables["statements"])
    assert json.loads(lines[0]) == record


def test_members_left_out_of_the_mediation_are_left_out_of_its_prompt(tables):
    first = tables["opinions"].iloc[0]
    round_id = int(tables["iterations"].set_index("iteration_id").loc[first["iteration_id"],
                                                                      "round_id"])  # fmt: skip
    excluded = dict(tables)
    excluded["round_exclusions"] = pd.DataFrame(
        {"round_id": [round_id], "participant_id": [first["participant_id"]]}
    )
    users = [r["messages"][1]["content"] for r in sft_records(excluded, min_quality=1.0,
                                                              population="bots")]  # fmt: skip
    assert not any(first["text"] in u for u in users)
    assert any(first["text"] in r["messages"][1]["content"]
               for r in sft_records(tables, min_quality=1.0, population="bots"))  # fmt: skip


def test_a_threshold_off_the_scale_is_refused(tables):
    with pytest.raises(DatasetError, match="between 1 and 7"):
        list(sft_records(tables, min_quality=9))
