"""The extractive generator: group voice on real questions of the Habermas Machine bank (read at
run time, CC-BY 4.0, never copied into the project), property tests of the voice rules on random
opinions, and critique uptake on hand-written cases."""

import json
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.base import ConfigError, Generator, RoundText
from inference.config import BackendConfig, build_generator
from inference.evaluation.embedded import both_sides_asserted, first_person_verbatim
from inference.generators.extractive import ExtractiveGenerator, from_config
from inference.generators.sentences import split_sentences

QUESTION = "Should schools move to a four-day week?"
AFFIRMING = "Schools should move to a four-day week."
NEGATING = "Schools should NOT move to a four-day week."
POSITIONS = {"affirming_statement": AFFIRMING, "negating_statement": NEGATING}
# The group, as a new participant would have met it.
SPLIT = [
    "Honestly I would welcome a four-day week. My kids already find long days exhausting.",
    "I am fairly sure that schools should keep a five-day week. I also work shifts, so a fifth "
    "day off means paying for childcare I can't afford.",
    "Schools should move to a four-day week. Teachers are leaving the profession and this would "
    "help keep them.",
    "I'm against it. Children from poorer families lose meals and a safe place when school is "
    "closed, and I worry about them.",
]
AGREEING = [
    "Schools should move to a four-day week. Teachers are exhausted and leaving.",
    "Yes, I support it. My daughter would finally have time for music lessons.",
    "A four-day week is a good idea because longer weekends help families spend time together.",
]


def generate(opinions, n=16, seed=0, **extra):
    round_text = RoundText(question=QUESTION, opinions=opinions, **POSITIONS, **extra)
    return ExtractiveGenerator().generate(round_text, n=n, seed=seed)


def test_a_split_group_says_so_reports_each_member_and_asserts_no_side_as_everyones():
    candidates = generate(SPLIT)
    for candidate in candidates:
        text = candidate.text
        opening = split_sentences(text)[0]
        assert re.search(r"\b(?:of us|others)\b", opening), opening
        assert "four-day week" in opening and ("not" in opening or "disagree" in opening)
        assert not first_person_verbatim(text, SPLIT)
        assert not both_sides_asserted(text, QUESTION, AFFIRMING, NEGATING)
        # Every member's main point: the opening counts their side; each gave a reason.
        assert candidate.provenance["members_represented"] == [0, 1, 2, 3]
        assert candidate.provenance["sides"] == [1, -1, 1, -1]
    # The member's "I work shifts ... I can't afford" is reported, not spoken by the group.
    shifts = [c.text for c in candidates if "shifts" in c.text]
    assert shifts and all("they can't afford" in t for t in shifts)


def test_a_split_group_names_what_both_sides_share():
    opinions = [
        "Schools should move to a four-day week. Whatever we decide, children who rely on school "
        "meals must still get fed.",
        "Schools should not move to a four-day week. Whatever we decide, children who rely on "
        "school meals must still be fed.",
        "I support a four-day week. Teachers need rest.",
    ]
    texts = [c.text for c in generate(opinions)]
    shared = [t for t in texts if re.search(r"We (?:all )?agree that", t)]
    assert len(shared) == len(texts)
    assert all("school meals" in t.split("agree that", 1)[1] for t in shared)


def test_an_agreeing_group_speaks_as_one_and_reports_personal_reasons():
    for candidate in generate(AGREEING, n=8):
        text = candidate.text
        assert text.startswith(("We all think that", "All of us think that"))
        assert "while" not in split_sentences(text)[0]
        assert not first_person_verbatim(text, AGREEING)
        assert "My daughter" not in text
        if "music lessons" in text:
            assert "their daughter" in text


def test_candidates_vary_by_seed_and_the_same_seed_repeats():
    first = [c.text for c in generate(SPLIT, seed=5)]
    again = [c.text for c in generate(SPLIT, seed=5)]
    other = [c.text for c in generate(SPLIT, seed=6)]
    assert first == again
    assert first != other
    assert len(set(first)) >= 8  # a real choice for the reward model and the aggregation


def test_sample_i_does_not_depend_on_n():
    assert generate(SPLIT, n=3, seed=2)[2].text == generate(SPLIT, n=9, seed=2)[2].text


