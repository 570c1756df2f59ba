"""The `tidy` export: one long table per kind of row, joined by stable ids.

This module is the data dictionary. The exporter (`deliberation.exports`) writes exactly these
tables and builds its Frictionless `datapackage.json` from `TABLES`; the analysis functions and the
trainers (`inference.training`) read them back with `load_tidy`, as a researcher's notebook would.
Plain Python: no Django.

Conventions:
- `participant_id` is always the salted pseudonymous hash (never the participant's UUID).
- Other ids are the platform's stable database ids (integers); `deliberation_id` is the
  deliberation's public UUID.
- Times are ISO 8601 in UTC (timestamps in Parquet). Lists and objects (fields of type array and
  object) are JSON text in CSV and Parquet, native in JSON Lines; `load_tidy` gives Python lists
  and dicts either way.
- Likert values are integers 1..7 (the `hm` schema has the enum names).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Field", "Table", "TABLES", "IDENTITIES", "TABLE_NAMES", "table", "load_tidy", "FORMATS"]

FORMATS = ("parquet", "csv", "jsonl")


@dataclass(frozen=True)
class Field:
    """One column: a Frictionless Table Schema field."""

    name: str
    type: str  # string | integer | number | boolean | datetime | array | object
    description: str
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "description": self.description,
        }
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.enum is not None:
            constraints["enum"] = list(self.enum)
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        if self.maximum is not None:
            constraints["maximum"] = self.maximum
        if constraints:
            out["constraints"] = constraints
        return out


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = field(default=())  # (column, table, column)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def schema(self) -> dict[str, Any]:
        return {
            "fields": [f.schema() for f in self.fields],
            "primaryKey": list(self.primary_key),
            "foreignKeys": [
                {"fields": column, "reference": {"resource": ref, "fields": ref_column}}
                for column, ref, ref_column in self.foreign_keys
            ],
        }


def _id(name: str, what: str) -> Field:
    return Field(name, "integer", f"Stable id of the {what}.", required=True)


PID = Field(
    "participant_id",
    "string",
    "Pseudonymous participant: a salted hash (EXPORT_SALT), stable across exports of one "
    "installation.",
    required=True,
)
PROVENANCE = (
    "human_citizen",
    "bot_citizen",
    "human_mediator",
    "model_mediator",
    "position_statement",
    "example",
    "mock",
)
LIKERT = {"minimum": 1, "maximum": 7}
CREATED = Field("created_at", "datetime", "When it was stored (UTC).", required=True)
HIDDEN = (
    Field(
        "hidden",
        "boolean",
        "Hidden by a moderator (left out of mediations not yet run).",
        required=True,
    ),
    Field("hidden_reason", "string", "The moderator's reason, when hidden."),
)

TABLES: tuple[Table, ...] = (
    Table(
        "questions",
        "Questions asked in the exported deliberations.",
        (
            _id("question_id", "question"),
            Field("external_id", "string", "The question bank's id (e.g. S173964151), if any."),
            Field("text", "string", "The question.", required=True),
            Field("affirming_statement", "string", "Position statement affirming the question."),
            Field("negating_statement", "string", "Position statement negating it."),
            Field("topic", "string", "Topic label."),
            Field(
                "split",
                "string",
                "Question split for model evaluation ('' when none).",
                enum=("", "train", "iid_test", "ood_test"),
            ),
            Field("source", "string", "Where the question came from (bank, manual, import...)."),
        ),
        ("question_id",),
    ),
    Table(
        "deliberations",
        "Studies.",
        (
            Field("deliberation_id", "string", "The deliberation's public UUID.", required=True),
            Field("title", "string", "Title.", required=True),
            Field("group_size", "integer", "Seats per group.", required=True),
            Field("min_group_size", "integer", "Fewest members a round goes on with."),
            Field("critique_iterations", "integer", "Critique iterations per round (0: none)."),
            Field("mediation_config", "object", "Overrides of the server's mediation config."),
            Field("consent_version", "string", "Version of the consent text."),
            Field("language", "string", "Language of the participants' pages (en, de, ...)."),
            Field("created_at", "datetime", "When it was created (UTC).", required=True),
        ),
        ("deliberation_id",),
    ),
    Table(
        "conditions",
        "Experimental arms of a deliberation.",
        (
            _id("condition_id", "condition"),
            Field("deliberation_id", "string", "The deliberation.", required=True),
            Field("name", "string", "The condition's name.", required=True),
            Field("mediation_config", "object", "Mediation overrides (N, aggregation, alpha...)."),
            Field(
                "comparisons",
                "array",
                "Statements shown beside the winner: best_opinion, baseline.",
            ),
            Field(
                "exclusion",
                "boolean",
                "Members are left out of the mediation at random.",
                required=True,
            ),
        ),
        ("condition_id",),
        (("deliberation_id", "deliberations", "deliberation_id"),),
    ),
    Table(
        "groups",
        "Groups of participants who deliberate together.",
        (
            _id("group_id", "group"),
            Field("deliberation_id", "string", "The deliberation.", required=True),
            Field(
                "number", "integer", "The group's number within its deliberation.", required=True
            ),
            Field("condition_id", "integer", "The group's condition (empty: no conditions)."),
            Field("status", "string", "forming, active, done or ended.", required=True),
            Field("started_at", "datetime", "When the group started."),
            Field("ended_at", "datetime", "When it ended."),
        ),
        ("group_id",),
        (
            ("deliberation_id", "deliberations", "deliberation_id"),
            ("condition_id", "conditions", "condition_id"),
        ),
    ),
    Table(
        "participants",
        "Participants (people, and bots when asked for; told apart by provenance).",
        (
            PID,
            Field("deliberation_id", "string", "The deliberation.", required=True),
            Field("group_id", "integer", "The participant's group (empty: never seated)."),
            Field("seat", "integer", "Seat in the group."),
            Field(
                "provenance",
                "string",
                "human_citizen or bot_citizen.",
                required=True,
                enum=PROVENANCE,
            ),
            Field(
                "status",
                "string",
                "joined, waiting, active, dropped, completed or released.",
                required=True,
            ),
            Field("joined_at", "datetime", "When they joined.", required=True),
            Field("completed_at", "datetime", "When they completed every step."),
            Field("left_at", "datetime", "When they left or dropped out."),
        ),
        ("participant_id",),
        (
            ("deliberation_id", "deliberations", "deliberation_id"),
            ("group_id", "groups", "group_id"),
        ),
    ),
    Table(
        "rounds",
        "One question for one group.",
        (
            _id("round_id", "round"),
            Field("group_id", "integer", "The group.", required=True),
            Field("question_id", "integer", "The question.", required=True),
            Field(
                "position", "integer", "Order of the round in the session (0 first).", required=True
            ),
            Field("status", "string", "pending, active or done.", required=True),
            Field("started_at", "datetime", "When it started."),
            Field("ended_at", "datetime", "When it ended."),
        ),
        ("round_id",),
        (("group_id", "groups", "group_id"), ("question_id", "questions", "question_id")),
    ),
    Table(
        "round_exclusions",
        "Members left out of a round's mediations (exclusion condition); they still rated.",
        (_id("round_id", "round"), PID),
        ("round_id", "participant_id"),
        (("round_id", "rounds", "round_id"), ("participant_id", "participants", "participant_id")),
    ),
    Table(
        "iterations",
        "Opinion (index 0) or critique (1..k) phase of a round.",
        (
            _id("iteration_id", "iteration"),
            Field("round_id", "integer", "The round.", required=True),
            Field("index", "integer", "0 opinion, 1.. critique.", required=True),
            Field(
                "state", "string", "collecting, mediating, rating, done or failed.", required=True
            ),
            Field("failure_reason", "string", "Why the mediation failed, when it did."),
            Field("mediation_started_at", "datetime", "When the mediation started."),
            Field("mediation_finished_at", "datetime", "When it finished."),
        ),
        ("iteration_id",),
        (("round_id", "rounds", "round_id"),),
    ),
    Table(
        "opinions",
        "Opinions members wrote in opinion iterations.",
        (
            _id("opinion_id", "opinion"),
            Field("iteration_id", "integer", "The iteration.", required=True),
            PID,
            Field("text", "string", "What the member wrote.", required=True),
            CREATED,
            Field("response_duration_ms", "integer", "Time from page shown to sent (ms)."),
            *HIDDEN,
        ),
        ("opinion_id",),
        (
            ("iteration_id", "iterations", "iteration_id"),
            ("participant_id", "participants", "participant_id"),
        ),
    ),
    Table(
        "critiques",
        "Critiques of the previous winner, written in critique iterations.",
        (
            _id("critique_id", "critique"),
            Field("iteration_id", "integer", "The critique iteration.", required=True),
            PID,
            Field("statement_id", "integer", "The winning statement critiqued.", required=True),
            Field("text", "string", "What the member wrote.", required=True),
            CREATED,
            Field("response_duration_ms", "integer", "Time from page shown to sent (ms)."),
            *HIDDEN,
        ),
        ("critique_id",),
        (
            ("iteration_id", "iterations", "iteration_id"),
            ("participant_id", "participants", "participant_id"),
            ("statement_id", "statements", "statement_id"),
        ),
    ),
    Table(
        "statements",
        "Every statement: mediator candidates (role candidate; the winner has is_winner), and "
        "comparisons shown beside the winner (best_opinion, baseline).",
        (
            _id("statement_id", "statement"),
            Field("iteration_id", "integer", "The iteration.", required=True),
            Field(
                "role",
                "string",
                "candidate, best_opinion or baseline.",
                required=True,
                enum=("candidate", "best_opinion", "baseline"),
            ),
            Field("text", "string", "The statement.", required=True),
            Field("provenance", "string", "Who or what wrote it.", required=True, enum=PROVENANCE),
            Field("model_version_id", "integer", "The generator version that wrote it."),
            Field("template_version", "string", "Prompt template version."),
            Field("seed", "integer", "Sampling seed."),
            Field("sample_index", "integer", "Index among the candidates sampled."),
            Field("group_score", "number", "Aggregated group score (EDE or Schulze)."),
            Field("rank", "integer", "Rank among candidates (0 = best)."),
            Field("is_winner", "boolean", "The mediator's pick.", required=True),
            Field("shown", "boolean", "Shown to members to be rated.", required=True),
            Field("source_opinion_id", "integer", "For best_opinion: the opinion shown."),
            Field("parent_statement_ids", "array", "Statements it revises (critique iterations)."),
            CREATED,
        ),
        ("statement_id",),
        (
            ("iteration_id", "iterations", "iteration_id"),
            ("model_version_id", "model_versions", "model_version_id"),
            ("source_opinion_id", "opinions", "opinion_id"),
        ),
    ),
    Table(
        "predictions",
        "The reward model's predicted agreement (1-7) of each member with each statement.",
        (
            Field("statement_id", "integer", "The statement.", required=True),
            PID,
            Field("value", "number", "Predicted agreement on the 1-7 scale.", required=True),
            Field("model_version_id", "integer", "The reward model version that predicted it."),
        ),
        ("statement_id", "participant_id"),
        (
            ("statement_id", "statements", "statement_id"),
            ("participant_id", "participants", "participant_id"),
            ("model_version_id", "model_versions", "model_version_id"),
        ),
    ),
    Table(
        "ratings",
        "A member's agreement and quality rating (1-7) of a statement shown.",
        (
            _id("rating_id", "rating"),
            PID,
            Field("statement_id", "integer", "The statement rated.", required=True),
            Field("iteration_id", "integer", "The iteration.", required=True),
            Field(
                "agreement",
                "integer",
                "1 strongly disagree .. 4 neutral .. 7 strongly agree.",
                required=True,
                **LIKERT,
            ),
            Field(
                "quality",
                "integer",
                "1 terrible .. 4 neutral .. 7 excellent.",
                required=True,
                **LIKERT,
            ),
            Field("response_duration_ms", "integer", "Time from page shown to sent (ms)."),
            CREATED,
        ),
        ("rating_id",),
        (
            ("participant_id", "participants", "participant_id"),
            ("statement_id", "statements", "statement_id"),
            ("iteration_id", "iterations", "iteration_id"),
        ),
    ),
    Table(
        "rankings",
        "Rankings, one row per ranked statement: a ranking of the statements shown in an "
        "iteration (kind statements) or the final ranking of the round's winners (kind final).",
        (
            _id("ranking_id", "ranking"),
            PID,
            Field("round_id", "integer", "The round.", required=True),
            Field("iteration_id", "integer", "The iteration (empty for the final ranking)."),
            Field(
                "kind",
                "string",
                "statements or final.",
                required=True,
                enum=("statements", "final"),
            ),
            Field("statement_id", "integer", "The statement ranked.", required=True),
            Field(
                "position_shown",
                "integer",
                "Its place in the order shown (0 first).",
                required=True,
            ),
            Field("rank", "integer", "0 = best; equal numbers are ties.", required=True),
            CREATED,
        ),
        ("ranking_id", "statement_id"),
        (
            ("participant_id", "participants", "participant_id"),
            ("round_id", "rounds", "round_id"),
            ("iteration_id", "iterations", "iteration_id"),
            ("statement_id", "statements", "statement_id"),
        ),
    ),
    Table(
        "position_ratings",
        "Agreement with the question's position statement before (index 0) and after (1).",
        (
            _id("position_rating_id", "position rating"),
            PID,
            Field("round_id", "integer", "The round.", required=True),
            Field(
                "index",
                "integer",
                "0 before the round, 1 after.",
                required=True,
                minimum=0,
                maximum=1,
            ),
            Field(
                "agreement",
                "integer",
                "1..7 agreement with the affirming statement.",
                required=True,
                **LIKERT,
            ),
            CREATED,
        ),
        ("position_rating_id",),
        (
            ("participant_id", "participants", "participant_id"),
            ("round_id", "rounds", "round_id"),
        ),
    ),
    Table(
        "survey_responses",
        "End-of-round survey answers.",
        (
            _id("survey_response_id", "survey response"),
            PID,
            Field("round_id", "integer", "The round (empty for a session-level item)."),
            Field("item", "string", "The survey item's key.", required=True),
            Field(
                "value",
                "string",
                "The answer, as JSON text (a number for likert items).",
                required=True,
            ),
            CREATED,
        ),
        ("survey_response_id",),
        (
            ("participant_id", "participants", "participant_id"),
            ("round_id", "rounds", "round_id"),
        ),
    ),
    Table(
        "model_versions",
        "Generators and reward models that served the exported rounds.",
        (
            _id("model_version_id", "model version"),
            Field(
                "role",
                "string",
                "generator or reward.",
                required=True,
                enum=("generator", "reward"),
            ),
            Field(
                "backend",
                "string",
                "Backend (extractive, embedding, vllm, transformers...).",
                required=True,
            ),
            Field("name", "string", "Model name or path.", required=True),
            Field("revision", "string", "Revision or content hash."),
            Field("details", "object", "Backend details."),
            Field("metrics", "object", "Evaluation metrics, when trained here."),
            CREATED,
        ),
        ("model_version_id",),
    ),
)

# Written only by exports with identifiers (the `export_identifiers` permission), after TABLES.
IDENTITIES = Table(
    "panel_identities",
    "Panel identifiers of the participants (Prolific, MTurk, xid). Only in exports made with the "
    "export_identifiers permission.",
    (
        PID,
        Field(
            "participant_uuid", "string", "The participant's UUID in the platform.", required=True
        ),
        Field("panel", "string", "prolific, mturk, generic or none.", required=True),
        Field("external_id", "string", "The panel's id of the member.", required=True),
        Field("study_id", "string", "The panel's study id."),
        Field("session_id", "string", "The panel's session id."),
    ),
    ("participant_id",),
    (("participant_id", "participants", "participant_id"),),
)

TABLE_NAMES = tuple(t.name for t in TABLES)
_BY_NAME = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown tidy table {name!r}; known: {', '.join(TABLE_NAMES)}") from None


def load_tidy(path: str | Path) -> dict[str, Any]:
    """Read a `tidy` export (a folder or a .zip with `datapackage.json`) into pandas DataFrames,
    one per table, keyed by table name. Works for Parquet, CSV and JSON Lines exports; JSON
    columns (type array/object) come back as Python lists and dicts."""
    import pandas as pd

    source = _Source(Path(path))
    package = json.loads(source.read("datapackage.json"))
    frames: dict[str, Any] = {}
    for resource in package["resources"]:
        fields = resource["schema"]["fields"]
        raw = source.read(resource["path"])
        fmt = resource.get("format", Path(resource["path"]).suffix.lstrip("."))
        if not raw.strip():  # an empty JSON Lines file: no rows
            frame = pd.DataFrame({f["name"]: [] for f in fields})
        elif fmt == "parquet":
            frame = pd.read_parquet(io.BytesIO(raw))
        elif fmt == "csv":
            dtypes = {f["name"]: "string" for f in fields if f["type"] in ("string",)}
            frame = pd.read_csv(
                io.BytesIO(raw),
                dtype=dtypes,
                keep_default_na=False,
                na_values={f["name"]: [""] for f in fields if f["type"] not in ("string",)},
            )
        elif fmt == "jsonl":
            frame = pd.read_json(io.BytesIO(raw), lines=True, dtype=False)
        else:
            raise ValueError(f"unknown format {fmt!r} for {resource['path']}")
        frames[resource["name"]] = _typed(frame, fields)
    return frames


def _typed(frame, fields: list[Mapping[str, Any]]):
    import pandas as pd

    for f in fields:
        name, kind = f["name"], f["type"]
        if name not in frame.columns:
            frame[name] = pd.Series([None] * len(frame), dtype="object")
            continue
        column = frame[name]
        if kind in ("array", "object"):
            frame[name] = column.map(_json_value)
        elif kind == "integer":
            frame[name] = pd.to_numeric(column, errors="raise").astype("Int64")
        elif kind == "number":
            frame[name] = pd.to_numeric(column, errors="raise").astype("float64")
        elif kind == "boolean":
            frame[name] = column.map(_boolean).astype("boolean")
        elif kind == "datetime":
            frame[name] = pd.to_datetime(column, utc=True, format="ISO8601").astype(
                "datetime64[us, UTC]"
            )
        elif kind == "string":
            frame[name] = column.astype("string").fillna("")
    return frame[[f["name"] for f in fields]]


def _json_value(value):
    """JSON text (CSV, Parquet) parsed; native values (JSON Lines) as they are; empty is None."""
    if isinstance(value, str):
        return json.loads(value) if value else None
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def _boolean(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


class _Source:
    """A folder or a zip archive of an export, read file by file."""

    def __init__(self, path: Path):
        if not path.exists():
            raise FileNotFoundError(f"no export at {path}")
        self.path = path
        self.zip = zipfile.ZipFile(path) if path.is_file() else None

    def read(self, name: str) -> bytes:
        if self.zip is not None:
            try:
                return self.zip.read(name)
            except KeyError:
                raise FileNotFoundError(f"{name} is not in {self.path}") from None
        return (self.path / name).read_bytes()
