"""The `tidy` export of a simulated study, read back as a researcher would (`load_tidy`, and
Frictionless for the data dictionary): every row once, the same types from every format, keys that
join, and no participant identifier in any byte unless asked for with the permission."""

import io
import json
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.contrib.auth.models import Permission
from django.contrib.sessions.backends.db import SessionStore

from analysis.tidy import TABLE_NAMES, TABLES, load_tidy
from deliberation.access import remember_participant
from deliberation.errors import NotAllowed
from deliberation.exports import ExportError, export_write
from deliberation.exports.pseudonyms import participant_pseudonym
from deliberation.models import (
    AuditLog,
    CandidateSet,
    Condition,
    Critique,
    Group,
    Iteration,
    ModelVersion,
    Opinion,
    PanelIdentity,
    Participant,
    PositionRating,
    Prediction,
    Question,
    Ranking,
    Rating,
    Round,
    Statement,
    SurveyResponse,
)
from tests.deliberation.export_study import simulated_study  # noqa: F401 (the `study` fixture)

pytestmark = [pytest.mark.timeout(240), pytest.mark.django_db]


def _database_counts(deliberation) -> dict[str, int]:
    rounds = Round.objects.filter(group__deliberation=deliberation)
    iterations = Iteration.objects.filter(round__in=rounds)
    statements = Statement.objects.filter(iteration__in=iterations)
    sets = CandidateSet.objects.filter(iteration__in=iterations)
    return {
        "questions": Question.objects.filter(rounds__in=rounds).distinct().count(),
        "deliberations": 1,
        "conditions": Condition.objects.filter(deliberation=deliberation).count(),
        "groups": Group.objects.filter(deliberation=deliberation).count(),
        "participants": Participant.objects.filter(deliberation=deliberation).count(),
        "rounds": rounds.count(),
        "round_exclusions": Round.excluded.through.objects.filter(round__in=rounds).count(),
        "iterations": iterations.count(),
        "opinions": Opinion.objects.filter(iteration__in=iterations).count(),
        "critiques": Critique.objects.filter(iteration__in=iterations).count(),
        "statements": statements.count(),
        "predictions": Prediction.objects.filter(statement__in=statements).count(),
        "ratings": Rating.objects.filter(iteration__in=iterations).count(),
        "rankings": sum(len(r.statement_ids) for r in Ranking.objects.filter(round__in=rounds)),
        "position_ratings": PositionRating.objects.filter(round__in=rounds).count(),
        "survey_responses": SurveyResponse.objects.filter(
            participant__deliberation=deliberation
        ).count(),
        "model_versions": ModelVersion.objects.filter(
            pk__in=[
                *statements.values_list("model_version_id", flat=True),
                *sets.values_list("reward_model_id", flat=True),
            ]  # fmt: skip
        ).count(),
    }


@pytest.mark.parametrize("fmt,name", [("parquet", "out"), ("csv", "out.zip"), ("jsonl", "out")])
def test_tidy_export_reads_back_with_the_database_rows_and_keys_that_join(
    study, tmp_path, fmt, name
):
    result = export_write(
        schema="tidy", fmt=fmt, out=tmp_path / name, deliberations=[study], include_bots=True
    )

    frames = load_tidy(result.path)
    assert list(frames) == list(TABLE_NAMES)
    counts = _database_counts(study)
    assert {t: len(frame) for t, frame in frames.items()} == counts == result.rows
    assert counts["ratings"] and counts["rankings"] and counts["critiques"]
    for table in TABLES:
        frame = frames[table.name]
        assert list(frame.columns) == table.field_names
        assert not frame.duplicated(list(table.primary_key)).any(), table.name
        for column, ref, ref_column in table.foreign_keys:
            values = set(frame[column].dropna())
            missing = values - set(frames[ref][ref_column])
            assert not missing, f"{table.name}.{column} -> {ref}: {sorted(missing)[:5]}"
    # Every rating exactly once, with its values.
    stored = {
        r.pk: (
            participant_pseudonym(r.participant.public_id),
            r.statement_id,
            r.agreement,
            r.quality,
        )  # fmt: skip
        for r in Rating.objects.filter(iteration__round__group__deliberation=study).select_related(
            "participant"
        )
    }
    ratings = frames["ratings"]
    assert {
        row.rating_id: (row.participant_id, row.statement_id, row.agreement, row.quality)
        for row in ratings.itertuples()
    } == stored
    # Lists and objects come back as Python values; types are the same from every format.
    statements = frames["statements"].set_index("statement_id")
    for statement in Statement.objects.filter(iteration__round__group__deliberation=study):
        assert statements.loc[statement.pk, "parent_statement_ids"] == sorted(
            statement.parents.values_list("pk", flat=True)
        )
    assert {tuple(c) for c in frames["conditions"]["comparisons"]} == {
        tuple(c.comparisons) for c in Condition.objects.filter(deliberation=study)
    }
    assert str(ratings["created_at"].dtype) == "datetime64[us, UTC]"
    assert str(ratings["agreement"].dtype) == "Int64"
    assert str(statements["is_winner"].dtype) == "boolean"
    assert set(frames["participants"]["provenance"]) == {"bot_citizen"}


