"""The benchmark's instrumentation (config/server_timing.py) and how the load generator reads and
adds up what it reports (tests/bench/web_load.py): the header is there only with
BENCH_INSTRUMENT on, and counts every SQL statement a request sent."""

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.urls import path

from tests.bench.web_load import (
    LeanClient,
    Reply,
    ServerCost,
    parse_server_timing,
    server_figures,
    server_kind,
    verdicts,
)


def three_queries(request):
    users = get_user_model().objects
    users.exists()
    users.count()
    list(users.all()[:1])
    return HttpResponse("ok")


def no_query(request):
    return HttpResponse("ok")


urlpatterns = [path("three/", three_queries), path("none/", no_query)]

pytestmark = pytest.mark.urls(__name__)


@pytest.mark.django_db
def test_the_header_counts_each_sql_statement_when_instrumented(client, settings):
    settings.BENCH_INSTRUMENT = True
    cost = parse_server_timing(client.get("/three/")["Server-Timing"])
    assert cost is not None and cost.queries == 3
    assert cost.cpu_ms > 0 and cost.app_ms >= cost.sql_ms > 0

    cost = parse_server_timing(client.get("/none/")["Server-Timing"])
    assert cost.queries == 0 and cost.sql_ms == 0


@pytest.mark.django_db
def test_no_header_unless_instrumented(client):
    response = client.get("/three/")
    assert response.status_code == 200
    assert "Server-Timing" not in response


def test_the_load_generator_parses_and_adds_up_server_costs():
    assert parse_server_timing('cpu;dur=1.250, app;dur=4.5, sql;dur=2.0;desc="7"') == ServerCost(
        cpu_ms=1.25, app_ms=4.5, sql_ms=2.0, queries=7
    )
    assert parse_server_timing(None) is None
    assert parse_server_timing("cpu;dur=1.0") is None  # a header of some other server

    figures = server_figures(
        {
            "status/same": [ServerCost(0.4, 0.6, 0.0, 0), ServerCost(0.8, 1.0, 0.0, 0)],
            "step": [ServerCost(10.0, 20.0, 5.0, 6), ServerCost(14.0, 30.0, 7.0, 9)],
            "join": [],
        }
    )
    assert list(figures) == ["status/same", "step"]
    step = figures["step"]
    assert (step["count"], step["cpu_mean_ms"], step["queries_mean"]) == (2, 12.0, 7.5)
    assert (step["queries_min"], step["queries_max"], step["sql_mean_ms"]) == (6, 9, 6.0)
    assert step["cpu_p50_ms"] == 12.0 and step["cpu_p95_ms"] == pytest.approx(13.8)
    assert figures["status/same"]["cpu_mean_ms"] == pytest.approx(0.6)


def test_polls_are_split_by_what_they_answered():
    moved = Reply(status_code=204, headers={"hx-redirect": "/j/x/go/"}, text="")
    assert server_kind("status", moved) == "status/moved"
    assert server_kind("status", Reply(204, {}, "")) == "status/same"
    assert server_kind("status", Reply(200, {}, "<p>3 of 5</p>")) == "status/new"
    assert server_kind("step", Reply(200, {}, "<html>")) == "step"


def test_the_poll_target_needs_no_sql_and_under_a_millisecond():
    def report(same):
        return {"p95_ms": 90.0, "target_p95_ms": 250.0, "server": {"status/same": same}} | {
            "errors": 0,
            "ratings_lost": 0,
            "ratings_stored": 5,
            "ratings_owed": 5,
            "ratings_expected": 5,
            "participants_completed": 5,
            "participants": 5,
        }

    cheap = server_figures({"status/same": [ServerCost(0.5, 0.7, 0.0, 0)]})["status/same"]
    assert verdicts(report(cheap))["poll"] is True
    with_sql = server_figures({"status/same": [ServerCost(0.5, 0.7, 0.2, 1)]})["status/same"]
    assert verdicts(report(with_sql))["poll"] is False
    slow = server_figures({"status/same": [ServerCost(1.5, 1.7, 0.0, 0)]})["status/same"]
    assert verdicts(report(slow))["poll"] is False
    no_poll = report(None) | {"server": {}}
    assert verdicts(no_poll)["poll"] is None


def test_the_load_generators_cookie_jar_keeps_and_forgets_like_a_browser():
    client = LeanClient("http://127.0.0.1:8000", user_agent="test")
    client._keep_cookie("sessionid=abc123; HttpOnly; Path=/; SameSite=Lax; Secure")
    client._keep_cookie('csrftoken="t0k"; Path=/; Secure')
    assert client.cookies == {"sessionid": "abc123", "csrftoken": "t0k"}
    client._keep_cookie(
        'sessionid=""; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax'
    )
    assert client.cookies == {"csrftoken": "t0k"}
