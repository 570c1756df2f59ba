"""`export_write`: a study's data out of the database, as files a researcher opens without our code.

The whole export reads one snapshot (a REPEATABLE READ transaction on PostgreSQL), so a rating
stored while it runs is either in every table or in none. Files are written under a temporary
name beside `out` and moved into place at the end: a failed export leaves nothing behind.
"""

import json
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from deliberation.access import export_identifiers_allowed
from deliberation.errors import NotAllowed
from deliberation.exports import datapackage, hm, tidy
from deliberation.exports.columns import table_columns
from deliberation.exports.errors import ExportError
from deliberation.exports.pseudonyms import pseudonymiser
from deliberation.exports.writers import FORMATS, SUFFIX, open_writer
from deliberation.models import AuditLog, Deliberation

SCHEMAS = ("hm", "tidy")
CHUNK_SIZE = 5_000
Progress = Callable[[int, int], None]


@dataclass
class ExportResult:
    path: Path
    rows: dict[str, int] = field(default_factory=dict)  # rows written, per table
    bytes: int = 0  # size of what was written (all files)


def export_write(
    *,
    schema: str,
    fmt: str,
    out: Path,
    deliberations: Sequence[Deliberation] | None = None,
    include_bots: bool = False,
    include_identifiers: bool = False,
    actor=None,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
    audit_action: str = "export",
) -> ExportResult:
    """Write the data of `deliberations` (None: all) in `schema` ("hm": one file, one row per
    participant per iteration; "tidy": a folder of tables with datapackage.json, or a .zip of it
    when `out` ends in .zip) and `fmt` ("parquet", "csv", "jsonl") to `out`, which must not exist
    yet (an empty folder is fine for tidy).

    Participants appear as salted hashes; bots only with `include_bots`; panel identifiers only
    with `include_identifiers`, which needs `actor` to hold the export_identifiers permission.
    `progress(done, total)` is called after each chunk (units: rows read). The export is recorded
    in the audit log under `audit_action` ("export"; "report" when the data only feeds the
    statistics of `services.reports` and never leaves the server). Raises ExportError (NotAllowed for identifiers) before writing anything.
    """
    out = Path(out)
    _check(schema=schema, fmt=fmt, out=out, deliberations=deliberations,
           include_identifiers=include_identifiers)  # fmt: skip
    if include_identifiers and (actor is None or not export_identifiers_allowed(actor)):
        raise NotAllowed(
            "Exporting panel identifiers needs the export_identifiers permission.",
            code="identifiers_not_allowed",
        )
    filters = {
        "deliberations": None
        if deliberations is None
        else [str(d.public_id) for d in deliberations],
        "include_bots": include_bots,
        "include_identifiers": include_identifiers,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    work = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    try:
        with _snapshot():
            ids = (
                Deliberation.objects.all()
                if deliberations is None
                else Deliberation.objects.filter(pk__in=[d.pk for d in deliberations])
            )
            scope = tidy.Scope(
                deliberations=ids.values("pk"), include_bots=include_bots, pseudonym=pseudonymiser()
            )
            if schema == "tidy":
                written, rows = _write_tidy(scope, fmt, work, zipped=out.suffix == ".zip",
                                            filters=filters, include_identifiers=include_identifiers,
                                            progress=progress, chunk_size=chunk_size)  # fmt: skip
            else:
                written = work / f"hm{SUFFIX[fmt]}"
                rows = hm.write(scope, fmt=fmt, path=written, progress=progress,
                                chunk_size=chunk_size)  # fmt: skip
            _audit(actor, deliberations, action=audit_action, schema=schema, fmt=fmt,
                   filters=filters, rows=rows)  # fmt: skip
            _remove(out)  # only an empty folder can be here (checked above)
            written.rename(out)  # a failure here rolls the audit entry back
    finally:
        _remove(work)
    return ExportResult(path=out, rows=rows, bytes=_size(out))


def _check(*, schema: str, fmt: str, out: Path, deliberations, include_identifiers: bool) -> None:
    if schema not in SCHEMAS:
        raise ExportError(f"Unknown schema {schema!r}: use hm or tidy.", code="unknown_schema")
    if fmt not in FORMATS:
        raise ExportError(
            f"Unknown format {fmt!r}: use {', '.join(FORMATS)}.", code="unknown_format"
        )
    if deliberations is not None and not deliberations:
        raise ExportError("No deliberation to export.", code="no_deliberation")
    if schema == "hm" and include_identifiers:
        raise ExportError(
            "Panel identifiers are exported with the tidy schema only (its panel_identities "
            "table).",
            code="identifiers_hm",
        )
    if schema == "hm" and out.suffix == ".zip":
        raise ExportError(
            "The hm schema is one file: give a file name, not a .zip.", code="bad_out"
        )
    if out.is_dir():
        if schema == "hm" or out.suffix == ".zip" or any(out.iterdir()):
            raise ExportError(f"{out} exists and is not an empty folder.", code="out_exists")
    elif out.exists():
        raise ExportError(f"{out} exists already: choose a new path.", code="out_exists")
    if out.parent.exists() and not out.parent.is_dir():
        raise ExportError(f"{out.parent} is not a folder.", code="bad_out")


@contextmanager
def _snapshot() -> Iterator[None]:
    """One transaction that sees one snapshot of the database (REPEATABLE READ on PostgreSQL).
    Inside a caller's transaction, that transaction decides what is seen."""
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _write_tidy(scope, fmt: str, work: Path, *, zipped: bool, filters: dict,
                include_identifiers: bool, progress: Progress | None,
                chunk_size: int) -> tuple[Path, dict[str, int]]:  # fmt: skip
    """The tables and datapackage.json in `work`/tidy (zipped to `work`/tidy.zip when asked);
    returns what was written and the rows per table."""
    folder = work / "tidy"
    folder.mkdir()
    sources = tidy.sources(scope, include_identifiers=include_identifiers)
    total = sum(source.query.count() for source in sources) if progress else 0
    done = 0
    if progress:
        progress(0, total)
    rows: dict[str, int] = {}
    resources = []
    for source in sources:
        path = folder / f"{source.table.name}{SUFFIX[fmt]}"
        writer = open_writer(fmt, path, table_columns(source.table))
        try:
            for chunk in tidy.chunked(source.query, chunk_size):
                writer.write(source.convert(chunk))
                done += len(chunk)
                if progress:
                    progress(done, total)
        finally:
            writer.close()
        rows[source.table.name] = writer.rows
        resources.append(datapackage.resource(source.table, fmt=fmt, path=path, rows=writer.rows))
    descriptor = datapackage.package(resources, filters=filters)
    (folder / "datapackage.json").write_text(json.dumps(descriptor, indent=2) + "\n")
    if not zipped:
        return folder, rows
    archive = work / "tidy.zip"
    method = zipfile.ZIP_STORED if fmt == "parquet" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(archive, "w", compression=method) as zipfile_:
        for path in sorted(folder.iterdir()):
            zipfile_.write(path, arcname=path.name)
    return archive, rows


def _audit(actor, deliberations, *, action, schema, fmt, filters, rows) -> None:
    data = {"schema": schema, "format": fmt, "filters": filters, "rows": rows}
    if deliberations is None:
        targets = [("installation", 0)]
    else:
        targets = [("deliberation", d.pk) for d in deliberations]
    AuditLog.objects.bulk_create(
        [
            AuditLog(actor=actor, action=action, target_type=kind, target_id=pk, data=data)
            for kind, pk in targets
        ]
    )


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size