def test_tidy_csv_export_is_a_valid_frictionless_data_package(study, tmp_path):
    import frictionless

    out = tmp_path / "tidy"
    export_write(schema="tidy", fmt="csv", out=out, deliberations=[study], include_bots=True)

    package = json.loads((out / "datapackage.json").read_text())
    assert [r["name"] for r in package["resources"]] == list(TABLE_NAMES)
    assert all(r["hash"].startswith("sha256:") and r["bytes"] > 0 for r in package["resources"])
    report = frictionless.validate(out / "datapackage.json")
    assert report.valid, report.flatten(["resourceName", "rowNumber", "fieldName", "note"])[:10]
    # The validation is real: a rating out of its 1..7 range is an error.
    ratings = out / "ratings.csv"
    lines = ratings.read_text().splitlines()
    cells = lines[1].split(",")
    cells[4] = "9"
    ratings.write_text("\n".join([lines[0], ",".join(cells), *lines[2:]]) + "\n")
    package["resources"][TABLE_NAMES.index("ratings")].pop("hash")
    package["resources"][TABLE_NAMES.index("ratings")].pop("bytes")
    (out / "datapackage.json").write_text(json.dumps(package))
    assert not frictionless.validate(out / "datapackage.json").valid


def _decoded(name: str, raw: bytes) -> list[bytes]:
    """The bytes of a file, and, for Parquet (whose pages are compressed), its values as text."""
    out = [raw]
    if name.endswith(".parquet"):
        rows = pq.read_table(io.BytesIO(raw)).to_pylist()
        out.append(json.dumps(rows, default=str, ensure_ascii=False).encode())
    if name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for member in archive.namelist():
                out += _decoded(member, archive.read(member))
    return out


def _all_text(path: Path) -> bytes:
    """Every byte written, with Parquet files decoded and zip members extracted."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return b"\n".join(chunk for file in files for chunk in _decoded(file.name, file.read_bytes()))


def test_no_participant_uuid_session_or_panel_id_leaves_without_the_permission(
    study, tmp_path, django_user_model
):
    members = list(Participant.objects.filter(deliberation=study))
    secrets: list[str] = []
    for n, member in enumerate(members):
        PanelIdentity.objects.create(
            participant=member, deliberation=study, panel="prolific",
            external_id=f"PROLIFIC{n:04d}XQ", study_id=f"STUDYZ{n:04d}", session_id=f"SESSQ{n:04d}",
        )  # fmt: skip
        session = SessionStore()
        session[f"cg-participant-{study.public_id}"] = str(member.public_id)
        session.create()
        secrets += [str(member.public_id), member.public_id.hex, session.session_key,
                    f"PROLIFIC{n:04d}XQ", f"STUDYZ{n:04d}", f"SESSQ{n:04d}"]  # fmt: skip
    assert remember_participant  # the session key the pages use, as stored above
    researcher = django_user_model.objects.create_user("researcher")
    exports = [
        export_write(schema="tidy", fmt=fmt, out=tmp_path / f"tidy-{fmt}{suffix}",
                     deliberations=[study], include_bots=True, actor=researcher)
        for fmt in ("parquet", "csv", "jsonl") for suffix in ("", ".zip")
    ]  # fmt: skip
    for result in exports:
        written = _all_text(result.path)
        leaked = [s for s in secrets if s.encode() in written or s.upper().encode() in written]
        assert not leaked, f"{result.path.name}: {leaked[:3]}"
        assert participant_pseudonym(members[0].public_id).encode() in written

    with pytest.raises(NotAllowed):
        export_write(schema="tidy", fmt="csv", out=tmp_path / "refused", deliberations=[study],
                     include_bots=True, include_identifiers=True, actor=researcher)  # fmt: skip
    assert not (tmp_path / "refused").exists()

    # With the permission the identifiers are there (so the search above can find them).
    researcher.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
    researcher = django_user_model.objects.get(pk=researcher.pk)
    result = export_write(schema="tidy", fmt="csv", out=tmp_path / "with-ids",
                          deliberations=[study], include_bots=True, include_identifiers=True,
                          actor=researcher)  # fmt: skip
    with pytest.raises(ExportError, match="tidy schema only"):
        export_write(schema="hm", fmt="csv", out=tmp_path / "hm.csv", deliberations=[study],
                     include_bots=True, include_identifiers=True, actor=researcher)  # fmt: skip
    assert not (tmp_path / "hm.csv").exists()
    frames = load_tidy(result.path)
    identities = frames["panel_identities"]
    assert len(identities) == len(members)
    assert set(identities["external_id"]) == {f"PROLIFIC{n:04d}XQ" for n in range(len(members))}
    assert set(identities["participant_id"]) == set(frames["participants"]["participant_id"])
    assert str(members[0].public_id).encode() in _all_text(result.path)


def test_bots_are_left_out_unless_asked_for_and_every_export_is_audited(study, tmp_path):
    bots = [
        participant_pseudonym(p.public_id) for p in Participant.objects.filter(deliberation=study)
    ]
    before = AuditLog.objects.filter(action="export").count()

    result = export_write(schema="tidy", fmt="jsonl", out=tmp_path / "humans",
                          deliberations=[study])  # fmt: skip

    frames = load_tidy(result.path)
    for name in ("participants", "opinions", "critiques", "predictions", "ratings", "rankings",
                 "position_ratings", "survey_responses"):  # fmt: skip
        assert frames[name].empty, name
    assert (
        len(frames["statements"])
        == Statement.objects.filter(iteration__round__group__deliberation=study).count()
    )
    assert frames["statements"]["source_opinion_id"].isna().all()  # bots' opinions are not here
    written = _all_text(result.path)
    assert not [b for b in bots if b.encode() in written]
    entry = AuditLog.objects.filter(action="export").first()
    assert AuditLog.objects.filter(action="export").count() == before + 1
    assert (entry.target_type, entry.target_id) == ("deliberation", study.pk)
    assert entry.data["schema"] == "tidy" and entry.data["format"] == "jsonl"
    assert entry.data["filters"] == {
        "deliberations": [str(study.public_id)], "include_bots": False,
        "include_identifiers": False,
    }  # fmt: skip
    assert entry.data["rows"]["ratings"] == 0 and entry.data["rows"]["statements"] > 0