def test_without_position_statements_the_question_stands_in():
    round_text = RoundText(question=QUESTION, opinions=SPLIT)
    [candidate] = ExtractiveGenerator().generate(round_text, n=1, seed=0)
    assert f'"{QUESTION}"' in candidate.text
    assert not first_person_verbatim(candidate.text, SPLIT)


def test_untidy_and_one_word_opinions_are_handled():
    opinions = ["No", "  yes!!  ", "not sure", "i think schools should move to a four day week"]
    for candidate in generate(opinions, n=4):
        assert candidate.text.strip()
        assert not first_person_verbatim(candidate.text, opinions)
    [single] = generate(["I'm not sure."], n=1)
    assert single.text


def test_provenance_is_complete_and_json():
    [candidate] = generate(SPLIT, n=1, seed=2)
    prov = candidate.provenance
    assert prov["backend"] == "extractive"
    assert prov["model"] == "extractive-voice-v2"
    assert prov["template_version"] == "extractive-v2"
    assert "no language model" in prov["method"]
    assert sorted(prov["opinion_order"]) == list(range(len(SPLIT)))
    assert " ".join(part["text"] for part in prov["sentences"]) == candidate.text
    for part in prov["sentences"]:
        assert part["source"] in {"template", "opinion"}
        if part["source"] == "opinion":
            for original in np.atleast_1d(part["original"]):
                assert any(original in opinion for opinion in SPLIT)
    json.dumps(candidate.to_dict())


def test_registry_describe_and_config():
    generator = build_generator(BackendConfig("extractive"))
    assert isinstance(generator, ExtractiveGenerator)
    assert isinstance(generator, Generator)
    assert "Not a language model" in generator.describe()["description"]
    assert from_config(BackendConfig("extractive", options={"max_sentences": 5})).max_sentences == 5
    with pytest.raises(ConfigError):
        from_config(BackendConfig("extractive", options={"max_sentences": 2}))
    with pytest.raises(ConfigError):
        from_config(BackendConfig("extractive", options={"framng": "always"}))
    # Options of the old version and common ones set for every backend are accepted.
    from_config(BackendConfig("extractive", options={"framing": "always", "timeout": 30.0}))


# -- the voice rules on random opinions ----------------------------------------------------------

STANCES = {
    1: [
        "Schools should move to a four-day week.",
        "I support a four-day week.",
        "Yes, I'm in favour of it.",
        "I think schools should move to a four-day week.",
    ],
    -1: [
        "Schools should not move to a four-day week.",
        "I'm against a four-day week.",
        "No. Schools shouldn't change the week.",
        "I don't think a four-day week is a good idea.",
    ],
    0: ["I'm not sure about this.", "I can see both sides."],
}
REASONS = [
    "My kids are exhausted by the end of the week.",
    "I work shifts and I can't pay for another day of childcare.",
    "Teachers I know are burning out and leaving.",
    "My son needs the routine, and I worry about him on a long weekend.",
    "Poorer children lose a hot meal when the school is closed.",
    "I would use the extra day to take my mum to her appointments.",
    "Exam results in my school have been falling for years.",
    "We tried it at my old school and nobody missed the fifth day.",
]
member = st.tuples(
    st.sampled_from([1, -1, 0]),
    st.integers(0, 3),
    st.lists(st.sampled_from(REASONS), min_size=0, max_size=2, unique=True),
    st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(member, min_size=2, max_size=5), st.integers(0, 10_000))
def test_voice_rules_hold_on_random_opinions(members, seed):
    opinions = []
    for side, k, reasons, stance_first in members:
        stance = STANCES[side][k % len(STANCES[side])]
        parts = [stance, *reasons] if stance_first else [*reasons, stance]
        opinions.append(" ".join(parts))
    candidates = generate(opinions, n=4, seed=seed)
    for candidate in candidates:
        text = candidate.text
        assert not first_person_verbatim(text, opinions), (text, opinions)
        assert not both_sides_asserted(text, QUESTION, AFFIRMING, NEGATING), text
        # Every member is counted in the opening, and every reason-giver is reported.
        represented = set(candidate.provenance["members_represented"])
        assert represented == set(range(len(opinions)))
        sides = candidate.provenance["sides"]
        if 1 in sides and -1 in sides:
            assert re.search(r"of us|others", split_sentences(text)[0])


