"""A rating stored while an export runs is either in it or not, never half: the export reads one
snapshot. A real second connection (a thread) commits the rating in the middle of the export."""

import io
import json
import threading

import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection

from analysis.tidy import load_tidy
from deliberation.exports import export_write
from deliberation.models import Deliberation, Rating

pytestmark = pytest.mark.timeout(180)


def _rate_concurrently(values: dict) -> int:
    """Store a rating from another thread (its own database connection) and wait for it."""
    stored = {}

    def write():
        try:
            stored["pk"] = Rating.objects.create(**values).pk  # committed: autocommit
        finally:
            connection.close()

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(30)
    assert "pk" in stored, "the concurrent writer failed"
    return stored["pk"]


@pytest.mark.parametrize("schema", ["tidy", "hm"])
def test_a_rating_stored_during_an_export_is_in_it_or_not_never_half(
    transactional_db, fake_model_servers, eager_tasks, tmp_path, schema
):
    out = io.StringIO()
    call_command("simulate", "--groups", "1", "--size", "3", "--json", stdout=out)
    deliberation = Deliberation.objects.get(public_id=json.loads(out.getvalue())["deliberation"])
    rating = Rating.objects.filter(iteration__round__group__deliberation=deliberation).first()
    values = {f: getattr(rating, f) for f in ("participant_id", "statement_id", "iteration_id",
                                              "agreement", "quality", "response_duration_ms")}  # fmt: skip
    rating.delete()
    before = Rating.objects.count()
    concurrent: list[int] = []

    def progress(done: int, total: int) -> None:
        if not concurrent:  # after the export's first reads, before it reads the ratings
            concurrent.append(_rate_concurrently(values))

    fmt = "parquet"
    first = export_write(schema=schema, fmt=fmt, out=tmp_path / "during", deliberations=[deliberation],
                         include_bots=True, progress=progress)  # fmt: skip
    assert concurrent and Rating.objects.count() == before + 1  # it was stored meanwhile
    after = export_write(schema=schema, fmt=fmt, out=tmp_path / "after", deliberations=[deliberation],
                         include_bots=True)  # fmt: skip

    def rating_ids(path) -> list[int]:
        if schema == "tidy":
            return list(load_tidy(path)["ratings"]["rating_id"])
        frame = pd.read_parquet(path)
        return [int(i) for ids in frame["ratings.metadata.id"] for i in ids if pd.notna(i)]

    during_ids, after_ids = rating_ids(first.path), rating_ids(after.path)
    assert len(during_ids) == before and concurrent[0] not in during_ids
    assert len(after_ids) == before + 1 and concurrent[0] in after_ids
    if schema == "hm":
        frame = pd.read_parquet(first.path)
        assert sum(list(a).count("MOCK") for a in frame["ratings.agreement"]) == 1
