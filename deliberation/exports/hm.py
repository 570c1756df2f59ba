"""The `hm` schema (HM_SCHEMA.md): one row per participant per iteration."""

from pathlib import Path

from deliberation.exports.errors import ExportError


def write(scope, *, fmt: str, path: Path, progress, chunk_size: int) -> dict[str, int]:
    raise ExportError("The hm schema is not ready yet.", code="not_ready")
