"""`manage.py export`: bad arguments and unknown deliberations exit 1 with one clear line and
write nothing; a good one writes the export and a progress bar on standard error.

The refusals run the command line in this process (Django's own `manage.py` entry, standard
error captured); one refusal and the good export run as real `manage.py` subprocesses."""

import contextlib
import io
import subprocess
import sys
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.core.management import ManagementUtility

from deliberation.models import AuditLog
from deliberation.services.deliberations import deliberation_create
from tests.worker import REPO_ROOT, subprocess_env

pytestmark = pytest.mark.timeout(300)


def _export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "export", *args],
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )


def _export_here(*args: str) -> tuple[int, str]:
    """`manage.py export ARGS` in this process: (exit status, standard error)."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        try:
            ManagementUtility(["manage.py", "export", *args]).execute()
        except SystemExit as exit_:
            return int(exit_.code or 0), stderr.getvalue()
    return 0, stderr.getvalue()


@pytest.fixture
def deliberation(transactional_db):
    return deliberation_create(
        created_by=None, title="Export study", questions=["Should parks open later?"]
    )


@pytest.fixture
def researcher(transactional_db, django_user_model):
    return django_user_model.objects.create_user("researcher")


def _refusals(deliberation, tmp_path) -> list[tuple[list[str], str]]:
    out = str(tmp_path / "out")
    good = ["--schema", "tidy", "--format", "csv", "--out", out]
    return [
        (["--schema", "wide", "--format", "csv", "--out", out], "invalid choice: 'wide'"),
        (["--schema", "tidy", "--format", "xlsx", "--out", out], "invalid choice: 'xlsx'"),
        (["--schema", "tidy", "--format", "csv"], "the following arguments are required: --out"),
        ([*good, "--deliberation", str(uuid.uuid4())], "No deliberation"),
        ([*good, "--deliberation", "not-a-uuid"], "No deliberation 'not-a-uuid'"),
        ([*good, "--include-identifiers"], "--include-identifiers needs --user NAME"),
        ([*good, "--include-identifiers", "--user", "researcher"], "may not export panel"),
        ([*good, "--user", "nobody"], "No user 'nobody'"),
        (["--schema", "hm", "--format", "csv", "--out", str(tmp_path / "x.zip")], "one file"),
        (["--schema", "tidy", "--format", "csv", "--out", str(tmp_path / "file")], "exists"),
    ]


def test_bad_arguments_exit_1_with_one_line_and_write_nothing(deliberation, researcher, tmp_path):
    (tmp_path / "file").write_text("mine")
    refusals = _refusals(deliberation, tmp_path)
    for index, (args, message) in enumerate(refusals):
        if index == 0:  # one as a real process: its exit status and standard error
            result = _export(*args)
            status, stderr = result.returncode, result.stderr
        else:
            status, stderr = _export_here(*args)
        assert status == 1, (args, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, stderr)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["file"], args
        assert (tmp_path / "file").read_text() == "mine"
    assert not AuditLog.objects.filter(action="export").exists()


def test_export_writes_the_files_with_a_progress_bar_and_audits_the_user(
    deliberation, researcher, tmp_path
):
    researcher.user_permissions.add(Permission.objects.get(codename="export_identifiers"))
    out = tmp_path / "tidy.zip"
    result = _export(
        "--schema", "tidy", "--format", "parquet", "--out", str(out),
        "--deliberation", str(deliberation.public_id), "--include-identifiers",
        "--user", "researcher",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert out.is_file() and f"Wrote {out}" in result.stdout
    assert "export:" in result.stderr and "rows" in result.stderr  # the tqdm bar
    entry = AuditLog.objects.get(action="export")
    assert entry.actor == researcher and entry.target_id == deliberation.pk
    assert entry.data["filters"]["include_identifiers"] is True
    assert "panel_identities" in entry.data["rows"]
