"""Which side a text takes (inference.stance): negation in its many forms, cues, attribution."""

import pytest

from inference.stance import opinion_side, proposition, stance_parts, text_stance

BUILD = proposition(
    "Should the UK build more nuclear power stations?",
    "The UK should build more nuclear power stations.",
    "The UK should NOT build more nuclear power stations.",
)
ZOOS = proposition(
    "Should zoos be phased out?",
    "Zoos should no longer exist.",
    "Zoos should continue to exist.",
)
VAT = proposition(
    "Should we completely eliminate VAT on any item costing less than £50?",
    "We should completely eliminate VAT on any item costing less than £50.",
    "We should keep VAT on any item costing less than £50.",
)
ANYTHING = proposition(
    "Should we do anything to try to reduce inequality in society?",
    "We should do something to try to reduce inequality in society.",
    "We should NOT do anything to try to reduce inequality in society.",
)


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("The UK should build more nuclear power stations.", 1),
        ("The UK should not build more nuclear power stations.", -1),
        ("The UK shouldn't build more nuclear power stations.", -1),
        ("The UK shouldn’t build more nuclear stations, full stop.", -1),
        ("Nuclear power stations should no longer be built.", -1),
        ("I am against building more nuclear power stations.", -1),
        ("I'm not against more nuclear power stations.", 1),
        ("I don't think building more nuclear power stations is a good idea.", -1),
        ("I support more nuclear power.", 1),
        ("No.", -1),
        ("Absolutely not. The waste lasts for ever.", -1),
        ("Build them. The lights have to stay on.", 1),
        ("We should.", 1),
        ("We shouldn't.", -1),
        ("Nuclear, yes, and quickly.", 1),
        ("The waste lasts for thousands of years.", 0),
        ("Nuclear sounds fine, but I'm against it.", -1),
    ],
)
def test_sides_with_negation_and_cues(text, side):
    stance = text_stance(text, BUILD)
    if side == 0:
        assert stance == 0
    else:
        assert stance * side >= 0.5, stance


@pytest.mark.parametrize(
    ("prop", "text", "side"),
    [
        (ZOOS, "Zoos should no longer exist, they are cruel.", 1),
        (ZOOS, "We should keep zoos, they save species.", -1),
        (VAT, "We should keep VAT on cheap items.", -1),
        (VAT, "Scrap it: we should eliminate VAT on cheap things.", 1),
        (ANYTHING, "We should NOT do anything to try to reduce inequality in society.", -1),
        (ANYTHING, "We should do something to try to reduce inequality in society.", 1),
    ],
)
def test_statements_that_say_no_themselves(prop, text, side):
    """The affirming statement may itself say "no longer"; the statements may differ by more
    than "NOT" ("eliminate" / "keep", "something" / "NOT ... anything")."""
    assert text_stance(text, prop) * side >= 0.3


def test_a_statement_giving_both_sides_a_voice_is_balanced():
    stance, both = stance_parts(
        "Most of us think that the UK should build more nuclear power stations, while one of us "
        "disagrees.",
        BUILD,
    )
    assert 0 < stance < 0.6
    assert both >= 0.4
    one_sided, none = stance_parts("We all think the UK should build more nuclear power.", BUILD)
    assert one_sided > stance and none == 0


def test_hedges_weaken_a_side():
    firm = text_stance("The UK should build more nuclear power stations.", BUILD)
    hedged = text_stance(
        "I'm not sure, but the UK should build more nuclear power stations.", BUILD
    )
    assert 0 < hedged < firm


def test_a_position_rating_outweighs_the_words():
    words = "The UK should build more nuclear power stations."
    assert opinion_side(words, BUILD) > 0.9
    assert opinion_side(words, BUILD, position_rating=1) < -0.4
    assert opinion_side("The weather is nice.", BUILD, position_rating=7) == pytest.approx(0.75)


def test_without_position_statements_the_question_stands_in():
    prop = proposition("Should the UK build more nuclear power stations?")
    assert text_stance("The UK should not build more nuclear power stations.", prop) < -0.5
    assert text_stance("The UK should build more nuclear power stations.", prop) > 0.5
