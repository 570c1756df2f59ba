"""`manage.py report` on the database and on a downloaded export, and planted effects: small
simulated studies whose truth is known (`simulate --bot-bias`, `--exclusion-penalty`) are
recovered by the report, and a study without an effect does not get one invented."""

import io
import json
import random

import pytest
from django.core.management import CommandError, call_command

from deliberation.errors import DomainError
from deliberation.exports import export_write
from deliberation.models import Deliberation, Statement
from deliberation.services.bots import bot_behaviour_set, bot_rating, bot_shift

pytestmark = pytest.mark.timeout(600)


def _simulate(*args: str) -> str:
    out = io.StringIO()
    call_command("simulate", *args, "--json", "--question-source", "built-in", stdout=out)
    return json.loads(out.getvalue())["deliberation"]


def _report(*args: str) -> dict:
    out = io.StringIO()
    call_command("report", *args, "--json", stdout=out)
    return json.loads(out.getvalue())  # the whole of stdout is one JSON object


def _row(rows, **match):
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_report_on_the_database_and_on_its_export_agree(transactional_db, fake_model_servers,
                                                         tmp_path):  # fmt: skip
    public_id = _simulate(
        "--groups", "3", "--size", "3", "--iterations", "2",
        "--conditions", "baseline,exclusion,best_opinion", "--seed", "3",
    )  # fmt: skip
    on_db = _report("--deliberation", public_id, "--include-bots", "--resamples", "300")
    deliberation = Deliberation.objects.get(public_id=public_id)
    export_write(schema="tidy", fmt="csv", out=tmp_path / "study.zip",
                 deliberations=[deliberation], include_bots=True)  # fmt: skip
    on_export = _report(
        "--export", str(tmp_path / "study.zip"), "--include-bots", "--resamples", "300"
    )
    assert on_export == on_db

    # every section has something, for the right conditions
    assert [c["name"] for c in on_db["conditions"]] == ["baseline", "exclusion", "best_opinion"]
    assert all(c["participants"] == {"people": 0, "bots": 3} for c in on_db["conditions"])
    pairs = {(r["condition"], r["a"], r["b"]) for r in on_db["win_rates"]}
    assert ("baseline", "candidate", "baseline") in pairs
    assert ("best_opinion", "candidate", "best_opinion") in pairs
    assert ("exclusion", "revision", "previous_winner") in pairs
    assert [r["condition"] for r in on_db["exclusion"]] == ["exclusion", "exclusion"]
    assert len(on_db["positions"]) == 3 and on_db["critique_uptake"]
    assert on_db["calibration"]["rows"]
    # one group per condition: no interval, and the report says why
    assert all(r["ci"] is None and "1 group" in r["note"] for r in on_db["win_rates"])

    # people only (the default): the bots are counted but in no figure
    people = _report("--deliberation", public_id, "--resamples", "10")
    assert people["win_rates"] == [] and people["exclusion"] == []
    assert people["conditions"][0]["participants"] == {"people": 0, "bots": 3}


def test_report_summary_and_refusals(transactional_db, fake_model_servers):
    public_id = _simulate("--groups", "1", "--size", "3", "--conditions", "baseline")
    out = io.StringIO()
    call_command("report", "--deliberation", public_id, "--include-bots", stdout=out)
    assert "candidate over baseline" in out.getvalue()
    assert "people and bots" in out.getvalue()
    for args, message in (
        (["--deliberation", "not-a-uuid"], "not a deliberation id"),
        (["--deliberation", "6b0f2c0e-8f5e-4a39-9d53-5a2b1b0c0c0c"], "no deliberation"),
        ([], "Name the deliberation"),
        (["--deliberation", public_id, "--resamples", "0"], "--resamples"),
        (["--export", "/nonexistent/export.zip"], "Cannot report"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("report", *args, stdout=io.StringIO())


def test_bots_shift_ratings_by_the_planted_effect(db):
    """The planted shift moves the same word-sharing rule: same noise, DELTA points apart."""
    plain = [bot_rating("parks and rivers", "parks", random.Random(i))[0] for i in range(200)]
    lower = [bot_rating("parks and rivers", "parks", random.Random(i), -2.0)[0] for i in range(200)]
    assert all(low <= p for low, p in zip(lower, plain, strict=True))
    assert sum(plain) / 200 - sum(lower) / 200 > 1.5
    behaviour = {"bias": {"baseline": -1.5}, "exclusion_penalty": 2.0}
    winner = Statement(role="candidate", is_winner=True)
    assert bot_shift(behaviour, Statement(role="baseline"), excluded=False) == -1.5
    assert bot_shift(behaviour, winner, excluded=False) == 0.0
    assert bot_shift(behaviour, winner, excluded=True) == -2.0


@pytest.mark.parametrize(
    "bias, penalty, message",
    [({"mediator": 1.0}, 0.0, "Unknown statement role"), ({"baseline": 9.0}, 0.0, "from -6"),
     ({}, float("nan"), "must be a number")],
)  # fmt: skip
def test_planted_effects_are_checked(db, bias, penalty, message):
    with pytest.raises(DomainError, match=message):
        bot_behaviour_set(deliberation=Deliberation(), bias=bias, exclusion_penalty=penalty)
    with pytest.raises(CommandError, match="ROLE=DELTA"):
        call_command("simulate", "--bot-bias", "baseline", stdout=io.StringIO())


PLACEBO = ["--size", "3", "--conditions", "placebo"]


def _placebo_win_rate(*extra: str) -> dict:
    public_id = _simulate(*PLACEBO, *extra)
    result = _report("--deliberation", public_id, "--include-bots", "--resamples", "1000")
    return _row(result["win_rates"], a="candidate", b="baseline")


def test_planted_baseline_bias_is_recovered(transactional_db, fake_model_servers):
    """Bots rate the baseline 1.5 points lower: the winner's win rate over it is above 50%,
    and the interval says so."""
    row = _placebo_win_rate("--groups", "6", "--bot-bias", "baseline=-1.5", "--seed", "1")
    assert row["groups"] == 6 and row["comparisons"] == 18
    assert row["ci"][0] > 0.5, row


def test_no_effect_is_not_invented_in_most_seeds(transactional_db, fake_model_servers):
    """The placebo condition: winner and baseline are both one sample of the same generator.
    With 5 groups a 95% percentile interval over groups misses 0.5 about 12% of the time
    (measured on synthetic exchangeable ratings), so 3 of 5 studies missing it happens about
    1.5% of the time: a failure here means the report invents an effect."""
    rows = [_placebo_win_rate("--groups", "5", "--seed", str(seed)) for seed in range(1, 6)]
    contains = [r["ci"][0] <= 0.5 <= r["ci"][1] for r in rows]
    assert sum(contains) >= 3, rows


def test_planted_exclusion_penalty_is_recovered(transactional_db, fake_model_servers):
    """Excluded bots rate the winner 3 points higher (a negative penalty, so that the 1-7 scale
    does not clip it): the generator's own effect goes the other way (the winner never quotes an
    excluded member), so only the planted effect can make the difference positive."""
    public_id = _simulate(
        "--groups", "5", "--size", "3", "--conditions", "exclusion", "--seed", "4",
        "--exclusion-penalty", "-3",
    )  # fmt: skip
    result = _report("--deliberation", public_id, "--include-bots", "--resamples", "1000")
    planted = _row(result["exclusion"], iteration_index=0)
    assert planted["groups"] == 5 and planted["excluded_ratings"] == 5
    assert planted["ci"][0] > 0, planted
