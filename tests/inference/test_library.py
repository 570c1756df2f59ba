"""`inference` used as a library: the public names at the top of the package, a round's text
checked once, and no process environment changed by building or using a backend."""

import os
import subprocess
import sys

import numpy as np
import pytest

import inference
from inference import (
    BackendConfig,
    MediationConfig,
    RoundText,
    build_generator,
    build_reward_model,
    mediate,
    schulze,
    welfare,
)
from tests.conftest import REPO_ROOT

OPINIONS = [
    "Towns should close their centres to cars on Saturdays; the air would be cleaner.",
    "No: shops in the centre would lose the customers who come by car.",
    "Only with good buses first, or older people cannot get to the market.",
]


def test_a_mediation_with_only_the_top_level_names():
    config = MediationConfig(
        generator=BackendConfig("fake"), reward=BackendConfig("fake"), n_candidates=4
    )
    result = mediate(
        RoundText(
            question="Should towns close their centres to cars on Saturdays?", opinions=OPINIONS
        ),
        generator=build_generator(config.generator),
        reward_model=build_reward_model(config.reward),
        n_candidates=config.n_candidates,
    )
    assert len(result.candidates) == 4 and 0 <= result.winner < 4
    assert result.predictions.shape == (3, 4)
    np.testing.assert_allclose(result.scores, welfare(result.predictions, 1.0))
    tied, _ = schulze(np.array([[0, 1], [0, 1], [1, 0]]))
    assert tied.tolist() == [0, 1]


def test_every_public_name_is_listed_and_documented():
    for name in inference.__all__:
        assert getattr(inference, name).__doc__, name


def test_a_round_text_is_checked_once_when_made():
    text = RoundText(
        question="Q?",
        opinions=["a", "b"],
        previous_winner="W.",
        critiques=["c", ""],
        affirming_statement="  ",
        negating_statement="Not so.",
        position_ratings=[7, None],
    )
    assert text.opinions == ("a", "b") and text.critiques == ("c", "")
    assert text.is_critique and text.critique(1) == ""
    assert text.affirming_statement is None and text.negating_statement == "Not so."
    assert text.position_ratings == (7.0, None)
    second = text.members([1])
    assert second.opinions == ("b",) and second.critiques == ("",)
    assert second.position_ratings == (None,) and second.previous_winner == "W."
    for bad in (
        {"question": " ", "opinions": ["a"]},
        {"question": None, "opinions": ["a"]},
        {"question": "Q?", "opinions": []},
        {"question": "Q?", "opinions": "one opinion, not a list"},
        {"question": "Q?", "opinions": ["a", "  "]},
        {"question": "Q?", "opinions": ["a"], "previous_winner": 3},
        {"question": "Q?", "opinions": ["a"], "critiques": ["c"]},
        {"question": "Q?", "opinions": ["a", "b"], "previous_winner": "W.", "critiques": ["c"]},
        {"question": "Q?", "opinions": ["a"], "previous_winner": "W.", "critiques": [None]},
        {"question": "Q?", "opinions": ["a"], "affirming_statement": 1},
        {"question": "Q?", "opinions": ["a"], "position_ratings": [0]},
        {"question": "Q?", "opinions": ["a"], "position_ratings": [True]},
        {"question": "Q?", "opinions": ["a"], "position_ratings": [4, 4]},
    ):
        with pytest.raises(ValueError):
            RoundText(**bad)


@pytest.mark.slow
def test_building_and_using_the_embedded_backends_leaves_the_environment_alone():
    """The library passes `local_files_only` to the model loaders instead of setting
    HF_HUB_OFFLINE (or anything else) in the caller's process."""
    code = (
        "import os\n"
        "import sentence_transformers, torch, transformers  # what they set is theirs\n"
        "before = dict(os.environ)\n"
        "from inference import MediationConfig, build_generator, build_reward_model, mediate\n"
        "config = MediationConfig()\n"
        "from inference import RoundText\n"
        "mediate(RoundText(question='Q?', opinions=['Yes, because of the air.', 'No, the shops.']),\n"
        "        generator=build_generator(config.generator),\n"
        "        reward_model=build_reward_model(config.reward), n_candidates=2)\n"
        "changed = {k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)}\n"
        "assert not changed, changed\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, check=True)
