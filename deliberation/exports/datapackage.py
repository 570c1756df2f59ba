"""The data dictionary of a tidy export: a Frictionless Data Package (datapackage.json) whose
resources carry the Table Schemas of `analysis.tidy`, their file, format, size and hash."""

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from analysis.tidy import Table
from deliberation.exports.writers import MEDIATYPE


def file_digest(path: Path) -> tuple[int, str]:
    """(bytes, sha256 hex) of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def resource(table: Table, *, fmt: str, path: Path, rows: int) -> dict:
    size, sha256 = file_digest(path)
    out = {
        "name": table.name,
        "profile": "tabular-data-resource",
        "description": table.description,
        "path": path.name,
        "format": fmt,
        "mediatype": MEDIATYPE[fmt],
        "bytes": size,
        "hash": f"sha256:{sha256}",
        "rows": rows,
        "schema": table.schema(),
    }
    if fmt != "parquet":
        out["encoding"] = "utf-8"
    return out


def package(resources: list[dict], *, filters: dict) -> dict:
    return {
        "profile": "tabular-data-package",
        "name": "common-ground-tidy-export",
        "title": "Common Ground: deliberation data (tidy tables)",
        "description": "One table per kind of row, joined by stable ids. Participants are salted "
        "pseudonymous hashes; bots are told apart by provenance. Filters of this export are in "
        "`filters`.",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "filters": filters,
        "resources": resources,
    }
