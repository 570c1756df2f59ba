"""The report of one deliberation (`analysis.report`) computed on the database's data.

The data goes out through the tidy export (`deliberation.exports.export_write`, Parquet, to a
temporary folder) and is read back with `analysis.tidy.load_tidy`, so the app, `manage.py report`
and a researcher's notebook on a downloaded export compute the same numbers from the same
tables. The export always includes bots so that their number can be shown; the report leaves
them out of every figure unless `include_bots`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from analysis.report import report
from analysis.tidy import load_tidy
from deliberation.exports import export_write
from deliberation.models import Deliberation
from deliberation.selectors.statistics import report_data_version

RESAMPLES = 2000
SEED = 0
CACHE_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class CachedReport:
    result: dict[str, Any]
    computed_at: datetime
    version: str


def report_tables_load(*, deliberation: Deliberation, actor=None) -> dict[str, Any]:
    """The tidy tables of `deliberation` (bots included), as `load_tidy` returns them."""
    with tempfile.TemporaryDirectory(prefix="cg-report-") as folder:
        out = Path(folder) / "tidy"
        export_write(
            schema="tidy",
            fmt="parquet",
            out=out,
            deliberations=[deliberation],
            include_bots=True,
            actor=actor,
            audit_action="report",
        )
        return load_tidy(out)


def report_compute(
    *,
    deliberation: Deliberation,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    include_bots: bool = False,
    actor=None,
) -> dict[str, Any]:
    """`analysis.report.report` of `deliberation`, on its tidy export."""
    return report(
        report_tables_load(deliberation=deliberation, actor=actor),
        resamples=resamples,
        seed=seed,
        include_bots=include_bots,
        deliberation=str(deliberation.public_id),
    )


def report_cached(
    *, deliberation: Deliberation, include_bots: bool = False, actor=None
) -> CachedReport:
    """The report with the default resamples and seed, computed once and kept in the cache until
    the deliberation's data changes (`report_data_version`). The cached path reads one row."""
    version = report_data_version(deliberation)
    key = f"cg:report:{deliberation.public_id}:{int(include_bots)}:{RESAMPLES}:{SEED}:{version}"
    found = cache.get(key)
    if found is not None:
        return CachedReport(found["result"], found["computed_at"], version)
    result = report_compute(deliberation=deliberation, include_bots=include_bots, actor=actor)
    computed_at = timezone.now()
    cache.set(key, {"result": result, "computed_at": computed_at}, timeout=CACHE_SECONDS)
    return CachedReport(result, computed_at, version)
