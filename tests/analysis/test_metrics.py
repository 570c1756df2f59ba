"""Every figure of the report against the hand-built deliberation of conftest.py, computed by
hand in the comments (people only unless a test says otherwise)."""

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis.critique import bow_cosine
from analysis.definitions import DEFINITIONS
from analysis.report import report, report_text

from .conftest import D, tiny


def by(rows, **match):
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


@pytest.fixture
def result(tables):
    return report(tables, resamples=200, seed=0, min_groups=1)


def test_condition_summary_by_hand(result):
    baseline = by(result["conditions"], name="baseline")
    assert baseline["groups"] == 2
    assert baseline["participants"] == {"people": 5, "bots": 1}
    w = baseline["winner"]
    # winners: s1000 [6, 5, 2], s1010 [7, 4, 4], s1100 [3, 4]
    assert w["statements"] == 3 and w["ratings"] == 8
    assert w["mean_agreement"] == pytest.approx((13 / 3 + 5 + 3.5) / 3, abs=1e-4)
    assert w["min_agreement"] == pytest.approx((2 + 4 + 3) / 3, abs=1e-4)
    assert w["mean_quality"] == pytest.approx((16 / 3 + 5 + 3.5) / 3, abs=1e-4)
    geometric = (60 ** (1 / 3) + 112 ** (1 / 3) + 12**0.5) / 3
    assert w["ede"] == {
        "0": pytest.approx(w["mean_agreement"]),
        "1": pytest.approx(geometric, abs=1e-4),
        "inf": pytest.approx(3.0),
    }
    # divisiveness: s1000 (1 + 4 + 3) / 3, s1010 (3 + 3 + 0) / 3, s1100 1
    assert w["divisiveness"] == pytest.approx((8 / 3 + 2 + 1) / 3, abs=1e-4)
    assert [i["iteration_index"] for i in w["by_iteration"]] == [0, 1]
    assert w["by_iteration"][1]["mean_agreement"] == 5.0
    exclusion = by(result["conditions"], name="exclusion")
    assert exclusion["participants"] == {"people": 3, "bots": 0}
    assert exclusion["exclusion"] is True


def test_win_rate_ties_half_pooled_over_members(result):
    row = by(result["win_rates"], condition="baseline", a="candidate", b="baseline")
    # g10: 6>4 (1), 5=5 (0.5), 2<3 (0); g11: 3<6 (0), 4=4 (0.5) -> 2 / 5
    assert row["rate"] == 0.4
    assert (row["comparisons"], row["groups"], row["iteration_index"]) == (5, 2, 0)
    assert not [r for r in result["win_rates"] if r["condition"] == "exclusion"]


def test_revision_uses_final_ranking_then_agreement(result):
    row = by(result["win_rates"], a="revision", b="previous_winner")
    # p1 ranked the revision first (1), p2 tied them (0.5), p3 has no final ranking: 4 > 2 (1)
    assert row["rate"] == pytest.approx(2.5 / 3, abs=1e-4)
    assert row["basis"] == {"final_ranking": 2, "agreement": 1}
    assert row["iteration_index"] == 1


def test_exclusion_effect(result):
    (row,) = result["exclusion"]
    # p8 excluded: 2; p6, p7 included: 5, 6
    assert (row["excluded_mean"], row["included_mean"], row["difference"]) == (2.0, 5.5, -3.5)
    assert (row["excluded_ratings"], row["included_ratings"], row["groups"]) == (1, 2, 1)


def test_positions(result):
    row = by(result["positions"], condition="baseline")
    # paired: p1 6->5, p2 5->5, p3 2->3, p4 3->4 (p5 gave no after rating)
    assert (row["members"], row["groups"], row["group_rounds"]) == (4, 2, 1)
    assert (row["before"], row["after"], row["change"]) == (4.0, 4.25, 0.25)
    # round 10 spread before [6, 5, 2]: 8/3; after [5, 5, 3]: 4/3; round 11 has one pair only
    assert row["spread_before"] == pytest.approx(8 / 3, abs=1e-4)
    assert row["spread_after"] == pytest.approx(4 / 3, abs=1e-4)
    assert row["spread_change"] == pytest.approx(-4 / 3, abs=1e-4)
    other = by(result["positions"], condition="exclusion")
    assert other["spread_before"] == pytest.approx(10 / 3, abs=1e-4)
    assert other["change"] == pytest.approx(1 / 3, abs=1e-4)


def test_bow_cosine():
    got = bow_cosine(
        ["protect the river", "parks are too expensive", "", "a a"],
        ["we should protect the river now", "we should build more parks", "x", "a"],
    )
    assert got == pytest.approx([3 / math.sqrt(3 * 6), 1 / math.sqrt(4 * 5), 0.0, 1.0])


def test_critique_uptake_split_by_minority(result):
    rows = result["critique_uptake"]
    # p1 (majority: 6 > 4 like p2) asked for "protect the river": the revision took it up,
    # similarity 0 -> 3 / sqrt(3 * 9). p3 (minority, 2) "parks are too expensive": similarity
    # 1 / sqrt(4 * 5) -> 1 / sqrt(4 * 9), not taken up.
    gain_1 = 3 / math.sqrt(27)
    gain_3 = 1 / 6 - 1 / math.sqrt(20)
    assert by(rows, side="all")["uptake"] == 0.5
    assert by(rows, side="all")["mean_gain"] == pytest.approx((gain_1 + gain_3) / 2, abs=1e-4)
    assert by(rows, side="majority")["uptake"] == 1.0
    assert by(rows, side="minority")["uptake"] == 0.0
    assert by(rows, side="minority")["mean_gain"] == pytest.approx(gain_3, abs=1e-4)


