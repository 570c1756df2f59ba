"""Bulk import of questions from a file: the Habermas Machine bank's JSON, or CSV.

`questions_import` reads the whole file, validates every row in Python, and then writes the new
questions with a few batched INSERTs in one transaction. A file that cannot be read as a whole
(too big, not UTF-8, not JSON, not a list, a CSV without its header, no rows) raises one
`DomainError` and imports nothing; a file that can be read imports its good rows and reports
every other row with its number and the reason. Rows already in the database (same external id;
for rows without an id, the same question text) are counted, not changed, so importing a file
again creates nothing.

JSON: a list of objects in the format of `hm_questions.json`: `id`, `question`,
`affirming_statement`, `negating_statement`, `topic` (a whole number or text), `split`.
Entries are numbered from 1.

CSV (UTF-8, comma-separated): a header row with `question` and any of `affirming`, `negating`,
`topic`, `split`, `id` (also `affirming_statement`, `negating_statement`), in any order. Rows are
numbered as a spreadsheet shows them: the header is row 1, the first question row 2.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import BinaryIO

from django.db import IntegrityError, connection, transaction

from deliberation.errors import DomainError
from deliberation.models import TEXT_MAX, Question
from deliberation.services.deliberations import (
    EXTERNAL_ID_MAX,
    SOURCE_MAX,
    TOPIC_MAX,
)
from deliberation.services.inputs import clean_bounded, clean_question_text

FORMATS = ("json", "csv")
IMPORT_BYTES_MAX = 10 * 1024 * 1024
IMPORT_ROWS_MAX = 50_000
DEFAULT_SOURCE = "import"
# The source of the Habermas Machine bank's questions: its file's name, as
# `import_source_default` makes it from `hm_questions.json`.
BANK_SOURCE = "hm_questions"
BATCH_SIZE = 1000
# Rows per `IN (...)` lookup of what is already there: well under SQLite's variable limit.
LOOKUP_CHUNK = 2000
# Two imports at once run one after the other on PostgreSQL, so that each sees the other's rows.
IMPORT_LOCK_KEY = 0x43470001

CSV_COLUMNS = {
    "question": "text",
    "affirming": "affirming_statement",
    "affirming_statement": "affirming_statement",
    "negating": "negating_statement",
    "negating_statement": "negating_statement",
    "topic": "topic",
    "split": "split",
    "id": "external_id",
}
JSON_FIELDS = {
    "question": "text",
    "affirming_statement": "affirming_statement",
    "negating_statement": "negating_statement",
    "topic": "topic",
    "split": "split",
    "id": "external_id",
}
SPLIT_HELP = "use train, iid_test, ood_test or leave it empty"


@dataclass(frozen=True)
class SkippedRow:
    row: int
    reason: str


@dataclass
class QuestionImportReport:
    """What an import did. `rows` counts the rows read (blank CSV lines aside); each is created,
    already present, or skipped with its reason. A dry run reports what it would create."""

    format: str
    source: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    already_present: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)


@dataclass(frozen=True)
class _Row:
    number: int
    text: str
    affirming_statement: str
    negating_statement: str
    topic: str
    split: str
    external_id: str | None


class _RowError(Exception):
    """A reason to skip one row."""


def import_format_detect(filename: str) -> str | None:
    """`json` or `csv` from the file name's extension, or None when it says neither."""
    suffix = PurePath(filename or "").suffix.lower().lstrip(".")
    return suffix if suffix in FORMATS else None


def import_source_default(filename: str) -> str:
    """The source recorded on imported questions when none is given: the file's name without
    its extension (`hm_questions` for the bank), or "import"."""
    stem = PurePath(filename or "").stem.strip()
    return stem[:SOURCE_MAX].strip() or DEFAULT_SOURCE


