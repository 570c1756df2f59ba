"""A hand-built deliberation in the shape of the tidy export, small enough to compute every
figure of the report by hand (the expected values in test_metrics.py are worked out there).

Condition `baseline` (groups 10 and 11) shows a baseline beside the winner and runs a critique
iteration in group 10; condition `exclusion` (group 20) left p8 out of its mediation. b1 is a
bot in group 10."""

import pandas as pd
import pytest

D = "d-1"


def tiny() -> dict[str, pd.DataFrame]:
    def df(rows, columns):
        return pd.DataFrame(rows, columns=columns)

    statements = [
        # id, iteration, role, text, provenance, is_winner
        (1000, 100, "candidate", "we should build more parks", "model_mediator", True),
        (1001, 100, "candidate", "something else entirely", "model_mediator", False),
        (1002, 100, "baseline", "a baseline statement", "model_mediator", False),
        (1010, 101, "candidate", "we should build more parks and protect the river",
         "model_mediator", True),
        (1100, 110, "candidate", "libraries should open", "model_mediator", True),
        (1102, 110, "baseline", "libraries could open", "model_mediator", False),
        (2000, 200, "candidate", "schools start later", "model_mediator", True),
    ]  # fmt: skip
    ratings = [
        # participant, statement, agreement, quality
        ("p1", 1000, 6, 5), ("p1", 1002, 4, 4), ("p2", 1000, 5, 5), ("p2", 1002, 5, 3),
        ("p3", 1000, 2, 6), ("p3", 1002, 3, 4), ("b1", 1000, 7, 7), ("b1", 1002, 1, 1),
        ("p1", 1010, 7, 6), ("p2", 1010, 4, 4), ("p3", 1010, 4, 5),
        ("p4", 1100, 3, 3), ("p4", 1102, 6, 6), ("p5", 1100, 4, 4), ("p5", 1102, 4, 4),
        ("p6", 2000, 5, 5), ("p7", 2000, 6, 5), ("p8", 2000, 2, 3),
    ]  # fmt: skip
    iteration_of = {s[0]: s[1] for s in statements}
    seat = {"p1": 10, "p2": 10, "p3": 10, "b1": 10, "p4": 11, "p5": 11,
            "p6": 20, "p7": 20, "p8": 20}  # fmt: skip
    positions = [
        ("p1", 10, 0, 6), ("p1", 10, 1, 5), ("p2", 10, 0, 5), ("p2", 10, 1, 5),
        ("p3", 10, 0, 2), ("p3", 10, 1, 3), ("b1", 10, 0, 7), ("b1", 10, 1, 7),
        ("p4", 11, 0, 3), ("p4", 11, 1, 4), ("p5", 11, 0, 4),
        ("p6", 20, 0, 5), ("p6", 20, 1, 5), ("p7", 20, 0, 6), ("p7", 20, 1, 6),
        ("p8", 20, 0, 1), ("p8", 20, 1, 2),
    ]  # fmt: skip
    predictions = [
        (1000, "p1", 5.5), (1000, "p2", 5.0), (1000, "p3", 3.0), (1000, "b1", 6.0),
        (1001, "p1", 4.0), (1100, "p4", 4.5), (1100, "p5", 3.5), (1102, "p4", 5.0),
        (1102, "p5", 4.0), (1010, "p1", 6.5), (1010, "p2", 4.5), (1010, "p3", 2.5),
    ]  # fmt: skip
    return {
        "deliberations": df([(D, "Tiny", 3)], ["deliberation_id", "title", "group_size"]),
        "questions": df([(1, "Parks?", "iid_test")], ["question_id", "text", "split"]),
        "conditions": df(
            [(1, D, "baseline", ["baseline"], False), (2, D, "exclusion", [], True)],
            ["condition_id", "deliberation_id", "name", "comparisons", "exclusion"],
        ),
        "groups": df(
            [(10, D, 1, 1), (11, D, 2, 1), (20, D, 3, 2)],
            ["group_id", "deliberation_id", "number", "condition_id"],
        ),
        "participants": df(
            [
                (p, D, g, "bot_citizen" if p.startswith("b") else "human_citizen")
                for p, g in seat.items()
            ],
            ["participant_id", "deliberation_id", "group_id", "provenance"],
        ),  # fmt: skip
        "rounds": df(
            [(10, 10, 1, 0), (11, 11, 1, 0), (20, 20, 1, 0)],
            ["round_id", "group_id", "question_id", "position"],
        ),
        "round_exclusions": df([(20, "p8")], ["round_id", "participant_id"]),
        "iterations": df(
            [(100, 10, 0), (101, 10, 1), (110, 11, 0), (200, 20, 0)],
            ["iteration_id", "round_id", "index"],
        ),
        "statements": df(
            [(*s, True) for s in statements],
            ["statement_id", "iteration_id", "role", "text", "provenance", "is_winner", "shown"],
        ),
        "ratings": df(
            [(i, p, s, iteration_of[s], a, q) for i, (p, s, a, q) in enumerate(ratings)],
            ["rating_id", "participant_id", "statement_id", "iteration_id", "agreement", "quality"],
        ),  # fmt: skip
        "rankings": df(
            [
                (1, "p1", 10, None, "final", 1000, 0, 1),
                (1, "p1", 10, None, "final", 1010, 1, 0),
                (2, "p2", 10, None, "final", 1000, 0, 0),
                (2, "p2", 10, None, "final", 1010, 1, 0),
            ],
            [
                "ranking_id",
                "participant_id",
                "round_id",
                "iteration_id",
                "kind",
                "statement_id",
                "position_shown",
                "rank",
            ],
        ),  # fmt: skip
        "position_ratings": df(
            [(i, *row) for i, row in enumerate(positions)],
            ["position_rating_id", "participant_id", "round_id", "index", "agreement"],
        ),
        "critiques": df(
            [
                (1, 101, "p1", 1000, "protect the river"),
                (2, 101, "p3", 1000, "parks are too expensive"),
            ],
            ["critique_id", "iteration_id", "participant_id", "statement_id", "text"],
        ),  # fmt: skip
        "predictions": df(
            [(s, p, v, 7) for s, p, v in predictions],
            ["statement_id", "participant_id", "value", "model_version_id"],
        ),
    }


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return tiny()
