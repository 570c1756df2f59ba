"""Welfare and Schulze: the published worked example, table tests and properties."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inference.aggregation import (
    check_alpha,
    rankings_from_predictions,
    schulze,
    schulze_loop,
    welfare,
    welfare_loop,
)

# METHOD.md §2: three people, two candidates, A = (7, 7, 1), B = (5, 5, 4).
WORKED = np.array([[7.0, 5.0], [7.0, 5.0], [1.0, 4.0]])

utilities = hnp.arrays(
    float,
    st.tuples(st.integers(1, 8), st.integers(1, 6)),
    elements=st.floats(1.0, 7.0),
)
strict_or_tied_rankings = st.integers(1, 7).flatmap(
    lambda c: hnp.arrays(
        np.int64, st.tuples(st.integers(1, 12), st.just(c)), elements=st.integers(0, c - 1)
    )
)


# -- welfare ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alpha", "a", "b"),
    [
        (0.0, 5.00, 4.67),  # utilitarian: A wins
        (1.0, 3.66, 4.64),  # Nash: B wins
        (math.inf, 1.00, 4.00),  # Rawlsian: B wins
    ],
)
def test_worked_example_of_method_section_2(alpha, a, b):
    assert welfare(WORKED, alpha) == pytest.approx([a, b], abs=0.005)
    assert welfare_loop(WORKED, alpha) == pytest.approx([a, b], abs=0.005)


def test_the_choice_of_alpha_decides_the_worked_example():
    assert np.argmax(welfare(WORKED, 0)) == 0
    assert np.argmax(welfare(WORKED, 1)) == 1
    assert np.argmax(welfare(WORKED, math.inf)) == 1


@pytest.mark.parametrize(
    ("matrix", "alpha", "expected"),
    [
        ([[4.0]], 0, [4.0]),
        ([[4.0]], 7.5, [4.0]),
        ([[2.0, 3.0], [2.0, 3.0]], 2, [2.0, 3.0]),  # equal shares: every alpha gives the share
        ([[1.0], [4.0]], 1, [2.0]),  # geometric mean
        ([[1.0], [4.0]], 2, [1.6]),  # harmonic mean
        ([[1.0], [4.0]], 0.5, [2.25]),  # ((1 + 2) / 2) ** 2
    ],
)
def test_welfare_table(matrix, alpha, expected):
    assert welfare(matrix, alpha) == pytest.approx(expected)


@pytest.mark.parametrize("alpha", [50.0, 1e3, 1e6])
def test_large_alpha_neither_overflows_nor_leaves_the_range(alpha):
    with np.errstate(all="raise"):
        result = welfare(WORKED, alpha)
    assert np.all(np.isfinite(result))
    assert np.all(result >= WORKED.min(axis=0) - 1e-12)
    assert result[1] > result[0]


@pytest.mark.parametrize("alpha", [1 - 1e-12, 1 + 1e-12, 1 - 1e-7, 1 + 1e-7])
def test_alpha_next_to_one_is_the_geometric_mean(alpha):
    assert welfare(WORKED, alpha) == pytest.approx(welfare(WORKED, 1.0), rel=1e-6)


@pytest.mark.parametrize(
    ("matrix", "alpha"),
    [
        ([1.0, 2.0], 1.0),  # 1-D
        ([[[1.0]]], 1.0),  # 3-D
        (np.empty((0, 3)), 1.0),  # no participant
        (np.empty((3, 0)), 1.0),  # no candidate
        ([[1.0, 0.0]], 1.0),  # zero utility
        ([[1.0, -2.0]], 0.0),  # negative utility
        ([[1.0, np.nan]], 1.0),
        ([[1.0, np.inf]], 1.0),
        ([["a", "b"]], 1.0),
        ([[1.0, 2.0]], -0.5),
        ([[1.0, 2.0]], np.nan),
        ([[1.0, 2.0]], True),
        ([[1.0, 2.0]], "1"),
    ],
)
def test_welfare_rejects_invalid_input(matrix, alpha):
    with pytest.raises(ValueError):
        welfare(matrix, alpha)
    with pytest.raises(ValueError):
        welfare_loop(matrix, alpha)


@given(utilities)
def test_alpha_zero_is_the_mean(u):
    assert welfare(u, 0) == pytest.approx(u.mean(axis=0))


@given(utilities)
def test_large_alpha_approaches_the_minimum(u):
    assert welfare(u, 1e4) == pytest.approx(u.min(axis=0), rel=1e-3)
    assert np.array_equal(welfare(u, math.inf), u.min(axis=0))


@given(utilities, st.floats(0, 20))
def test_welfare_lies_between_the_minimum_and_the_mean(u, alpha):
    result = welfare(u, alpha)
    assert np.all(result >= u.min(axis=0) * (1 - 1e-9))
    assert np.all(result <= u.mean(axis=0) * (1 + 1e-9))


@given(utilities, st.floats(0, 20))
def test_welfare_ranks_candidates_like_w_alpha(u, alpha):
    def w(column):
        if alpha == 1:
            return np.mean(np.log(column))
        return np.mean(column ** (1 - alpha) / (1 - alpha))

    assume(abs(alpha - 1) > 1e-3)
    ede = welfare(u, alpha)
    ws = [w(u[:, c]) for c in range(u.shape[1])]
    for x in range(u.shape[1]):
        for y in range(u.shape[1]):
            if ws[x] > ws[y] + 1e-9 * max(1.0, abs(ws[y])):
                assert ede[x] >= ede[y] - 1e-9


@given(utilities, st.sampled_from([0.0, 0.3, 1.0, 2.0, 7.0, 40.0, math.inf]))
def test_vectorised_welfare_matches_the_loop(u, alpha):
    assert welfare(u, alpha) == pytest.approx(welfare_loop(u, alpha), rel=1e-9)


@given(utilities, st.floats(0, 10), st.randoms(use_true_random=False))
def test_welfare_ignores_the_order_of_participants(u, alpha, random):
    order = list(range(len(u)))
    random.shuffle(order)
    assert welfare(u[order], alpha) == pytest.approx(welfare(u, alpha), rel=1e-12)


# -- rankings from predictions ---------------------------------------------------------------


def test_rankings_from_predictions_are_dense_with_ties_equal():
    predictions = [[7.0, 5.0, 7.0, 2.0], [1.0, 1.0, 1.0, 1.0], [1.5, 2.5, 3.5, 4.5]]
    assert rankings_from_predictions(predictions).tolist() == [
        [0, 1, 0, 2],
        [0, 0, 0, 0],
        [3, 2, 1, 0],
    ]


@pytest.mark.parametrize("bad", [[1.0, 2.0], [[1.0, np.nan]], np.empty((2, 0)), [["x"]]])
def test_rankings_from_predictions_reject_invalid_input(bad):
    with pytest.raises(ValueError):
        rankings_from_predictions(bad)


# -- Schulze ---------------------------------------------------------------------------------

# Wikipedia's Schulze example: 45 voters, 5 candidates A-E, the winner is E, ranking E>A>C>B>D.
WIKIPEDIA_GROUPS = [
    (5, "ACBED"),
    (5, "ADECB"),
    (8, "BEDAC"),
    (3, "CABED"),
    (7, "CAEBD"),
    (2, "CBADE"),
    (7, "DCEBA"),
    (8, "EBADC"),
]


def _ballots(groups):
    rows = []
    for count, order in groups:
        rows += [[order.index(c) for c in "ABCDE"]] * count
    return np.array(rows)


def test_schulze_reproduces_the_textbook_example():
    tied, untied = schulze(_ballots(WIKIPEDIA_GROUPS), seed=0)
    # E > A > C > B > D
    assert tied.tolist() == [1, 3, 2, 4, 0]
    assert untied.tolist() == tied.tolist()
    assert schulze_loop(_ballots(WIKIPEDIA_GROUPS), seed=0)[0].tolist() == tied.tolist()


@pytest.mark.parametrize(
    ("rankings", "tied"),
    [
        ([[0, 1, 2]], [0, 1, 2]),
        ([[2, 1, 0], [2, 1, 0], [0, 1, 2]], [2, 1, 0]),
        ([[0, 0, 1]], [0, 0, 1]),  # a tie on the only ballot stays a tie
        ([[0, 1], [1, 0]], [0, 0]),  # a perfect split
        ([[0, 1, 2], [1, 2, 0], [2, 0, 1]], [0, 0, 0]),  # the Condorcet cycle
        ([[0]], [0]),
        ([[5, 9, 9]], [0, 1, 1]),  # only the order of a voter's numbers counts
    ],
)
def test_schulze_table(rankings, tied):
    result_tied, result_untied = schulze(rankings, seed=3)
    assert result_tied.tolist() == tied
    assert sorted(result_untied.tolist()) == list(range(len(tied)))
    _assert_refines(result_tied, result_untied)


def test_ballots_of_all_minus_one_are_left_out_not_counted_as_ties():
    ballots = [[0, 1, 2], [-1, -1, -1], [-1, -1, -1], [1, 0, 2]]
    for seed in range(5):
        with_blanks = schulze(ballots, seed=seed)
        without = schulze([[0, 1, 2], [1, 0, 2]], seed=seed)
        assert np.array_equal(with_blanks[0], without[0])
        assert np.array_equal(with_blanks[1], without[1])
    only_blank_tied, only_blank_untied = schulze([[-1, -1, -1]], seed=0)
    assert only_blank_tied.tolist() == [0, 0, 0]
    assert sorted(only_blank_untied.tolist()) == [0, 1, 2]


def test_blank_ballots_do_not_take_part_in_tbrc():
    ballots = np.array([[0, 0, 1]] + [[-1, -1, -1]] * 50)
    # The only ballot cannot break the A=B tie, so the final seeded order does; with the blank
    # ballots filtered out, the result is that of the single ballot alone, for every seed.
    for seed in range(10):
        assert np.array_equal(schulze(ballots, seed=seed)[1], schulze(ballots[:1], seed=seed)[1])


@pytest.mark.parametrize(
    ("rankings", "kwargs"),
    [
        ([0, 1, 2], {}),  # 1-D
        (np.empty((2, 0), dtype=int), {}),  # no candidates
        ([[0, -1, 1]], {}),  # -1 in a ballot that is not all -1
        ([[0, -2]], {}),
        ([[0.5, 1.0]], {}),
        ([[0, np.nan]], {}),
        ([[True, False]], {}),
        ([["a", "b"]], {}),
        ([[0, 1]], {"tie_breaking": "borda"}),
    ],
)
def test_schulze_rejects_invalid_input(rankings, kwargs):
    with pytest.raises(ValueError):
        schulze(rankings, **kwargs)
    with pytest.raises(ValueError):
        schulze_loop(rankings, **kwargs)


def test_ties_allowed_keeps_the_ties_and_random_breaks_them():
    cycle = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    tied, untied = schulze(cycle, tie_breaking="ties_allowed")
    assert tied.tolist() == untied.tolist() == [0, 0, 0]
    tied, untied = schulze(cycle, tie_breaking="random", seed=1)
    assert sorted(untied.tolist()) == [0, 1, 2]


def test_tbrc_breaks_ties_with_a_ballot_before_falling_back_to_random():
    # The Condorcet cycle ties all three candidates; the first shuffled ballot then breaks every
    # tie, so TBRC's order is always one of the ballots, while a random order need not be.
    cycle = [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    tbrc = {tuple(schulze(cycle, seed=seed)[1].tolist()) for seed in range(40)}
    random = {tuple(schulze(cycle, tie_breaking="random", seed=s)[1].tolist()) for s in range(40)}
    assert tbrc == {tuple(ballot) for ballot in cycle}
    assert len(random) == 6


@settings(max_examples=60)
@given(st.integers(2, 6), st.integers(1, 15), st.data())
def test_a_condorcet_winner_wins_schulze(candidates, voters, data):
    rankings = data.draw(
        hnp.arrays(np.int64, (voters, candidates), elements=st.integers(0, candidates - 1))
    )
    better = (rankings[:, :, None] < rankings[:, None, :]).sum(axis=0)
    beats_all = [
        x
        for x in range(candidates)
        if all(better[x, y] > better[y, x] for y in range(candidates) if y != x)
    ]
    assume(beats_all)
    tied, untied = schulze(rankings, seed=data.draw(st.integers(0, 99)))
    (winner,) = beats_all
    assert tied[winner] == 0 and np.sum(tied == 0) == 1
    assert untied[winner] == 0


@given(strict_or_tied_rankings, st.integers(0, 2**32), st.randoms(use_true_random=False))
def test_permuting_voters_changes_nothing(rankings, seed, random):
    order = list(range(len(rankings)))
    random.shuffle(order)
    for mode in ("tbrc", "random", "ties_allowed"):
        a = schulze(rankings, tie_breaking=mode, seed=seed)
        b = schulze(rankings[order], tie_breaking=mode, seed=seed)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@given(strict_or_tied_rankings, st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_result(rankings, seed):
    first = schulze(rankings, seed=seed)
    second = schulze(rankings, seed=seed)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


@given(
    strict_or_tied_rankings,
    st.integers(0, 1000),
    st.sampled_from(["tbrc", "random", "ties_allowed"]),
)
def test_vectorised_schulze_matches_the_loop(rankings, seed, mode):
    fast = schulze(rankings, tie_breaking=mode, seed=seed)
    slow = schulze_loop(rankings, tie_breaking=mode, seed=seed)
    assert np.array_equal(fast[0], slow[0])
    assert np.array_equal(fast[1], slow[1])
    if mode != "ties_allowed":
        assert sorted(fast[1].tolist()) == list(range(rankings.shape[1]))
    _assert_refines(fast[0], fast[1])


def test_vectorised_schulze_matches_the_loop_at_size():
    rng = np.random.default_rng(7)
    rankings = rankings_from_predictions(np.round(rng.uniform(1, 7, size=(300, 24))))
    fast = schulze(rankings, seed=11)
    slow = schulze_loop(rankings, seed=11)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])


def test_large_rank_numbers_are_compared_as_numbers():
    rankings = np.array([[70_000, 1, 300], [2, 0, 100_000]])
    assert np.array_equal(schulze(rankings, seed=0)[0], schulze([[2, 0, 1], [1, 0, 2]], seed=0)[0])


def _assert_refines(tied, untied):
    """Tie-breaking only orders tied candidates; it never reverses the social ranking."""
    for x in range(len(tied)):
        for y in range(len(tied)):
            if tied[x] < tied[y]:
                assert untied[x] < untied[y]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0.0),
        (2, 2.0),
        (np.float64(0.5), 0.5),
        (math.inf, math.inf),
        (" 1.5 ", 1.5),
        ("1e3", 1000.0),
        ("inf", math.inf),
        ("Infinity", math.inf),
        ("∞", math.inf),
        ("rawls", math.inf),
        ("MIN", math.inf),
    ],
)
def test_alpha_is_parsed_in_one_place(value, expected):
    if isinstance(value, str):
        with pytest.raises(ValueError, match="alpha must be a number >= 0 or inf"):
            check_alpha(value)  # text only where text is expected (a config, a form)
    else:
        assert check_alpha(value) == expected
    assert check_alpha(value, text=True) == expected


@pytest.mark.parametrize("value", [-1, -0.5, math.nan, "nan", "-2", "lots", "", True, None, [1]])
def test_anything_else_is_not_an_alpha(value):
    with pytest.raises(ValueError, match="alpha must be a number >= 0 or inf"):
        check_alpha(value, text=True)
