"""Columns of an export: a name, a Frictionless type (how CSV and JSON Lines encode it) and an
Arrow type (how Parquet stores it).

In Parquet, `array`/`object` columns of the tidy schema are JSON text (their contents vary from
row to row); the hm schema's list columns are native Arrow lists, as their analysis explodes them.
"""

from dataclasses import dataclass

import pyarrow as pa

from analysis.tidy import Table

ARROW_OF_TYPE = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "array": pa.string(),
    "object": pa.string(),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Frictionless type: string integer number boolean datetime array object
    arrow: pa.DataType

    @property
    def json_text_in_parquet(self) -> bool:
        return self.type in ("array", "object") and self.arrow == pa.string()


def table_columns(table: Table) -> list[Column]:
    return [Column(f.name, f.type, ARROW_OF_TYPE[f.type]) for f in table.fields]
