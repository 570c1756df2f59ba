"""The extractive generator on questions in the question bank's format (the project's own
`sample_questions` of tests/conftest.py: several topics and splits, untidy text included)."""

import itertools
import json
import re

import numpy as np
import pytest

from inference.base import Candidate, ConfigError, Generator
from inference.config import BackendConfig, build_generator
from inference.generators.extractive import (
    CONNECTIVES,
    FRAMING,
    SHORT_OPINION,
    ExtractiveGenerator,
    from_config,
)
from inference.generators.sentences import split_sentences


@pytest.fixture(scope="module")
def questions(sample_questions):
    # A spread over all of them: every split, many topics.
    return sample_questions[:: max(1, len(sample_questions) // 24)][:24]


def lower_first(text):
    return text[:1].lower() + text[1:]


def group_opinions(entry, size=5, variant=0):
    """Opinions of a group on a bank question, written the way people write."""
    aff, neg = entry["affirming_statement"].strip(), entry["negating_statement"].strip()
    pool = [
        f"{aff}  It would help most people in the long run",
        f"I think that {lower_first(neg)} The costs would fall on ordinary families. "
        "We should look for other options first.",
        f"Honestly i am not sure about this. {aff.rstrip('.')} but only with strong safeguards",
        f"{neg} Nobody asked the people who would be affected.",
        "No",
        f"{aff} Young people especially would benefit.  Older people need support too.",
        f"It depends on the details. {neg}",
    ]
    start = variant % len(pool)
    return [pool[(start + k) % len(pool)] for k in range(size)]


def words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def is_slice(part, whole):
    n = len(part)
    return n > 0 and any(whole[k : k + n] == part for k in range(len(whole) - n + 1))


def assert_sentences_come_from_participants(candidate, question, opinions):
    refs = candidate.provenance["sentences"]
    assert 2 <= len(refs) <= 6
    assert " ".join(ref["text"] for ref in refs) == candidate.text
    for ref in refs:
        shown = ref["text"]
        if ref["source"] == "framing":
            assert shown == FRAMING.format(question=" ".join(question.split()))
            continue
        if "connective" in ref:
            connective = ref["connective"] + " "
            assert connective in CONNECTIVES
            shown = shown[len(connective) :]
        if ref.get("wrapper") == "short_opinion":
            prefix = SHORT_OPINION.split("{")[0]
            assert shown.startswith(prefix)
            shown = shown[len(prefix) :]
        source = opinions[ref["member"]]
        assert is_slice(words(shown), words(source)), (shown, source)
        assert ref["original"] in split_sentences(source) or ref.get("wrapper")


def test_candidates_are_two_to_six_participant_sentences(questions):
    generator = ExtractiveGenerator()
    for k, entry in enumerate(questions):
        opinions = group_opinions(entry, size=3 + k % 3, variant=k)
        candidates = generator.generate(question=entry["question"], opinions=opinions, n=16, seed=k)
        assert len(candidates) == 16
        for candidate in candidates:
            assert isinstance(candidate, Candidate)
            assert_sentences_come_from_participants(candidate, entry["question"], opinions)


def test_every_member_is_covered_across_the_candidates(questions):
    generator = ExtractiveGenerator()
    for k, entry in enumerate(questions):
        opinions = group_opinions(entry, size=5, variant=k)
        candidates = generator.generate(
            question=entry["question"], opinions=opinions, n=16, seed=100 + k
        )
        quoted = [set(c.provenance["members_quoted"]) for c in candidates]
        assert set().union(*quoted) == set(range(5))
        # Most candidates quote nearly everyone themselves.
        assert np.mean([len(q) for q in quoted]) >= 4


def test_same_seed_same_candidates_other_seed_others(questions):
    generator = ExtractiveGenerator()
    entry = questions[3]
    opinions = group_opinions(entry, variant=2)

    def run(seed):
        return [
            c.to_dict()
            for c in generator.generate(
                question=entry["question"], opinions=opinions, n=16, seed=seed
            )
        ]

    assert run(5) == run(5)
    assert run(5) != run(6)
    texts = [c["text"] for c in run(5)]
    assert len(set(texts)) >= 8


def test_sample_i_does_not_depend_on_n(questions):
    generator = ExtractiveGenerator()
    entry = questions[0]
    opinions = group_opinions(entry)
    few = generator.generate(question=entry["question"], opinions=opinions, n=3, seed=1)
    many = generator.generate(question=entry["question"], opinions=opinions, n=16, seed=1)
    assert [c.to_dict() for c in few] == [c.to_dict() for c in many[:3]]


def test_never_just_the_whole_opinions_stitched_together(questions):
    generator = ExtractiveGenerator()
    for k, entry in enumerate(questions[:8]):
        # One sentence each: selecting every sentence would otherwise be the opinions verbatim.
        opinions = [
            entry["affirming_statement"],
            entry["negating_statement"],
            "Only with safeguards for the people most affected.",
        ]
        stitched = {
            " ".join(" ".join(p.split()) for p in perm) for perm in itertools.permutations(opinions)
        }
        for candidate in generator.generate(
            question=entry["question"], opinions=opinions, n=16, seed=k
        ):
            assert candidate.text not in stitched
            assert_sentences_come_from_participants(candidate, entry["question"], opinions)


def test_untidy_text_is_handled(questions):
    entry = questions[1]
    opinions = [
        "yes",
        "No.",
        "i agree  with  this    mostly but    costs matter",
        "  - first point without a stop\n- second point on its own line\n",
        "This is fine... maybe?? Not sure!!  The U.S. tried it, e.g. in 2010 and it worked",
    ]
    generator = ExtractiveGenerator()
    candidates = generator.generate(question=entry["question"], opinions=opinions, n=16, seed=9)
    for candidate in candidates:
        assert "  " not in candidate.text
        assert candidate.text[0].isupper()
        assert candidate.text.rstrip('"')[-1] in ".!?"
        assert_sentences_come_from_participants(candidate, entry["question"], opinions)
    quoted = set().union(*(c.provenance["members_quoted"] for c in candidates))
    assert quoted == set(range(5))


def test_a_single_short_opinion_still_gives_two_sentences(questions):
    entry = questions[2]
    generator = ExtractiveGenerator(framing="never")
    [candidate] = generator.generate(question=entry["question"], opinions=["No"], n=1, seed=0)
    refs = candidate.provenance["sentences"]
    assert [ref["source"] for ref in refs] == ["framing", "opinion"]
    assert refs[1]["text"] == SHORT_OPINION.format(text="No.")


def test_split_sentences_is_robust():
    assert split_sentences("") == []
    assert split_sentences("   ") == []
    assert split_sentences("no full stop here") == ["no full stop here"]
    assert split_sentences("One.  Two!   Three?") == ["One.", "Two!", "Three?"]
    assert split_sentences("Costs rose 3.5 percent, e.g. in Spain. Then fell.") == [
        "Costs rose 3.5 percent, e.g. in Spain.",
        "Then fell.",
    ]
    assert split_sentences("a line\nwrapped here. New one") == ["a line wrapped here.", "New one"]
    assert split_sentences("- point one\n- point two") == ["point one", "point two"]


def test_critiques_steer_the_revision(questions):
    entry = questions[5]
    transit = "Buses and trains must become cheaper before anything else changes."
    marker = "trains must become cheaper"
    opinions = [
        f"{entry['affirming_statement']} It would make daily life easier for many families.",
        f"{entry['negating_statement']} The money is better spent on schools.",
        f"I have mixed feelings about it. {transit}",
        f"{entry['affirming_statement']} But the rules must be clear and fair.",
    ]
    generator = ExtractiveGenerator()
    first = generator.generate(question=entry["question"], opinions=opinions, n=16, seed=3)
    winner = next(c.text for c in first if marker not in c.text)
    critiques = [
        "Fine by me.",
        "Too one-sided.",
        "It leaves out that buses and trains must become cheaper first.",
        "Good.",
    ]

    def revise(with_critiques):
        return generator.generate(
            question=entry["question"],
            opinions=opinions,
            n=16,
            seed=3,
            previous_winner=winner,
            critiques=with_critiques,
        )

    revised = revise(critiques)
    unmoved = revise(["Fine."] * 4)
    share = np.mean([marker in c.text for c in revised])
    assert share > np.mean([marker in c.text for c in unmoved])
    assert share >= 0.75
    for candidate in revised:
        assert candidate.provenance["iteration"] == "critique"
        assert_sentences_come_from_revision(candidate, entry["question"], opinions, winner)
        # Critiques steer; they are not pasted in.
        assert not any(critique in candidate.text for critique in critiques[1:3])
        # Our own framing and connectives are not carried over twice.
        assert candidate.text.count("this is where we stand") <= 1
        assert sum(candidate.text.count(c.strip()) for c in CONNECTIVES) <= 1
    assert any(
        ref["source"] == "previous_winner" for c in revised for ref in c.provenance["sentences"]
    )


def assert_sentences_come_from_revision(candidate, question, opinions, winner):
    refs = candidate.provenance["sentences"]
    assert 2 <= len(refs) <= 6
    assert " ".join(ref["text"] for ref in refs) == candidate.text
    for ref in refs:
        assert ref["source"] in {"framing", "opinion", "previous_winner"}
        if ref["source"] == "framing":
            continue
        shown = ref["text"]
        if "connective" in ref:
            shown = shown[len(ref["connective"]) + 1 :]
        source = winner if ref["source"] == "previous_winner" else opinions[ref["member"]]
        assert is_slice(words(shown), words(source)), (shown, source)


def test_provenance_is_complete_and_json(questions):
    entry = questions[4]
    opinions = group_opinions(entry)
    [candidate] = ExtractiveGenerator().generate(
        question=entry["question"], opinions=opinions, n=1, seed=2
    )
    prov = candidate.provenance
    assert prov["backend"] == "extractive"
    assert prov["model"] == "extractive-coverage-v1"
    assert prov["template_version"] == "extractive-v1"
    assert "participants' opinions" in prov["method"]
    assert prov["sample_index"] == 0
    assert sorted(prov["opinion_order"]) == list(range(len(opinions)))
    assert isinstance(prov["seed"], int)
    assert len(prov["coverage"]) == len(opinions)
    json.dumps(candidate.to_dict())


def test_injected_embedding_is_used(questions):
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return np.array([[len(t) % 7 + 1.0, t.count("e") + 1.0, 1.0] for t in texts])

    entry = questions[6]
    opinions = group_opinions(entry, size=4)
    generator = ExtractiveGenerator(embed=embed)
    candidates = generator.generate(question=entry["question"], opinions=opinions, n=4, seed=0)
    assert len(calls) == 1
    assert generator.describe()["embedding"] == "injected"
    for candidate in candidates:
        assert_sentences_come_from_participants(candidate, entry["question"], opinions)
    # The injected vectors, not TF-IDF, decide which sentences are chosen.
    built_in = ExtractiveGenerator().generate(
        question=entry["question"], opinions=opinions, n=4, seed=0
    )
    assert [c.text for c in candidates] != [c.text for c in built_in]


def test_registry_describe_and_config():
    generator = build_generator(BackendConfig("extractive"))
    assert isinstance(generator, ExtractiveGenerator)
    assert isinstance(generator, Generator)
    described = generator.describe()
    assert described["role"] == "generator"
    assert described["backend"] == "extractive"
    assert "Not a language model" in described["description"]
    assert from_config(BackendConfig("extractive", options={"framing": "always"})).framing == (
        "always"
    )
    with pytest.raises(ConfigError):
        from_config(BackendConfig("extractive", options={"framng": "always"}))
    # Common options set from the environment for any backend do not break this one.
    from_config(BackendConfig("extractive", options={"timeout": 30.0, "api_key": "k"}))


def test_inputs_are_checked():
    generator = ExtractiveGenerator()
    with pytest.raises(ValueError):
        generator.generate(question="Q?", opinions=[], n=1, seed=0)
    with pytest.raises(ValueError):
        generator.generate(question="Q?", opinions=["a b c"], n=0, seed=0)
    with pytest.raises(ValueError):
        generator.generate(question="Q?", opinions=["a b c"], n=1, seed=0, critiques=["x"])
