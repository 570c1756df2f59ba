"""Security headers, login throttling, the client address behind trusted proxies, and refusals
logged on one line; through Django's test client on the real PostgreSQL."""

import logging
import os
import re
import subprocess
import sys

import pytest
from django.test import Client

from config.log_filters import RefusalsOnOneLine
from deliberation.services.deliberations import deliberation_create
from tests.commits import CommittingClient
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
INLINE_STYLE = re.compile(r"<style\b", re.I)
# htmx evaluates these as JavaScript (a trigger filter in brackets, hx-on, js: values): the
# policy allows no eval, so they would fail in the browser.
HTMX_EVAL = re.compile(r"hx-trigger=\"[^\"]*\[|hx-on|hx-vals=['\"]js:", re.I)
TEMPLATE_COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.S)


def _directives(header: str) -> dict[str, list[str]]:
    parts = (p.strip().split() for p in header.split(";") if p.strip())
    return {p[0]: p[1:] for p in parts}


def test_every_page_carries_a_content_security_policy_without_inline_script(client):
    response = client.get("/")
    csp = _directives(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["style-src"] and "'unsafe-eval'" not in csp["script-src"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]


def test_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in sorted((REPO_ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        if INLINE_SCRIPT.search(text) or EVENT_HANDLER.search(text):
            offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == [], "move these scripts to static/js (the CSP refuses inline script)"


def test_no_template_has_an_inline_style_or_htmx_eval():
    offenders = []
    for path in sorted((REPO_ROOT / "templates").rglob("*.html")):
        text = TEMPLATE_COMMENT.sub("", path.read_text())
        if INLINE_STYLE.search(text) or HTMX_EVAL.search(text):
            offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == [], "move these styles to static/css and this logic to static/js"


def test_htmx_may_not_eval(client):
    assert '"allowEval": false' in client.get("/").content.decode()


def test_htmx_is_told_not_to_inject_its_indicator_styles(client):
    html = client.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in html


def test_hsts_is_sent_over_https_when_not_debugging(settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = CommittingClient().get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000"


@pytest.mark.parametrize(("debug", "expected"), [("0", "31536000"), ("1", "0")])
def test_hsts_is_on_in_production_and_off_when_debugging(debug, expected):
    """The settings as a fresh process reads them from its environment."""
    env = {
        **os.environ,
        "DJANGO_DEBUG": debug,
        "DJANGO_SECRET_KEY": "a-test-secret-key-that-is-long-enough-for-django-checks",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("SECURE_HSTS_SECONDS", None)
    out = subprocess.run(
        [sys.executable, "-c", "from config import settings; print(settings.SECURE_HSTS_SECONDS)"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == expected


def test_login_is_paused_after_repeated_failures_with_a_clear_message(django_user_model, settings):
    settings.AXES_FAILURE_LIMIT = 3
    django_user_model.objects.create_user("mod", password="the-right-password-1")
    client = CommittingClient()
    for _ in range(2):
        response = client.post("/accounts/login/", {"username": "mod", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/accounts/login/", {"username": "mod", "password": "wrong"})
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed log-ins" in text and "15 minutes" in text
    # Even the right password waits out the pause...
    response = client.post(
        "/accounts/login/", {"username": "mod", "password": "the-right-password-1"}
    )
    assert response.status_code == 429
    # ...from that address; another address (behind no proxy) is not affected.
    other = Client(REMOTE_ADDR="10.1.2.3")
    response = other.post(
        "/accounts/login/", {"username": "mod", "password": "the-right-password-1"}
    )
    assert response.status_code == 302


@pytest.fixture
def open_deliberation(fake_model_servers):
    return deliberation_create(
        created_by=None,
        title="Proxies",
        questions=["Should the town centre be closed to cars on Saturdays?"],
        group_size=5,
        min_group_size=2,
        n_candidates=4,
    )


def _join(deliberation, forwarded_for: str):
    return Client(HTTP_X_FORWARDED_FOR=forwarded_for).post(
        f"/j/{deliberation.public_id}/", {"agree": "on", "version": deliberation.consent_version}
    )


def test_rate_limits_count_the_address_the_trusted_proxy_saw(open_deliberation, settings):
    settings.RATE_LIMIT_JOIN_PER_MINUTE = 1
    settings.TRUSTED_PROXY_COUNT = 1
    # Two people behind the same proxy (REMOTE_ADDR is the proxy's) are counted apart...
    assert _join(open_deliberation, "203.0.113.5").status_code == 302
    assert _join(open_deliberation, "203.0.113.6").status_code == 302
    # ...and a client cannot escape its count by writing its own X-Forwarded-For entries.
    assert _join(open_deliberation, "198.51.100.1, 203.0.113.5").status_code == 429


def test_without_trusted_proxies_the_forwarded_header_is_ignored(open_deliberation, settings):
    settings.RATE_LIMIT_JOIN_PER_MINUTE = 1
    settings.TRUSTED_PROXY_COUNT = 0
    assert _join(open_deliberation, "203.0.113.5").status_code == 302
    assert _join(open_deliberation, "203.0.113.6").status_code == 429


def _console_handler() -> logging.Handler:
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    handlers = [h for h in handlers if any(isinstance(f, RefusalsOnOneLine) for f in h.filters)]
    assert handlers, "settings.LOGGING's console handler should filter refusals"
    return handlers[0]


@pytest.mark.parametrize(("path", "status"), [("/no/such/page/", 404), ("/moderate/", 302)])
def test_refused_requests_are_logged_on_one_line(client, caplog, path, status, django_user_model):
    caplog.set_level(logging.INFO)
    user = django_user_model.objects.create_user("visitor", password="x-password-123")
    client.force_login(user)
    response = client.get(path)
    assert response.status_code in (status, 403)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert records, "the refusal should be logged"
    handler = _console_handler()
    for record in records:
        assert handler.filter(record)
        line = handler.format(record)
        assert "\n" not in line and "Traceback" not in line, line