def test_critique_uptake_takes_another_similarity(tables):
    def never_closer(a, b):
        return np.zeros(len(a))

    rows = report(tables, resamples=10, similarity=never_closer)["critique_uptake"]
    assert by(rows, side="all")["uptake"] == 0.5  # equal similarity counts half


def test_calibration(result):
    cal = result["calibration"]
    assert cal["model_versions"] == [7]
    (row,) = cal["rows"]
    assert (row["condition"], row["split"], row["pairs"], row["groups"]) == (
        "baseline", "iid_test", 10, 2)  # fmt: skip
    assert row["mae"] == 0.7  # errors .5 0 1 .5 .5 1.5 1.5 .5 1 0
    # g10: rho = 15.5 / sqrt(17.5 * 17); g11: 1.5 / sqrt(5 * 4.5); median of the two
    rhos = [15.5 / math.sqrt(17.5 * 17), 1.5 / math.sqrt(22.5)]
    assert row["spearman_median"] == pytest.approx(np.median(rhos), abs=1e-4)
    # only p4's two ratings in iteration 110 differ (6 > 3), and 5.0 > 4.5 agrees
    assert (row["pairwise_accuracy"], row["pairwise_pairs"]) == (1.0, 1)
    bins = {b["low"]: b for b in row["bins"]}
    assert bins[1]["pairs"] == 0 and bins[1]["mean_predicted"] is None
    assert (bins[4]["pairs"], bins[4]["mean_predicted"], bins[4]["mean_observed"]) == (
        3, 4.3333, 3.6667)  # fmt: skip
    assert (bins[6]["mean_predicted"], bins[6]["mean_observed"]) == (6.5, 7.0)


def test_bots_only_when_asked(tables):
    people = report(tables, resamples=10, min_groups=1)
    everyone = report(tables, resamples=10, min_groups=1, include_bots=True)
    assert people["population"] == {
        "include_bots": False, "provenance": ["human_citizen"], "people": 8, "bots": 1,
        "note": "1 bot left out of every figure (include_bots / --include-bots counts them)",
    }  # fmt: skip
    assert "people (8) and bots (1) together" in everyone["population"]["note"]
    assert everyone["population"]["provenance"] == ["human_citizen", "bot_citizen"]
    # b1 rated the winner 7 and the baseline 1: one more win
    assert by(everyone["win_rates"], a="candidate")["rate"] == 0.5
    assert by(everyone["win_rates"], a="candidate")["comparisons"] == 6
    assert by(people["win_rates"], a="candidate")["comparisons"] == 5
    # counts stay apart either way
    assert by(everyone["conditions"], name="baseline")["participants"] == {"people": 5, "bots": 1}


def test_too_few_groups_gives_no_interval_and_says_why(tables):
    result = report(tables, resamples=50)
    row = by(result["win_rates"], a="candidate")
    assert row["ci"] is None
    assert "2 groups" in row["note"] and "5" in row["note"]
    assert result["exclusion"][0]["ci"] is None and result["exclusion"][0]["note"]
    assert by(result["positions"], condition="baseline")["change_ci"] is None


def test_conditions_are_never_pooled(tables):
    # the same ratings moved to the other condition drop out of the first
    tables["groups"].loc[tables["groups"]["group_id"] == 11, "condition_id"] = 2
    result = report(tables, resamples=10, min_groups=1)
    assert by(result["win_rates"], condition="baseline", a="candidate")["comparisons"] == 3
    assert by(result["win_rates"], condition="exclusion", a="candidate")["comparisons"] == 2


def test_report_is_json_and_deterministic(tables):
    first = report(tables, resamples=300, seed=5, min_groups=1)
    again = report(tiny(), resamples=300, seed=5, min_groups=1)
    assert json.dumps(first, sort_keys=True) == json.dumps(again, sort_keys=True)
    assert set(first) == {"deliberation", "population", "settings", "conditions", "win_rates",
                          "exclusion", "positions", "critique_uptake", "calibration",
                          "definitions"}  # fmt: skip
    assert first["definitions"] == DEFINITIONS
    assert first["deliberation"] == {"id": D, "title": "Tiny"}
    text = report_text(first)
    assert "candidate over baseline 0.40" in text and "divisiveness (ours)" in text


def test_one_deliberation_at_a_time(tables):
    tables["deliberations"] = pd.concat(
        [tables["deliberations"], pd.DataFrame([{"deliberation_id": "d-2", "title": "Other"}])]
    )
    with pytest.raises(ValueError, match="2 deliberations"):
        report(tables)
    assert report(tables, deliberation="d-2", resamples=5)["conditions"] == []
    with pytest.raises(ValueError, match="not in the tables"):
        report(tables, deliberation="d-3")
    with pytest.raises(ValueError, match="resamples"):
        report(tables, deliberation=D, resamples=0)


def test_empty_tables_give_empty_sections():
    result = report({"deliberations": pd.DataFrame([{"deliberation_id": D, "title": "T"}])})
    assert result["conditions"] == [] and result["win_rates"] == []
    assert result["calibration"]["note"]


def test_analysis_imports_no_django():
    code = (
        "import sys, analysis.report, analysis.tidy; "
        "bad = [m for m in sys.modules if m == 'django' or m.startswith('deliberation')]; "
        "sys.exit(1 if bad else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