def questions_import(
    *,
    file: BinaryIO,
    format: str,
    source: str = DEFAULT_SOURCE,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> QuestionImportReport:
    """Import the questions of `file` (opened in binary mode; at most `IMPORT_BYTES_MAX` bytes).

    Raises `DomainError` for a file that cannot be read as a whole; nothing is imported then.
    `progress(done, total)` is called after each batch written. With `dry_run`, nothing is
    written and the report says what would be created.
    """
    if format not in FORMATS:
        raise DomainError(
            f"Unknown format {format!r}: choose one of {', '.join(FORMATS)}.", code="import_format"
        )
    source = clean_bounded(source, "The source", SOURCE_MAX, "import_source") or DEFAULT_SOURCE
    text = _decoded(file)
    raw_rows = _json_rows(text) if format == "json" else _csv_rows(text)

    report = QuestionImportReport(format=format, source=source, dry_run=dry_run)
    valid: list[_Row] = []
    parse = _json_row if format == "json" else _csv_row
    for number, raw in raw_rows:
        report.rows += 1
        if report.rows > IMPORT_ROWS_MAX:
            raise DomainError(
                f"The file has more than {IMPORT_ROWS_MAX:,} questions; split it into smaller "
                "files.",
                code="import_too_many",
            )
        try:
            valid.append(parse(number, raw))
        except _RowError as exc:
            report.skipped.append(SkippedRow(number, str(exc)))
    if report.rows == 0:
        raise DomainError("The file has no questions.", code="import_empty")

    unique = _unique_in_file(valid, report)
    try:
        with transaction.atomic():
            _imports_lock()
            new = _not_yet_present(unique)
            report.already_present = len(unique) - len(new)
            report.created = len(new)
            if not dry_run:
                _create(new, source=source, progress=progress)
    except IntegrityError:
        # Someone created one of these questions between our check and our insert.
        raise DomainError(
            "Another question with one of these ids was saved while importing; nothing was "
            "imported. Import the file again.",
            code="import_conflict",
        ) from None
    report.skipped.sort(key=lambda skipped: skipped.row)
    return report


def bank_questions_ensure(
    *, entries: Sequence[object], source: str = BANK_SOURCE
) -> list[Question]:
    """The questions that entries of the question bank stand for, in their order: the stored
    question with the entry's id (or, for an entry without one, its text), created from the entry
    when there is none. Entries are read exactly as `questions_import` reads a JSON file; one
    that is not a question raises `DomainError` saying which and why, and nothing is created."""
    rows = []
    for number, raw in enumerate(entries, start=1):
        try:
            rows.append(_json_row(number, raw))
        except _RowError as exc:
            raise DomainError(f"Entry {number} of the bank {exc}.", code="import_row") from None
    with transaction.atomic():
        _imports_lock()
        unique = _unique_in_file(
            rows, QuestionImportReport(format="json", source=source, dry_run=False)
        )
        _create(_not_yet_present(unique), source=source, progress=None)
    by_id = Question.objects.in_bulk(
        [row.external_id for row in rows if row.external_id], field_name="external_id"
    )
    by_text = {
        question.text: question
        for question in Question.objects.filter(
            text__in=[row.text for row in rows if not row.external_id]
        ).order_by("-pk")
    }
    return [by_id[row.external_id] if row.external_id else by_text[row.text] for row in rows]


def _imports_lock() -> None:
    """One import at a time (PostgreSQL), so that two never both decide a question is new."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [IMPORT_LOCK_KEY])


def _decoded(file: BinaryIO) -> str:
    content = file.read(IMPORT_BYTES_MAX + 1)
    if len(content) > IMPORT_BYTES_MAX:
        raise DomainError(
            f"The file is larger than {IMPORT_BYTES_MAX // (1024 * 1024)} MB; split it into "
            "smaller files.",
            code="import_too_big",
        )
    try:
        # utf-8-sig: spreadsheets often start a UTF-8 CSV with a byte order mark.
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError(
            f"The file is not UTF-8 text (undecodable byte at position {exc.start:,}); save it "
            "as UTF-8 and try again.",
            code="import_encoding",
        ) from None


def _json_rows(text: str) -> Iterator[tuple[int, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DomainError(
            f"The file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}.",
            code="import_json",
        ) from None
    if not isinstance(data, list):
        raise DomainError(
            f"The JSON file must hold a list of questions; it holds {_type_name(data)}.",
            code="import_not_list",
        )
    return enumerate(data, start=1)


def _csv_rows(text: str) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as {field: value}; the header is checked before any row is read."""
    # strict: a stray quote would shift every column after it; better to say so.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise _csv_error(reader, exc) from None
    names = [name.strip().lower() for name in header or []]
    expected = "question (required), affirming, negating, topic, split, id"
    if "question" not in names:
        raise DomainError(
            f"The CSV file needs a header row with the columns {expected}; its first row is "
            f"{', '.join(repr(n) for n in names[:8]) or 'empty'}.",
            code="import_csv_header",
        )
    unknown = [n for n in names if n not in CSV_COLUMNS]
    if unknown:
        raise DomainError(
            f"Unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(n) for n in unknown[:8])} in the CSV header; the columns are "
            f"{expected}.",
            code="import_csv_header",
        )
    fields = [CSV_COLUMNS[n] for n in names]
    repeated = sorted({n for n in names if fields.count(CSV_COLUMNS[n]) > 1})
    if repeated:
        raise DomainError(
            f"The CSV header names a column twice ({', '.join(repeated)}).",
            code="import_csv_header",
        )
    return _csv_records(reader, fields)


def _csv_records(reader, fields: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    number = 1
    while True:
        try:
            values = next(reader, None)
        except csv.Error as exc:
            raise _csv_error(reader, exc) from None
        if values is None:
            return
        number += 1
        if not any(value.strip() for value in values):
            continue  # a blank line, or a spreadsheet's empty row of commas
        if len(values) > len(fields):
            yield number, {"_error": f"has {len(values)} values; the header has {len(fields)}"}
            continue
        yield number, dict(zip(fields, values, strict=False))


def _csv_error(reader, exc: csv.Error) -> DomainError:
    return DomainError(
        f"The CSV file cannot be read at line {reader.line_num}: {exc}.", code="import_csv"
    )


def _json_row(number: int, raw: object) -> _Row:
    if not isinstance(raw, dict):
        raise _RowError(f"is {_type_name(raw)}, not an object with a question")
    values = {}
    for key, name in JSON_FIELDS.items():
        value = raw.get(key)
        if value is None:
            values[name] = ""
        elif isinstance(value, str):
            values[name] = value
        elif (
            name in ("topic", "external_id")
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            values[name] = str(value)
        else:
            kind = "text or a whole number" if name in ("topic", "external_id") else "text"
            raise _RowError(f"{key} must be {kind}, not {_type_name(value)}")
    return _validated(number, values)


def _csv_row(number: int, raw: dict[str, str]) -> _Row:
    if "_error" in raw:
        raise _RowError(raw["_error"])
    return _validated(number, {name: raw.get(name) or "" for name in JSON_FIELDS.values()})


def _validated(number: int, values: dict[str, str]) -> _Row:
    if not values["text"].strip():
        raise _RowError("missing question")
    try:
        text = clean_question_text(values["text"])
        affirming = clean_bounded(
            values["affirming_statement"], "The affirming statement", TEXT_MAX
        )
        negating = clean_bounded(values["negating_statement"], "The negating statement", TEXT_MAX)
        topic = clean_bounded(values["topic"], "The topic", TOPIC_MAX)
        external_id = clean_bounded(values["external_id"], "The id", EXTERNAL_ID_MAX) or None
    except DomainError as exc:
        raise _RowError(exc.message.rstrip(".")) from None
    split = values["split"].strip()
    if split not in Question.Split.values:
        raise _RowError(f"bad split value {split[:40]!r}: {SPLIT_HELP}")
    return _Row(number, text, affirming, negating, topic, split, external_id)


def _unique_in_file(rows: list[_Row], report: QuestionImportReport) -> list[_Row]:
    """Drop the rows that repeat an earlier row of the file: the same id, or (without an id)
    the same question text."""
    first_by_id: dict[str, int] = {}
    first_by_text: dict[str, int] = {}
    unique = []
    for row in rows:
        if row.external_id is not None:
            earlier = first_by_id.setdefault(row.external_id, row.number)
            if earlier != row.number:
                report.skipped.append(
                    SkippedRow(
                        row.number,
                        f"duplicate within the file: id {row.external_id!r} is also row {earlier}",
                    )
                )
                continue
        else:
            earlier = first_by_text.get(row.text)
            if earlier is not None:
                report.skipped.append(
                    SkippedRow(
                        row.number, f"duplicate within the file: same question as row {earlier}"
                    )
                )
                continue
        first_by_text.setdefault(row.text, row.number)
        unique.append(row)
    return unique


def _not_yet_present(rows: list[_Row]) -> list[_Row]:
    ids = [row.external_id for row in rows if row.external_id is not None]
    texts = [row.text for row in rows if row.external_id is None]
    present_ids = _present("external_id", ids)
    present_texts = _present("text", texts)
    return [
        row
        for row in rows
        if (
            row.external_id not in present_ids if row.external_id else row.text not in present_texts
        )
    ]


def _present(column: str, values: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(values), LOOKUP_CHUNK):
        chunk = values[start : start + LOOKUP_CHUNK]
        found.update(
            Question.objects.filter(**{f"{column}__in": chunk}).values_list(column, flat=True)
        )
    return found


def _create(rows: list[_Row], *, source: str, progress: Callable[[int, int], None] | None) -> None:
    for start in range(0, len(rows), BATCH_SIZE):
        batch = rows[start : start + BATCH_SIZE]
        Question.objects.bulk_create(
            Question(
                text=row.text,
                affirming_statement=row.affirming_statement,
                negating_statement=row.negating_statement,
                topic=row.topic,
                split=row.split,
                source=source,
                external_id=row.external_id,
            )
            for row in batch
        )
        if progress is not None:
            progress(start + len(batch), len(rows))


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
