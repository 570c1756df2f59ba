"""Mediation that fits the box (issue 12, item 3): a worker process builds its mediation models
when it starts (`MEDIATION_PRELOAD`), torch's threads come from `TORCH_THREADS`, and the web
process never imports torch or sentence-transformers.

The workers are real (`tests.worker`), with the fake backends: what is checked is *when* the
models are built, which the fake backends show as well as the embedded ones, without a model
load on a shared CPU."""

import subprocess
import sys

import pytest

from tests.worker import REPO_ROOT, start_worker, subprocess_env

FAKE_BACKENDS = {"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"}
PRELOADED = "mediation models preloaded"


def _start_and_log(env: dict[str, str]) -> str:
    worker = start_worker(env=env)
    try:
        return worker.log()
    finally:
        worker.stop()


@pytest.mark.worker
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_worker_builds_its_models_before_its_first_task():
    log = _start_and_log({**FAKE_BACKENDS, "MEDIATION_PRELOAD": "1", "TORCH_THREADS": "1"})

    assert log.count(PRELOADED) == 1, log[-3000:]
    line = next(line for line in log.splitlines() if PRELOADED in line)
    assert "generator fake, reward model fake" in line
    # Built during the worker's start, before it took any task from the queue.
    assert log.index(PRELOADED) < log.index(" ready."), log[-3000:]


@pytest.mark.worker
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_worker_without_preload_builds_nothing_at_start():
    log = _start_and_log({**FAKE_BACKENDS, "MEDIATION_PRELOAD": "0"})

    assert PRELOADED not in log
    assert "mediation models not preloaded (MEDIATION_PRELOAD=0)" in log


@pytest.mark.worker
@pytest.mark.timeout(180)
@pytest.mark.django_db(transaction=True)
def test_worker_whose_models_cannot_be_built_still_starts_and_says_why():
    log = _start_and_log({"GENERATOR_BACKEND": "no-such-backend", "MEDIATION_PRELOAD": "1"})

    assert "mediation models not preloaded: ConfigError" in log, log[-3000:]
    assert " ready." in log


def _python(code: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=subprocess_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_torch_threads_set_before_torch_is_imported_holds_once_it_is():
    out = _python(
        "from inference.runtime import torch_threads_set\n"
        "assert torch_threads_set(1) is None\n"
        "import torch\n"
        "print(torch.get_num_threads())\n",
        OMP_NUM_THREADS="2",
    )
    assert out == "1"


def test_torch_threads_set_after_torch_is_imported():
    out = _python(
        "import torch\n"
        "torch.set_num_threads(2)\n"
        "from inference.runtime import torch_threads_set\n"
        "print(torch_threads_set(1), torch.get_num_threads())\n"
    )
    assert out == "1 1"


@pytest.mark.django_db(transaction=True)
def test_web_process_serves_pages_without_torch():
    # A fresh process, as gunicorn's: the WSGI app, every URL's view imported, pages served.
    out = _python(
        "import sys\n"
        "from config.wsgi import application\n"
        "print('views imported' if 'deliberation.views.results' in sys.modules else 'lazy')\n"
        "from django.test import Client\n"
        "from django.urls import get_resolver\n"
        "def walk(patterns):\n"
        "    for p in patterns:\n"
        "        walk(getattr(p, 'url_patterns', []))\n"
        "walk(get_resolver().url_patterns)\n"
        "client = Client(SERVER_NAME='localhost')\n"
        "codes = [client.get(path).status_code for path in ('/', '/accounts/login/')]\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
        "print(codes, heavy)\n",
        DJANGO_ALLOWED_HOSTS="localhost",
    )
    assert out.startswith("views imported\n"), "the WSGI app imports every view as it starts"
    codes, heavy = out.rsplit("] ", 1)
    assert heavy == "[]", out
    assert "500" not in codes, out
