"""A real Celery worker for the tests that need one (`@pytest.mark.worker`, the browser tests).

The worker is a subprocess of the test run, pointed at the test database pytest-django created
(read from the live connection, never hard-coded) and at the broker of the test settings. It is
started after the database is set up and stopped (its whole process group) when the fixture
that started it is finalised. Use it with `transactional_db`, so that the worker sees the rows a
test commits.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_S = 60


def current_database_url() -> str:
    """A DATABASE_URL for the database the Django connection uses now (the test database)."""
    from django.db import connection

    s = connection.settings_dict
    user = quote(s.get("USER") or "", safe="")
    password = quote(str(s.get("PASSWORD") or ""), safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = s.get("HOST") or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(s['NAME'], safe='')}"


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment of this test run, pointed at the test database and broker, with the same
    inference backends; for `manage.py` and `celery` subprocesses."""
    from django.conf import settings

    env = dict(os.environ)
    env.update(settings.INFERENCE_ENV)
    env.update(
        {
            "DATABASE_URL": current_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    env.update(extra)
    return env


class Worker:
    """One `celery worker` subprocess (`--pool=solo` unless asked otherwise) and its log.

    `beat` runs the beat's sweeps in it too (as docker-compose's worker does), and `env` adds to
    (or overrides) its environment, e.g. short leases and sweeps for the fault tests.
    """

    def __init__(
        self,
        log_path: Path,
        *,
        pool: str = "solo",
        beat: bool = False,
        env: dict[str, str] | None = None,
    ):
        self.log_path = log_path
        self.name = f"cgtest-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.process: subprocess.Popen | None = None
        self.pool = pool
        self.beat = beat
        self.env = env or {}

    def start(self) -> None:
        from django.conf import settings

        if settings.CELERY_BROKER_URL.startswith("memory://"):
            pytest.fail(
                "The worker tests need a real broker: set CELERY_BROKER_URL (e.g. "
                "redis://127.0.0.1:6379/15) and CELERY_TASK_ALWAYS_EAGER=0, as `make test` does."
            )
        from config import celery_app

        # Tasks left on the queue by earlier runs or other tests would run against this database.
        celery_app.control.purge()
        beat = []
        if self.beat:
            beat = ["--beat", "--schedule", str(self.log_path.parent / "beat-schedule")]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    f"--pool={self.pool}",
                    "--concurrency=1",
                    "-Q",
                    "celery",
                    "--loglevel=info",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    *beat,
                    "-n",
                    self.name,
                ],
                cwd=REPO_ROOT,
                # Models are built on a worker's first group unless a test asks for the preload: most
                # worker tests never mediate with the embedded models.
                env=subprocess_env(
                    CELERY_TASK_ALWAYS_EAGER="0", **{"MEDIATION_PRELOAD": "0", **self.env}
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.wait_for(r"\bready\.", timeout=READY_TIMEOUT_S, what="the worker to be ready")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for(self, pattern: str, *, timeout: float, what: str) -> re.Match:
        """Wait (bounded) for `pattern` to appear in the worker's log."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while True:
            match = regex.search(self.log())
            if match:
                return match
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(
                    f"the Celery worker exited ({self.process.returncode}) while waiting for "
                    f"{what}:\n{self.log()[-4000:]}"
                )
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout:g} s waiting for {what}:\n{self.log()[-4000:]}"
                )
            time.sleep(0.1)

    def pause(self) -> None:
        """Stop taking tasks from the queue (tasks sent meanwhile wait there) until `resume`."""
        self._control("cancel_consumer")

    def resume(self) -> None:
        self._control("add_consumer")

    def _control(self, command: str) -> None:
        from config import celery_app

        replies = getattr(celery_app.control, command)(
            "celery", destination=[self.name], reply=True, timeout=10
        )
        if not replies or not all("ok" in r.get(self.name, {}) for r in replies):
            pytest.fail(f"the worker did not accept {command}: {replies!r}\n{self.log()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the worker's whole process group (pool, beat and all), as a crash would; the
        log stays for `stop`."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Terminate the worker's whole process group, then remove its log (kept when
        `CG_KEEP_WORKER_LOG` is set, for debugging)."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
            except ProcessLookupError:
                pass
        if os.environ.get("CG_KEEP_WORKER_LOG"):
            sys.stderr.write(f"worker log kept at {self.log_path}\n")
        else:
            shutil.rmtree(self.log_path.parent, ignore_errors=True)


def start_worker(**options) -> Worker:
    """Start a worker (options as `Worker`'s); the caller stops it. Call with the test database
    set up."""
    log_dir = Path(tempfile.mkdtemp(prefix="cg-worker-"))
    worker = Worker(log_dir / "worker.log", **options)
    try:
        worker.start()
    except BaseException:
        worker.stop()
        raise
    return worker


def wait_until(predicate, *, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate` (bounded) until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def running_worker(django_db_blocker):
    """A worker for the duration of the block; use it from a module-scoped fixture that depends
    on `django_db_setup`, so that it starts once, on the test database::

        @pytest.fixture(scope="module")
        def live_worker(django_db_setup, django_db_blocker):
            with running_worker(django_db_blocker) as worker:
                yield worker
    """
    with django_db_blocker.unblock():
        worker = start_worker()
    try:
        yield worker
    finally:
        worker.stop()