# -- critiques taken up ----------------------------------------------------------------------------

WINNER = (
    "Most of us think that schools should move to a four-day week, while one of us disagrees. "
    "One of us in favour points out that their kids already find long days exhausting. "
    "Another of us in favour says that teachers are leaving the profession and this would help "
    "keep them. "
    "One of us against it notes that they work shifts, so a fifth day off means paying for "
    "childcare they can't afford. "
    "One of us in favour adds that the buses are empty on Fridays anyway."
)
CRITIC_OPINIONS = [
    "Honestly I would welcome a four-day week. My kids already find long days exhausting. Also "
    "the buses are empty on Fridays anyway.",
    "I am fairly sure that schools should keep a five-day week. I also work shifts, so a fifth "
    "day off means paying for childcare I can't afford. Children who rely on free school meals "
    "would go hungry on the extra day.",
    "Schools should move to a four-day week. Teachers are leaving the profession and this would "
    "help keep them.",
]


def revise(critiques, n=8, seed=0, opinions=CRITIC_OPINIONS):
    return generate(opinions, n=n, seed=seed, previous_winner=WINNER, critiques=critiques)


def kept_sentences(candidate):
    return [
        s["text"] for s in candidate.provenance["sentences"] if s["source"] == "previous_winner"
    ]


def test_approval_keeps_the_statement_as_it_is():
    for candidate in revise(["I agree.", "Fine as it is.", "Good."]):
        assert candidate.text == WINNER


def test_a_missing_concern_is_added_from_the_critics_own_words():
    critiques = ["Fine.", "It leaves out the children who rely on free school meals.", "Good."]
    for candidate in revise(critiques):
        assert "free school meals would go hungry" in candidate.text
        assert kept_sentences(candidate) == split_sentences(WINNER)  # nothing else lost
        added = [s for s in candidate.provenance["sentences"] if s.get("answers_critique") == 1]
        assert added and added[0]["source"] == "opinion"
        assert candidate.provenance["critiques_taken_up"][1] == "missing"
        assert "leaves out" not in candidate.text  # the critique itself is not pasted in


def test_a_missing_concern_nobody_wrote_comes_from_the_critique():
    critiques = ["It doesn't mention the cost to bus companies of changing timetables.", "", ""]
    for candidate in revise(critiques):
        assert "the cost to bus companies of changing timetables" in candidate.text
        assert candidate.text.startswith(split_sentences(WINNER)[0])


def test_an_objection_drops_or_qualifies_the_quoted_part_and_keeps_the_rest():
    """Member 0's point is carried twice (long days, empty buses), so the quoted one may go."""
    critiques = [
        "Good.",
        "Fine.",
        'I don\'t agree that "their kids already find long days exhausting" belongs here.',
    ]
    target = split_sentences(WINNER)[1]
    outcomes = set()
    for candidate in revise(critiques, n=16):
        others = [s for s in split_sentences(WINNER) if s != target]
        assert all(s in candidate.text for s in others)
        if target in candidate.text:
            raise AssertionError("the objected sentence is unchanged")
        if "long days exhausting" in candidate.text:
            outcomes.add("qualified")
            assert re.search(r"though others doubt it|not all of us accept", candidate.text)
        else:
            outcomes.add("dropped")
    assert outcomes == {"qualified", "dropped"}  # the seed decides; both happen


def test_a_members_only_point_is_qualified_never_dropped():
    critiques = ["That is not true about childcare, remove it.", "Fine.", "Fine."]
    target = split_sentences(WINNER)[3]
    for candidate in revise(critiques, n=16):
        assert "childcare they can't afford" in candidate.text  # member 1's only reason stays
        assert target not in candidate.text
        assert re.search(r"though others doubt it|not all of us accept", candidate.text)


def test_the_revision_never_drops_the_opening():
    critiques = ["This is wrong, most of us are not in favour.", "Remove all of it.", "Wrong."]
    for candidate in revise(critiques, n=8):
        assert candidate.text.startswith(split_sentences(WINNER)[0])
