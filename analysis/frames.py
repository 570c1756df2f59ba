"""The tidy tables joined once into the long frames every section reads.

`prepare(tables, include_bots=...)` takes the dict `analysis.tidy.load_tidy` returns (or
hand-built DataFrames with the same columns; a missing table counts as empty) and returns
`Frames`: ratings, statements, position ratings, critiques, predictions and rankings, each
carrying its group, round, iteration index and condition name, restricted to the population
asked for (people only, unless `include_bots`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.definitions import NO_CONDITION
from analysis.tidy import table

PEOPLE = ("human_citizen",)
PEOPLE_AND_BOTS = ("human_citizen", "bot_citizen")


@dataclass
class Frames:
    population: tuple[str, ...]
    conditions: list[dict[str, Any]]  # {"name", "exclusion", "comparisons"} in condition order
    participants: pd.DataFrame  # every participant, with group_id, condition, provenance
    iterations: pd.DataFrame  # iteration_id, round_id, index, group_id, condition, question_id
    statements: pd.DataFrame  # + iteration columns, label (candidate|best_opinion|baseline|None)
    ratings: pd.DataFrame  # population only; + statement role, label, iteration columns
    positions: pd.DataFrame  # population only; round_id, participant_id, index, agreement, ...
    critiques: pd.DataFrame  # population only; + iteration columns
    predictions: pd.DataFrame  # population only; + statement and iteration columns
    rankings: pd.DataFrame  # population only
    exclusions: pd.DataFrame  # round_id, participant_id
    questions: pd.DataFrame


def frame(tables: dict[str, Any], name: str) -> pd.DataFrame:
    """The table `name` with every column of the data dictionary (missing ones empty), or an
    empty frame with those columns when the dict lacks it."""
    found = tables.get(name)
    columns = table(name).field_names
    if found is None:
        return pd.DataFrame({column: [] for column in columns})
    found = found.copy()
    for column in columns:
        if column not in found:
            found[column] = None
    return found


def numbers(series: pd.Series) -> np.ndarray:
    """A numeric column as a float array (missing -> nan), whatever its pandas dtype."""
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()


def flags(series: pd.Series) -> pd.Series:
    """A boolean column (missing -> False), whatever its pandas dtype."""
    return series.map(
        lambda v: bool(v) if v is not None and v is not pd.NA and v == v else False
    ).astype(bool)


def _ids(series: pd.Series) -> pd.Series:
    return pd.to_numeric(series, errors="coerce").astype("Int64")


def prepare(tables: dict[str, Any], *, include_bots: bool = False) -> Frames:
    population = PEOPLE_AND_BOTS if include_bots else PEOPLE
    conditions = frame(tables, "conditions")
    conditions["condition_id"] = _ids(conditions["condition_id"])
    conditions = conditions.sort_values("condition_id")
    groups = frame(tables, "groups")
    groups["group_id"] = _ids(groups["group_id"])
    groups["condition_id"] = _ids(groups["condition_id"])
    names = dict(zip(conditions["condition_id"], conditions["name"].astype(str), strict=True))
    groups["condition"] = groups["condition_id"].map(lambda c: names.get(c, NO_CONDITION))
    condition_list = [
        {
            "name": str(row["name"]),
            "exclusion": bool(flags(pd.Series([row["exclusion"]])).iloc[0]),
            "comparisons": list(row["comparisons"]) if _is_list(row["comparisons"]) else [],
        }
        for _, row in conditions.iterrows()
    ]
    if groups["condition_id"].isna().any():
        condition_list.append({"name": NO_CONDITION, "exclusion": False, "comparisons": []})

    participants = frame(tables, "participants")
    participants["group_id"] = _ids(participants["group_id"])
    participants = participants.merge(groups[["group_id", "condition"]], on="group_id", how="left")
    included = set(participants.loc[participants["provenance"].isin(population), "participant_id"])

    def of_population(df: pd.DataFrame) -> pd.DataFrame:
        return df[df["participant_id"].isin(included)].copy()

    rounds = frame(tables, "rounds")
    for column in ("round_id", "group_id", "question_id"):
        rounds[column] = _ids(rounds[column])
    rounds = rounds.merge(groups[["group_id", "condition"]], on="group_id", how="left")
    questions = frame(tables, "questions")
    questions["question_id"] = _ids(questions["question_id"])
    splits = dict(zip(questions["question_id"], questions["split"].fillna("").astype(str),
                      strict=True))  # fmt: skip
    rounds["split"] = rounds["question_id"].map(lambda q: splits.get(q, "") or "none")

    iterations = frame(tables, "iterations")
    iterations["iteration_id"] = _ids(iterations["iteration_id"])
    iterations["round_id"] = _ids(iterations["round_id"])
    iterations["index"] = _ids(iterations["index"])
    iterations = iterations.merge(
        rounds[["round_id", "group_id", "condition", "question_id", "split"]],
        on="round_id",
        how="left",
    )
    iteration_columns = ["iteration_id", "round_id", "index", "group_id", "condition", "split"]

    statements = frame(tables, "statements")
    statements["statement_id"] = _ids(statements["statement_id"])
    statements["iteration_id"] = _ids(statements["iteration_id"])
    statements["is_winner"] = flags(statements["is_winner"])
    statements["shown"] = flags(statements["shown"])
    statements["label"] = [
        ("candidate" if winner else None) if role == "candidate" else role
        for role, winner in zip(statements["role"], statements["is_winner"], strict=True)
    ]
    statements = statements.merge(iterations[iteration_columns], on="iteration_id", how="left")
    statement_columns = ["statement_id", "role", "label", "is_winner", "text"]

    ratings = of_population(frame(tables, "ratings"))
    ratings["statement_id"] = _ids(ratings["statement_id"])
    ratings["agreement"] = numbers(ratings["agreement"])
    ratings["quality"] = numbers(ratings["quality"])
    ratings = ratings.drop(columns=["iteration_id"]).merge(
        statements[statement_columns + ["iteration_id"]], on="statement_id", how="inner"
    )
    ratings = ratings.merge(iterations[iteration_columns], on="iteration_id", how="left")

    positions = of_population(frame(tables, "position_ratings"))
    positions["round_id"] = _ids(positions["round_id"])
    positions["index"] = _ids(positions["index"])
    positions["agreement"] = numbers(positions["agreement"])
    positions = positions.merge(
        rounds[["round_id", "group_id", "condition"]], on="round_id", how="left"
    )

    critiques = of_population(frame(tables, "critiques"))
    critiques["iteration_id"] = _ids(critiques["iteration_id"])
    critiques["statement_id"] = _ids(critiques["statement_id"])
    critiques = critiques.loc[~flags(critiques["hidden"])]
    critiques = critiques.merge(iterations[iteration_columns], on="iteration_id", how="left")

    predictions = of_population(frame(tables, "predictions"))
    predictions["statement_id"] = _ids(predictions["statement_id"])
    predictions["value"] = numbers(predictions["value"])

    rankings = of_population(frame(tables, "rankings"))
    for column in ("round_id", "statement_id"):
        rankings[column] = _ids(rankings[column])
    rankings["rank"] = numbers(rankings["rank"])

    exclusions = frame(tables, "round_exclusions")
    exclusions["round_id"] = _ids(exclusions["round_id"])

    return Frames(
        population=population,
        conditions=condition_list,
        participants=participants,
        iterations=iterations,
        statements=statements,
        ratings=ratings,
        positions=positions,
        critiques=critiques,
        predictions=predictions,
        rankings=rankings,
        exclusions=exclusions,
        questions=questions,
    )


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))
