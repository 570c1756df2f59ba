"""One writer per format. Each takes rows (tuples in column order) in batches and writes them as
they come: Parquet a row group per batch, CSV and JSON Lines line by line. Nothing is kept."""

import csv
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from deliberation.exports.columns import Column

FORMATS = ("parquet", "csv", "jsonl")
SUFFIX = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}
MEDIATYPE = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "jsonl": "application/jsonl",
}


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default)


class Writer:
    def __init__(self, path: Path, columns: list[Column]):
        self.path = path
        self.columns = columns
        self.rows = 0

    def write(self, rows: list[tuple]) -> None:
        if rows:
            self._write(rows)
            self.rows += len(rows)

    def _write(self, rows: list[tuple]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class ParquetWriter(Writer):
    def __init__(self, path: Path, columns: list[Column]):
        super().__init__(path, columns)
        self.schema = pa.schema([pa.field(c.name, c.arrow) for c in columns])
        self.writer = pq.ParquetWriter(path, self.schema, compression="zstd")

    def _write(self, rows: list[tuple]) -> None:
        arrays = []
        for i, column in enumerate(self.columns):
            values = [row[i] for row in rows]
            if column.json_text_in_parquet:
                values = [None if v is None else _json(v) for v in values]
            arrays.append(pa.array(values, type=column.arrow))
        self.writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def _iso(value: datetime) -> str:
    return value.isoformat()


def _true_false(value) -> str:
    return "true" if value else "false"


def _encoders(columns: list[Column], *, text_json: bool) -> list[tuple[int, object]]:
    """(index, encode) for the columns whose values need encoding; the rest pass as they are."""
    out = []
    for i, column in enumerate(columns):
        if column.type == "datetime":
            out.append((i, _iso))
        elif column.type in ("array", "object") and text_json:
            out.append((i, _json))
        elif column.type == "array":
            out.append((i, _json_ready))
        elif column.type == "boolean" and text_json:
            out.append((i, _true_false))
    return out


def _json_ready(value):
    """Lists for JSON Lines: datetimes inside them as ISO text."""
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value.isoformat() if isinstance(value, datetime) else value


def _encoded(rows: list[tuple], encoders) -> list[list]:
    out = []
    for row in rows:
        row = list(row)
        for i, encode in encoders:
            value = row[i]
            if value is not None:
                row[i] = encode(value)
        out.append(row)
    return out


class CsvWriter(Writer):
    """CSV with a header row: empty for none, true/false, ISO times, JSON text for lists."""

    def __init__(self, path: Path, columns: list[Column]):
        super().__init__(path, columns)
        self.encoders = _encoders(columns, text_json=True)
        self.file = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed in close)
        self.csv = csv.writer(self.file)
        self.csv.writerow([c.name for c in columns])

    def _write(self, rows: list[tuple]) -> None:
        self.csv.writerows(_encoded(rows, self.encoders))  # None is written as ""

    def close(self) -> None:
        self.file.close()


class JsonlWriter(Writer):
    def __init__(self, path: Path, columns: list[Column]):
        super().__init__(path, columns)
        self.names = [c.name for c in columns]
        self.encoders = _encoders(columns, text_json=False)
        self.encode = json.JSONEncoder(ensure_ascii=False).encode
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed in close)

    def _write(self, rows: list[tuple]) -> None:
        names, encode = self.names, self.encode
        self.file.writelines(
            encode(dict(zip(names, row, strict=True))) + "\n"
            for row in _encoded(rows, self.encoders)
        )

    def close(self) -> None:
        self.file.close()


WRITERS = {"parquet": ParquetWriter, "csv": CsvWriter, "jsonl": JsonlWriter}


def open_writer(fmt: str, path: Path, columns: list[Column]) -> Writer:
    return WRITERS[fmt](path, columns)
