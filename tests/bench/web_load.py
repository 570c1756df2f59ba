"""Web-tier load benchmark: simulated people run whole rounds over HTTP against gunicorn.

    .venv/bin/python tests/bench/web_load.py [--burst | --polls SECONDS] [--groups 200]
                     [--size 5] [--web-workers 3] [--backends fake|embedded] [--json]

It measures the DESIGN.md targets "1,000 simulated participants (200 groups of 5) running full
rounds on one 2-core machine with PostgreSQL and Redis and the load generator beside them, p95
under 250 ms, no error, no rating lost; an unchanged status poll under 1 ms of server CPU and no
SQL" and, with `--burst`, "500 people arriving within 5 s without error, p95 under 1 s".
`--polls SECONDS` measures waiting rooms instead: one member of each group keeps the writing page
open (its heartbeat only), the others wait on the poll until SECONDS after the last arrival. The
run is self-contained and leaves nothing behind:

1. a fresh PostgreSQL database (`cg_bench_<random>`), migrated, holding one open deliberation
   (group size K, minimum K, a few candidates, no bots: every member is a simulated person);
2. gunicorn serving `config.wsgi` on a free loopback port with `DJANGO_DEBUG=0`, and a real
   Celery worker doing the mediations (Redis db 12 is the cache, db 13 the broker; both are
   flushed before and after);
3. G*K participants on one asyncio loop, each with its own cookie jar (a lean HTTP/1.1 client,
   `LeanClient`: httpx cost ten times the CPU on the machine the server shares), doing
   what a browser does: the join page (and its CSS and htmx, once), consent with the CSRF token,
   the step page, an opinion, the htmx poll of /status/ every 2 s until HX-Redirect, the rating
   form, the poll again, the done page; with 0.2-1 s of think time before each action; they
   arrive at random over `--ramp` seconds, 5 a second by default (each is done in about 8 s, so
   the arrival rate, not the head count, is what loads the server);
4. every request's latency by kind; what the server says each request cost (gunicorn runs with
   BENCH_INSTRUMENT=1, so every response carries config/server_timing.py's Server-Timing
   header: CPU ms of the serving thread, wall ms in Django, SQL statements and their ms),
   by kind, with the status polls split into unchanged (204), new progress (200) and moved on
   (HX-Redirect); the CPU of gunicorn, the Celery worker and the load generator itself over the
   load, per request; the machine's load average before the run, at the start of the load and
   at its end; a table beside the targets; the ratings acknowledged against the rows in the
   database, and the mediation times; `--json` ends stdout with one JSON line.

gunicorn, the worker and the database are removed on the way out, also on Ctrl-C or an error.
Traffic goes to 127.0.0.1 only. The load generator shares the machine with the server; its
event-loop lag is reported, so a client that could not keep up shows in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import html
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

TARGET_P95_MS = 250.0
BURST_TARGET_P95_MS = 1000.0
# DESIGN.md: "an unchanged status poll under 1 ms of server CPU and no SQL".
TARGET_UNCHANGED_POLL_CPU_MS = 1.0
KINDS = (
    "join",
    "static",
    "consent",
    "step",
    "opinion",
    "status",
    "heartbeat",
    "rate",
    "answer",
    "done",
)
# What each kind answers when all is well; anything else is an error.
EXPECTED_STATUS = {
    "join": {200},
    "static": {200},
    "consent": {302},
    "step": {200},
    "opinion": {302},
    "status": {200, 204},
    "heartbeat": {204},
    "rate": {302},
    "answer": {302},
    "done": {200},
}
POLL_SECONDS = 2.0  # hx-trigger="every 2s" in _progress.html
THINK_SECONDS = (0.2, 1.0)
REQUESTS_PER_PARTICIPANT_MAX = 2_000
READY_TIMEOUT_S = 90

QUESTION = "Should towns close their central streets to cars on weekends?"

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
VERSION_RE = re.compile(r'name="version" value="([^"]*)"')
TEXT_ACTION_RE = re.compile(r'action="(/j/[^"]+/(?:opinion|critique)/\d+/)"')
RATE_ACTION_RE = re.compile(r'action="(/j/[^"]+/rate/(\d+)/)"')
# The end-of-round answers (survey, position rating, rankings): radio groups and place selects.
ANSWER_ACTION_RE = re.compile(r'action="(/j/[^"]+/(?:survey|position|rank|final)/[\d/]+)"')
RADIO_RE = re.compile(r'type="radio" name="([^"]+)"')
PLACE_RE = re.compile(r'<select name="(place_\d+)"')
POLL_RE = re.compile(r'hx-get="([^"]+/status/[^"]*)"')
HEARTBEAT_RE = re.compile(r'hx-get="([^"]+/here/)"')
HEARTBEAT_SECONDS = 30.0  # hx-trigger="every 30s" in step.html
STATIC_RE = re.compile(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"')
SERVER_TIMING_RE = re.compile(r'([\w-]+)((?:;[\w-]+=(?:"[^"]*"|[^,;]*))*)')
SERVER_PARAM_RE = re.compile(r';([\w-]+)=("[^"]*"|[^,;]*)')
DONE_MARK = "you are done"
FAILED_MARK = "The mediator ran into a problem"


# --------------------------------------------------------------------------------------------
# Recording


@dataclass
class Recorder:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    error_samples: list[str] = field(default_factory=list)
    ratings_acknowledged: set[tuple[int, int]] = field(default_factory=set)
    completed: int = 0
    failed: list[str] = field(default_factory=list)
    seconds_to_done: list[float] = field(default_factory=list)
    # What the server said each request cost (Server-Timing), by server kind (`server_kind`).
    server: dict[str, list[ServerCost]] = field(default_factory=dict)

    def error(self, kind: str, message: str) -> None:
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append(f"{kind}: {message}")


@dataclass(frozen=True)
class ServerCost:
    cpu_ms: float
    app_ms: float
    sql_ms: float
    queries: int


def parse_server_timing(header: str | None) -> ServerCost | None:
    """The figures of config/server_timing.py's header (`cpu;dur=1.2, app;dur=3.4,
    sql;dur=0.8;desc="7"`); None when the header is absent or lacks one of them."""
    if not header:
        return None
    metrics: dict[str, dict[str, str]] = {}
    for match in SERVER_TIMING_RE.finditer(header):
        params = {k: v.strip('"') for k, v in SERVER_PARAM_RE.findall(match.group(2))}
        metrics[match.group(1)] = params
    try:
        return ServerCost(
            cpu_ms=float(metrics["cpu"]["dur"]),
            app_ms=float(metrics["app"]["dur"]),
            sql_ms=float(metrics["sql"]["dur"]),
            queries=int(metrics["sql"]["desc"]),
        )
    except (KeyError, ValueError):
        return None


def server_kind(kind: str, response: Reply) -> str:
    """The kind a request is counted under in the server figures: a status poll is split by
    what it answered (nothing new, a new progress fragment, or "go to the step page")."""
    if kind != "status":
        return kind
    if response.headers.get("hx-redirect"):
        return "status/moved"
    return "status/same" if response.status_code == 204 else "status/new"


def server_figures(costs: dict[str, list[ServerCost]]) -> dict[str, dict]:
    """Per server kind: how many requests, CPU ms (mean, p50, p95), wall ms inside Django (mean),
    SQL statements (mean, min, max) and their ms (mean); kinds in the order first seen."""
    figures = {}
    for kind, rows in costs.items():
        if not rows:
            continue
        cpu = [row.cpu_ms for row in rows]
        queries = [row.queries for row in rows]
        figures[kind] = {
            "count": len(rows),
            "cpu_mean_ms": sum(cpu) / len(rows),
            "cpu_p50_ms": percentile(cpu, 50),
            "cpu_p95_ms": percentile(cpu, 95),
            "app_mean_ms": sum(row.app_ms for row in rows) / len(rows),
            "queries_mean": sum(queries) / len(rows),
            "queries_min": min(queries),
            "queries_max": max(queries),
            "sql_mean_ms": sum(row.sql_ms for row in rows) / len(rows),
        }
    return figures


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --------------------------------------------------------------------------------------------
# A lean HTTP/1.1 client


@dataclass
class Reply:
    status_code: int
    headers: dict[str, str]  # names in lower case; a repeated header's values joined by ", "
    text: str


class TransportError(Exception):
    """The request could not be sent or its answer not read."""


class LeanClient:
    """What the simulated browsers need of HTTP/1.1 and no more: one connection per request
    (gunicorn's sync workers close it after each answer anyway), a cookie jar that sends back
    every cookie it was given (browsers send Secure cookies to http://127.0.0.1, a secure
    context), bodies by Content-Length, chunks or the connection's end. The load generator shares
    the two cores with the server, so its own CPU matters: httpx spent about 4.4 ms of CPU a
    request here, this about 0.4 ms (2026-11-30, a 6 kB page over loopback)."""

    def __init__(self, base_url: str, *, timeout_s: float = 60.0, user_agent: str):
        host_port = base_url.split("://", 1)[1]
        self.host, _, port = host_port.partition(":")
        self.port = int(port or 80)
        self.host_header = host_port
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self.cookies: dict[str, str] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        data: dict[str, str] | None = None,
    ) -> Reply:
        try:
            return await asyncio.wait_for(
                self._request(method, path, headers, data), self.timeout_s
            )
        except (TimeoutError, OSError, EOFError, asyncio.LimitOverrunError, ValueError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc

    async def _request(self, method, path, headers, data) -> Reply:
        lines = [
            f"{method} {path} HTTP/1.1",
            f"Host: {self.host_header}",
            f"User-Agent: {self.user_agent}",
            "Accept: text/html,*/*",
            "Connection: close",
        ]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        body = b""
        if data is not None:
            body = urlencode(data).encode()
            lines += ["Content-Type: application/x-www-form-urlencoded"]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(head[0].split(" ", 2)[1])
            reply_headers: dict[str, str] = {}
            for line in head[1:]:
                if not line:
                    continue
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "set-cookie":
                    self._keep_cookie(value)
                previous = reply_headers.get(name)
                reply_headers[name] = value if previous is None else f"{previous}, {value}"
            if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                raw = b""
            elif "content-length" in reply_headers:
                raw = await reader.readexactly(int(reply_headers["content-length"]))
            elif reply_headers.get("transfer-encoding", "").lower() == "chunked":
                raw = await self._read_chunks(reader)
            else:
                raw = await reader.read()
        finally:
            writer.close()
        return Reply(status_code=status, headers=reply_headers, text=raw.decode("utf-8", "replace"))

    @staticmethod
    async def _read_chunks(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    def _keep_cookie(self, header: str) -> None:
        pair, *attributes = header.split(";")
        name, _, value = pair.strip().partition("=")
        gone = any(a.strip().lower() in ("max-age=0", "max-age=-1") for a in attributes)
        if gone:
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value.strip('"')


# --------------------------------------------------------------------------------------------
# One simulated person


OPENINGS = [
    "I think {stance}.",
    "On balance, {stance}.",
    "My view is that {stance}.",
    "Honestly, {stance}, though I can see the other side.",
]
STANCES = [
    "towns should close their central streets to cars on weekends",
    "closing central streets on weekends would hurt more people than it helps",
    "a trial closure in summer would be a sensible first step",
    "it depends a lot on the size of the town and its public transport",
]
REASONS = [
    "Shops in my street did better when it was pedestrian only.",
    "Older people and people with disabilities need to be able to drive close to the centre.",
    "The air is noticeably cleaner when there is less traffic.",
    "Deliveries and taxis would need exemptions, or the plan falls apart.",
    "Families with children would finally have a safe place to walk.",
    "Parking on the edge of town with a free shuttle bus would answer most objections.",
    "Residents living in the centre must still be able to reach their homes.",
    "Noise at night would go down, which matters to the people who live there.",
    "Small businesses fear losing customers who come by car from the villages around.",
    "Cyclists and pedestrians currently compete for too little space.",
]


def opinion_text(rng: random.Random) -> str:
    parts = [rng.choice(OPENINGS).format(stance=rng.choice(STANCES))]
    parts += rng.sample(REASONS, rng.randint(2, 5))
    return " ".join(parts)


class Person:
    """A browser: its own cookie jar and connections, following the pages as a person would."""

    def __init__(self, *, index: int, base_url: str, join_path: str, state: RunState):
        self.index = index
        self.base_url = base_url
        self.join_path = join_path
        self.state = state
        self.rng = random.Random(index)
        self.requests = 0
        self.client = LeanClient(base_url, user_agent="cg-web-load/1")

    async def request(self, kind: str, method: str, url: str, **kwargs) -> Reply | None:
        """Send one request, record its latency under `kind`; None (and an error) on failure.

        The kind of a step page is decided from its body: the done page counts as `done`."""
        if self.requests >= REQUESTS_PER_PARTICIPANT_MAX:
            raise Abandon(f"more than {REQUESTS_PER_PARTICIPANT_MAX} requests")
        if time.monotonic() > self.state.deadline:
            raise Abandon("the run's time limit passed")
        self.requests += 1
        recorder = self.state.recorder
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except TransportError as exc:
            elapsed = (time.perf_counter() - started) * 1000
            recorder.latencies[kind].append(elapsed)
            recorder.error(kind, f"{method} {url}: {exc}")
            return None
        elapsed = (time.perf_counter() - started) * 1000
        if kind == "step" and response.status_code == 200 and DONE_MARK in response.text:
            kind = "done"
        recorder.latencies[kind].append(elapsed)
        cost = parse_server_timing(response.headers.get("server-timing"))
        if cost is not None:
            recorder.server.setdefault(server_kind(kind, response), []).append(cost)
        if response.status_code not in EXPECTED_STATUS[kind]:
            recorder.error(kind, f"{method} {url}: HTTP {response.status_code}")
            return None
        return response

    async def think(self) -> None:
        await asyncio.sleep(self.rng.uniform(*THINK_SECONDS))

    def post_headers(self, page_path: str) -> dict[str, str]:
        # What a browser sends with a same-origin form post.
        return {"Origin": self.base_url, "Referer": self.base_url + page_path}

    async def run(self) -> None:
        arrived = time.monotonic()
        try:
            await self._run()
            self.state.recorder.completed += 1
            self.state.recorder.seconds_to_done.append(time.monotonic() - arrived)
        except Abandon as exc:
            self.state.recorder.failed.append(f"participant {self.index}: {exc}")
        finally:
            self.state.progress.update()

    async def _run(self) -> None:
        step_path = self.join_path + "go/"
        page = await self.request("join", "GET", self.join_path)
        if page is None:
            raise Abandon("the join page failed")
        for asset in dict.fromkeys(STATIC_RE.findall(page.text)):
            await self.request("static", "GET", asset)
        token, version = CSRF_RE.search(page.text), VERSION_RE.search(page.text)
        if token is None or version is None:
            raise Abandon("no consent form on the join page")
        await self.think()
        consent = await self.request(
            "consent",
            "POST",
            self.join_path,
            data={
                "csrfmiddlewaretoken": token.group(1),
                "version": html.unescape(version.group(1)),
                "agree": "on",
            },
            headers=self.post_headers(self.join_path),
        )
        if consent is None:
            raise Abandon("consent failed")

        while True:
            page = await self.request("step", "GET", step_path)
            if page is None:
                raise Abandon("the step page failed")
            body = page.text
            if DONE_MARK in body:
                return
            if FAILED_MARK in body:
                raise Abandon("the mediation failed")
            token = CSRF_RE.search(body)
            text_action = TEXT_ACTION_RE.search(body)
            rate_action = RATE_ACTION_RE.search(body)
            answer_action = ANSWER_ACTION_RE.search(body)
            poll = POLL_RE.search(body)
            if text_action and self.index in self.state.stalls:
                await self.keep_writing(body)
                return
            if text_action and token:
                await self.think()
                await self.request(
                    "opinion",
                    "POST",
                    text_action.group(1),
                    data={
                        "csrfmiddlewaretoken": token.group(1),
                        "text": opinion_text(self.rng),
                        "duration_ms": str(self.rng.randint(20_000, 240_000)),
                    },
                    headers=self.post_headers(step_path),
                )
            elif rate_action and token:
                await self.think()
                rated = await self.request(
                    "rate",
                    "POST",
                    rate_action.group(1),
                    data={
                        "csrfmiddlewaretoken": token.group(1),
                        "agreement": str(self.rng.randint(1, 7)),
                        "quality": str(self.rng.randint(1, 7)),
                        "duration_ms": str(self.rng.randint(5_000, 60_000)),
                    },
                    headers=self.post_headers(step_path),
                )
                if rated is not None:
                    self.state.recorder.ratings_acknowledged.add(
                        (self.index, int(rate_action.group(2)))
                    )
            elif answer_action and token:
                await self.think()
                data = {"csrfmiddlewaretoken": token.group(1)}
                data |= {name: str(self.rng.randint(1, 7)) for name in RADIO_RE.findall(body)}
                places = PLACE_RE.findall(body)
                data |= {name: str(place) for place, name in enumerate(places, start=1)}
                await self.request(
                    "answer",
                    "POST",
                    answer_action.group(1),
                    data=data,
                    headers=self.post_headers(step_path),
                )
            elif poll:
                if not await self.wait(html.unescape(poll.group(1)), step_path):
                    return
            else:
                raise Abandon(f"a step page with nothing to do: {body[:200]!r}")

    def stopping(self) -> bool:
        return self.state.stop_at is not None and time.monotonic() >= self.state.stop_at

    async def keep_writing(self, body: str) -> None:
        """The writing page left open until the run stops: only its heartbeat, every 30 s."""
        heartbeat = HEARTBEAT_RE.search(body)
        if heartbeat is None:
            raise Abandon("a writing page without its heartbeat")
        while True:
            await asyncio.sleep(
                min(HEARTBEAT_SECONDS, max(0.0, self.state.stop_at - time.monotonic()))
            )
            if self.stopping():
                return
            await self.request("heartbeat", "GET", html.unescape(heartbeat.group(1)))

    async def wait(self, poll_url: str, step_path: str) -> bool:
        """Poll like htmx: every 2 s, swapping in the fragment (and its URL) until the server
        answers HX-Redirect (True), or until the run stops (False)."""
        headers = {
            "HX-Request": "true",
            "HX-Current-URL": self.base_url + step_path,
            "HX-Target": "progress",
            "HX-Trigger": "progress",
        }
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if self.stopping():
                return False
            response = await self.request("status", "GET", poll_url, headers=headers)
            if response is None:
                continue  # a failed poll is counted; htmx would simply poll again
            if response.headers.get("hx-redirect"):
                return True
            fragment = POLL_RE.search(response.text)
            if fragment:
                poll_url = html.unescape(fragment.group(1))


class Abandon(Exception):
    """A simulated person gives up (the reason is reported)."""


@dataclass
class RunState:
    recorder: Recorder
    deadline: float
    progress: tqdm
    # --polls: when everyone stops (monotonic seconds), and which people never send their
    # opinion (they keep the writing page open, as a slow writer does).
    stop_at: float | None = None
    stalls: frozenset[int] = frozenset()


async def monitor_loop_lag(lags: list[float], stop: asyncio.Event) -> None:
    """How late the event loop wakes a 100 ms sleep: the client's own queueing, in ms."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.1)
        lags.append(max(0.0, (time.perf_counter() - started - 0.1) * 1000))


async def drive(
    *,
    base_url: str,
    join_path: str,
    participants: int,
    ramp_s: float,
    timeout_s: float,
    polls_s: float | None = None,
    size: int = 5,
) -> tuple[Recorder, float, list[float]]:
    """Run every participant; they arrive at random over `ramp_s` seconds. With `polls_s`, one
    person in `size` never sends an opinion, so most groups wait: the others poll until
    `polls_s` seconds after the last arrival, when everyone stops."""
    recorder = Recorder()
    progress = tqdm(total=participants, desc="participants done", unit="p", file=sys.stderr)
    now = time.monotonic()
    state = RunState(
        recorder=recorder,
        deadline=now + timeout_s,
        progress=progress,
        stop_at=None if polls_s is None else now + ramp_s + polls_s,
        stalls=frozenset() if polls_s is None else frozenset(range(0, participants, size)),
    )
    rng = random.Random(0)
    arrivals = sorted(rng.uniform(0, ramp_s) for _ in range(participants))
    lags: list[float] = []
    stop = asyncio.Event()
    lag_task = asyncio.create_task(monitor_loop_lag(lags, stop))

    async def arrive(index: int, at: float) -> None:
        await asyncio.sleep(at)
        await Person(index=index, base_url=base_url, join_path=join_path, state=state).run()

    started = time.monotonic()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(arrive(i, at) for i, at in enumerate(arrivals))),
            timeout=timeout_s + 120,
        )
    finally:
        stop.set()
        await lag_task
        progress.close()
    return recorder, time.monotonic() - started, lags


# --------------------------------------------------------------------------------------------
# The servers


class Services:
    """The database, gunicorn and the Celery worker of one run; `close` removes them all and is
    safe to call twice (atexit and the finally of `main` both call it)."""

    def __init__(self, *, pg_admin_url: str, redis_host: str, keep_logs: bool):
        self.pg_admin_url = pg_admin_url
        self.redis_host = redis_host
        self.keep_logs = keep_logs
        self.database = f"cg_bench_{secrets.token_hex(4)}"
        self.database_created = False
        self.processes: dict[str, subprocess.Popen] = {}
        self.log_dir = Path(tempfile.mkdtemp(prefix="cg-web-load-"))
        self.closed = False

    @property
    def database_url(self) -> str:
        base = self.pg_admin_url.rsplit("/", 1)[0]
        return f"{base}/{self.database}"

    def env(self, backends: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DATABASE_URL": self.database_url,
                "REDIS_URL": f"redis://{self.redis_host}/12",
                "CELERY_BROKER_URL": f"redis://{self.redis_host}/13",
                "CELERY_TASK_ALWAYS_EAGER": "0",
                "DJANGO_DEBUG": "0",
                "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
                "RATE_LIMIT_JOIN_PER_MINUTE": "0",
                "RATE_LIMIT_POST_PER_MINUTE": "0",
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING",
                # Server-Timing on every response: CPU and SQL per request kind.
                "BENCH_INSTRUMENT": "1",
            }
        )
        if backends == "fake":
            env.update({"GENERATOR_BACKEND": "fake", "REWARD_BACKEND": "fake"})
        else:
            for key in ("GENERATOR_BACKEND", "REWARD_BACKEND"):
                env.pop(key, None)
        return env

    def flush_redis(self) -> None:
        import redis

        for db in (12, 13):
            host, _, port = self.redis_host.partition(":")
            redis.Redis(host=host, port=int(port or 6379), db=db).flushdb()

    def create_database(self) -> None:
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.database_created = True

    def manage(self, env: dict[str, str], *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        try:
            return (self.log_dir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, name: str, pattern: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        regex = re.compile(pattern)
        while not regex.search(self.log(name)):
            self.check_alive(name)
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {READY_TIMEOUT_S} s:\n{self.log(name)}")
            time.sleep(0.2)

    def wait_for_http(self, name: str, url: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            self.check_alive(name)
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {READY_TIMEOUT_S} s:\n{self.log(name)}")
            time.sleep(0.2)

    def check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{self.log(name)[-4000:]}")

    def cpu_seconds(self, name: str) -> float | None:
        """User + system CPU of a process and its live children (gunicorn's workers)."""
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return None
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        pending = [process.pid]
        while pending:
            pid = pending.pop()
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
                for task in Path(f"/proc/{pid}/task").iterdir():
                    children = (task / "children").read_text().split()
                    pending += [int(c) for c in children]
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
        return total

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for process in reversed(list(self.processes.values())):
            if process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            except ProcessLookupError:
                pass
        if self.database_created:
            try:
                with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except psycopg.Error as exc:
                sys.stderr.write(f"could not drop database {self.database}: {exc}\n")
        try:
            self.flush_redis()
        except Exception as exc:  # cleanup goes on; say what was left
            sys.stderr.write(f"could not flush redis dbs 12 and 13: {exc}\n")
        if self.keep_logs:
            sys.stderr.write(f"logs kept in {self.log_dir}\n")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CREATE_DELIBERATION = """
from deliberation.services.deliberations import deliberation_create
d = deliberation_create(
    created_by=None, title="Web load benchmark", questions=[{question!r}],
    group_size={size}, min_group_size={size}, n_candidates={candidates},
    opinion_seconds=6 * 3600, rating_seconds=6 * 3600, fill_with_bots=False,
)
print(d.public_id, d.pk)
"""


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of one process (its own threads), from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuSampler(threading.Thread):
    """CPU of the processes whose command line matches a pattern (the PostgreSQL backends of the
    run's database, the Redis server), read from /proc twice a second. A process seen when the
    sampler starts counts from then; one that appears later counts whole (a new backend); one
    that exits counts until its last sample, so a backend that lived under half a second is
    missed. Other work on the same PostgreSQL (other databases) is not counted."""

    def __init__(self, patterns: dict[str, re.Pattern]):
        super().__init__(daemon=True)
        self.patterns = patterns
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.owner: dict[int, str] = {}
        self.stopping = threading.Event()
        self.started_once = False
        self.own_cpu_s = 0.0

    def scan(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid not in self.owner:
                try:
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    continue
                name = next((n for n, p in self.patterns.items() if p.search(cmdline)), None)
                if name is None:
                    continue
                self.owner[pid] = name
            seconds = process_cpu_seconds(pid)
            if seconds is None:
                continue
            self.first.setdefault(pid, seconds if not self.started_once else 0.0)
            self.last[pid] = seconds

    def run(self) -> None:
        self.scan()
        self.started_once = True
        while not self.stopping.wait(0.5):
            self.scan()
        # Its own CPU, which the load generator's figure leaves out.
        self.own_cpu_s = time.thread_time()

    def stop(self) -> dict[str, float]:
        """Stop, and return CPU seconds by pattern name over the sampled time."""
        self.stopping.set()
        self.join()
        self.scan()
        totals = dict.fromkeys(self.patterns, 0.0)
        for pid, name in self.owner.items():
            if pid in self.last:
                totals[name] += self.last[pid] - self.first[pid]
        return totals


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# --------------------------------------------------------------------------------------------
# Figures from the database


def database_figures(database_url: str, deliberation_id: int) -> dict:
    with psycopg.connect(database_url) as conn:
        ratings_stored = conn.execute(
            "SELECT count(*) FROM deliberation_rating r JOIN deliberation_participant p "
            "ON p.id = r.participant_id WHERE p.deliberation_id = %s",
            [deliberation_id],
        ).fetchone()[0]
        # Ratings owed: every statement shown times every member of its group still present.
        ratings_owed = conn.execute(
            "SELECT coalesce(sum(s.shown_count * m.members), 0) FROM "
            " (SELECT st.iteration_id, count(*) AS shown_count FROM deliberation_statement st "
            "  WHERE st.shown GROUP BY st.iteration_id) s "
            "JOIN deliberation_iteration i ON i.id = s.iteration_id "
            "JOIN deliberation_round r ON r.id = i.round_id "
            "JOIN (SELECT group_id, count(*) AS members FROM deliberation_participant "
            "      WHERE status IN ('active', 'completed') GROUP BY group_id) m "
            " ON m.group_id = r.group_id "
            "JOIN deliberation_group g ON g.id = r.group_id WHERE g.deliberation_id = %s",
            [deliberation_id],
        ).fetchone()[0]
        rows = conn.execute(
            "SELECT i.state, i.mediation_started_at, i.mediation_finished_at, "
            " (SELECT max(o.created_at) FROM deliberation_opinion o WHERE o.iteration_id = i.id) "
            "FROM deliberation_iteration i JOIN deliberation_round r ON r.id = i.round_id "
            "JOIN deliberation_group g ON g.id = r.group_id WHERE g.deliberation_id = %s",
            [deliberation_id],
        ).fetchall()
        groups = dict(
            conn.execute(
                "SELECT status, count(*) FROM deliberation_group WHERE deliberation_id = %s "
                "GROUP BY status",
                [deliberation_id],
            ).fetchall()
        )
    mediate_s = [
        (finished - started).total_seconds()
        for state, started, finished, _ in rows
        if started and finished and state in ("rating", "done")
    ]
    # What people wait for: from the last opinion to the group statement being ready.
    wait_s = [
        (finished - last_opinion).total_seconds()
        for state, _, finished, last_opinion in rows
        if finished and last_opinion and state in ("rating", "done")
    ]
    return {
        "ratings_stored": ratings_stored,
        "ratings_owed": int(ratings_owed),
        "iterations": len(rows),
        "mediations_completed": len(mediate_s),
        "mediations_failed": sum(1 for row in rows if row[0] == "failed"),
        "groups": groups,
        "mediation_s": mediate_s,
        "opinion_to_statement_s": wait_s,
    }


# --------------------------------------------------------------------------------------------
# Report


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


fixed = seconds  # two decimals, or "-"


def build_report(
    args, recorder: Recorder, wall_s: float, lags, db: dict, cpu: dict, load: dict
) -> dict:
    everything = [v for kind in KINDS for v in recorder.latencies[kind]]
    errors = sum(recorder.errors.values())
    requests = len(everything)
    participants = args.groups * args.size
    kinds = {}
    for kind in KINDS:
        values = recorder.latencies[kind]
        kinds[kind] = {
            "count": len(values),
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
            "p99_ms": percentile(values, 99),
            "max_ms": max(values) if values else None,
            "errors": recorder.errors[kind],
        }
    acknowledged = len(recorder.ratings_acknowledged)
    server = server_figures(recorder.server)
    service_s = cpu["gunicorn_s"] + cpu.get("postgres_s", 0.0) + cpu.get("redis_s", 0.0)
    # What gunicorn spent outside what Server-Timing saw (accepting, parsing HTTP, the WSGI
    # handler, writing the answer), shared out over the requests that carried the header.
    timed = sum(row["count"] for row in server.values())
    inside_ms = sum(row["cpu_mean_ms"] * row["count"] for row in server.values())
    outside_ms = (1000 * cpu["gunicorn_s"] - inside_ms) / timed if timed else None
    service_ms = 1000 * service_s / requests if requests else None
    return {
        "mode": "polls" if args.polls else "burst" if args.burst else "design",
        "participants": participants,
        "groups": args.groups,
        "size": args.size,
        "web_workers": args.web_workers,
        "threads": args.threads,
        "backends": args.backends,
        "candidates": args.candidates,
        "ramp_s": args.ramp,
        "participants_completed": recorder.completed,
        "participants_abandoned": len(recorder.failed),
        "wall_s": round(wall_s, 2),
        "requests": requests,
        "requests_per_s": round(requests / wall_s, 1) if wall_s else None,
        "p50_ms": percentile(everything, 50),
        "p95_ms": percentile(everything, 95),
        "p99_ms": percentile(everything, 99),
        "max_ms": max(everything) if everything else None,
        "errors": errors,
        "kinds": kinds,
        "ratings_expected": acknowledged,
        "ratings_owed": db["ratings_owed"],
        "ratings_stored": db["ratings_stored"],
        "ratings_lost": max(0, acknowledged - db["ratings_stored"]),
        "mediations_completed": db["mediations_completed"],
        "mediations_failed": db["mediations_failed"],
        "groups_by_status": db["groups"],
        "mediation_p50_s": percentile(db["mediation_s"], 50),
        "mediation_p95_s": percentile(db["mediation_s"], 95),
        "opinion_to_statement_p50_s": percentile(db["opinion_to_statement_s"], 50),
        "opinion_to_statement_p95_s": percentile(db["opinion_to_statement_s"], 95),
        "seconds_to_done_p50": percentile(recorder.seconds_to_done, 50),
        "seconds_to_done_p95": percentile(recorder.seconds_to_done, 95),
        "client_loop_lag_p95_ms": percentile(lags, 95),
        "client_loop_lag_max_ms": max(lags) if lags else None,
        "cpu": cpu,
        # Everything the gunicorn processes spent, shared out over the requests (the WSGI and
        # HTTP layers included, which Server-Timing does not see); the client's likewise.
        "gunicorn_cpu_ms_per_request": 1000 * cpu["gunicorn_s"] / requests if requests else None,
        "client_cpu_ms_per_request": 1000 * cpu["client_s"] / requests if requests else None,
        # The whole serving side per request: gunicorn, the run's PostgreSQL backends (the
        # Celery worker's included) and Redis; what one core can serve follows from it.
        "service_cpu_ms_per_request": service_ms,
        "gunicorn_outside_django_ms_per_request": outside_ms,
        "requests_per_core_s": 1000 / service_ms if service_ms else None,
        "server": server,
        "load_average": load,
        "target_p95_ms": BURST_TARGET_P95_MS if args.burst else TARGET_P95_MS,
        "error_samples": recorder.error_samples[:10],
        "abandoned_samples": recorder.failed[:10],
    }


def verdicts(report: dict) -> dict[str, bool | None]:
    """Each target met (True), missed (False), or not measured (None: no unchanged poll was
    seen, or the server sent no Server-Timing)."""
    same = report["server"].get("status/same")
    return {
        "p95": report["p95_ms"] is not None and report["p95_ms"] < report["target_p95_ms"],
        "poll": None
        if same is None
        else same["cpu_mean_ms"] < TARGET_UNCHANGED_POLL_CPU_MS and same["queries_max"] == 0,
        "errors": report["errors"] == 0,
        "ratings": report["ratings_lost"] == 0
        and report["ratings_stored"] == report["ratings_owed"] == report["ratings_expected"],
        "completed": report["participants_completed"] == report["participants"],
    }


def load_text(load: dict) -> str:
    return " -> ".join(
        f"{label} {' '.join(f'{v:.2f}' for v in load[label])}"
        for label in ("before", "start", "end")
        if load.get(label)
    )


def server_table(server: dict[str, dict]) -> list[str]:
    """Per server kind, what Server-Timing said: CPU ms, wall ms in Django, SQL statements."""
    header = (
        f"{'server kind':<13} {'count':>7} {'cpu mean':>9} {'cpu p50':>8} {'cpu p95':>8} "
        f"{'app mean':>9} {'sql n':>6} {'(min-max)':>9} {'sql ms':>7}"
    )
    lines = [header, "-" * len(header)]
    for kind, row in server.items():
        lines.append(
            f"{kind:<13} {row['count']:>7} {row['cpu_mean_ms']:>9.2f} {row['cpu_p50_ms']:>8.2f} "
            f"{row['cpu_p95_ms']:>8.2f} {row['app_mean_ms']:>9.2f} {row['queries_mean']:>6.1f} "
            f"{str(row['queries_min']) + '-' + str(row['queries_max']):>9} "
            f"{row['sql_mean_ms']:>7.2f}"
        )
    return lines


def report_table(report: dict) -> str:
    header = f"{'kind':<8} {'count':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7}"
    lines = [
        f"Web tier ({report['mode']}): {report['participants']} participants "
        f"({report['groups']} groups of {report['size']}) arriving over {report['ramp_s']:g} s, "
        f"gunicorn {report['web_workers']} worker(s) x {report['threads']} "
        f"thread(s), {report['backends']} backends, {os.cpu_count()} CPU(s)",
        f"load average (1, 5, 15 min): {load_text(report['load_average'])}",
        "",
        header,
        "-" * len(header),
    ]
    for kind, row in report["kinds"].items():
        if not row["count"]:
            continue
        lines.append(
            f"{kind:<8} {row['count']:>7} {ms(row['p50_ms']):>8} {ms(row['p95_ms']):>8} "
            f"{ms(row['p99_ms']):>8} {ms(row['max_ms']):>8} {row['errors']:>7}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'all':<8} {report['requests']:>7} {ms(report['p50_ms']):>8} {ms(report['p95_ms']):>8} "
        f"{ms(report['p99_ms']):>8} {ms(report['max_ms']):>8} {report['errors']:>7}"
    )
    if report["server"]:
        lines += [
            "",
            "server cost per request (Server-Timing; ms of CPU in the serving thread, ms of wall "
            "time in Django, SQL statements and their ms):",
            *server_table(report["server"]),
        ]
    ok = verdicts(report)
    ratings = (
        f"{report['ratings_expected']} sent, {report['ratings_owed']} owed, "
        f"{report['ratings_stored']} stored"
    )
    completed = f"{report['participants_completed']} of {report['participants']}"
    same = report["server"].get("status/same")
    poll = (
        "not seen"
        if same is None
        else f"{same['cpu_mean_ms']:.2f} ms, {same['queries_max']} SQL at most"
    )
    mark = {True: "PASS", False: "MISS", None: "-"}
    target = f"p95 under {report['target_p95_ms']:,.0f} ms"
    lines += [
        "",
        f"{'target (DESIGN.md)':<34} {'measured':>30} {'':>4}",
        f"{target:<34} {ms(report['p95_ms']) + ' ms':>30} {mark[ok['p95']]:>4}",
        f"{'unchanged poll < 1 ms CPU, no SQL':<34} {poll:>30} {mark[ok['poll']]:>4}",
        f"{'no error':<34} {report['errors']:>30} {mark[ok['errors']]:>4}",
        f"{'no rating lost':<34} {ratings:>30} {mark[ok['ratings']]:>4}",
        f"{'every participant done':<34} {completed:>30} {mark[ok['completed']]:>4}",
        "",
        f"wall time {report['wall_s']:.1f} s, {report['requests_per_s']} requests/s; "
        f"time to done p50 {seconds(report['seconds_to_done_p50'])} s, "
        f"p95 {seconds(report['seconds_to_done_p95'])} s",
        f"mediations: {report['mediations_completed']} completed, "
        f"{report['mediations_failed']} failed; mediation p50 "
        f"{seconds(report['mediation_p50_s'])} s, p95 {seconds(report['mediation_p95_s'])} s; "
        f"last opinion to statement p50 {seconds(report['opinion_to_statement_p50_s'])} s, "
        f"p95 {seconds(report['opinion_to_statement_p95_s'])} s",
        f"client event-loop lag p95 {ms(report['client_loop_lag_p95_ms'])} ms, "
        f"max {ms(report['client_loop_lag_max_ms'])} ms (latencies include it)",
        f"CPU over the load: machine {report['cpu']['machine_busy_percent']}% busy; "
        f"gunicorn {report['cpu']['gunicorn_s']:.1f} s "
        f"({fixed(report['gunicorn_cpu_ms_per_request'])} ms a request, "
        f"{fixed(report['gunicorn_outside_django_ms_per_request'])} of them outside Django), "
        f"PostgreSQL {report['cpu']['postgres_s']:.1f} s, Redis {report['cpu']['redis_s']:.1f} s, "
        f"Celery worker {report['cpu']['worker_s']:.1f} s, "
        f"load generator {report['cpu']['client_s']:.1f} s "
        f"({fixed(report['client_cpu_ms_per_request'])} ms a request)",
        f"serving (gunicorn + PostgreSQL + Redis): {fixed(report['service_cpu_ms_per_request'])} "
        f"ms of CPU a request, so about {report['requests_per_core_s'] or 0:,.0f} requests/s "
        f"per core at this mix",
    ]
    if report["error_samples"]:
        lines += ["", "first errors:", *(f"  {e}" for e in report["error_samples"])]
    if report["abandoned_samples"]:
        lines += ["", "abandoned:", *(f"  {e}" for e in report["abandoned_samples"])]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Web-tier load benchmark: simulated people run whole rounds over HTTP.",
    )
    parser.add_argument(
        "--burst",
        action="store_true",
        help="the burst of DESIGN.md: 500 people (100 groups of 5) arriving within 5 s, "
        "p95 target 1 s (--groups and --ramp still change it)",
    )
    parser.add_argument(
        "--polls",
        type=float,
        default=None,
        metavar="SECONDS",
        help="waiting rooms: one member in each group never sends an opinion (the writing page "
        "stays open, with its heartbeat), so the others poll; everyone stops SECONDS after the "
        "last arrival. Measures what the waiting page's polling costs",
    )
    parser.add_argument(
        "--groups", type=int, default=None, help="groups (default 200; with --burst 100)"
    )
    parser.add_argument("--size", type=int, default=5, help="members per group (default 5)")
    parser.add_argument(
        "--web-workers", type=int, default=3, help="gunicorn worker processes (default 3)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker; more than 1 uses the gthread worker (default 1: sync)",
    )
    parser.add_argument(
        "--backends",
        choices=["fake", "embedded"],
        default="fake",
        help="mediation backends: fake (measure the web tier) or the embedded defaults",
    )
    parser.add_argument(
        "--candidates", type=int, default=4, help="candidates per mediation (default 4)"
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=None,
        help="seconds over which participants arrive, at random (default: 0.2 s per "
        "participant, 5 arrivals a second: 200 s for 1,000; with --burst 5 s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds the load may run (default 600)"
    )
    parser.add_argument(
        "--database-admin-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="where to create (and drop) the run's database",
    )
    parser.add_argument("--redis", default="127.0.0.1:6379", help="Redis host:port (dbs 12, 13)")
    parser.add_argument(
        "--keep-logs", action="store_true", help="keep the gunicorn and worker logs"
    )
    parser.add_argument("--json", action="store_true", help="end stdout with one JSON line")
    args = parser.parse_args(argv)
    if args.groups is None:
        args.groups = 100 if args.burst else 200
    if args.polls is not None and args.burst:
        parser.error("--polls and --burst are separate runs")
    if not 1 <= args.groups <= 1000 or not 1 <= args.size <= 20:
        parser.error("--groups must be from 1 to 1000 and --size from 1 to 20")
    if args.ramp is None:
        args.ramp = 5.0 if args.burst else 0.2 * args.groups * args.size
    return args


def interrupt(signum, frame) -> None:
    """SIGTERM unwinds like Ctrl-C, through the cleanup in `main`."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    participants = args.groups * args.size
    services = Services(
        pg_admin_url=args.database_admin_url, redis_host=args.redis, keep_logs=args.keep_logs
    )
    atexit.register(services.close)
    signal.signal(signal.SIGTERM, interrupt)
    say = lambda message: sys.stderr.write(message + "\n")  # noqa: E731
    # How busy the machine was before this run added anything, when the load began, and at its
    # end: the figures mean little on a machine that other work kept busy.
    load = {"before": os.getloadavg()}
    try:
        env = services.env(args.backends)
        services.flush_redis()
        services.create_database()
        say(f"database {services.database}: migrating")
        services.manage(env, "migrate", "--noinput")
        # DEBUG=0: whitenoise serves what collectstatic put in STATIC_ROOT (var/staticfiles).
        services.manage(env, "collectstatic", "--noinput")
        public_id, deliberation_id = services.manage(
            env,
            "shell",
            "-c",
            CREATE_DELIBERATION.format(
                question=QUESTION, size=args.size, candidates=args.candidates
            ),
        ).split()[-2:]
        say("starting the Celery worker and gunicorn")
        services.start(
            "worker",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=info",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"cg-web-load-{secrets.token_hex(3)}@%h",
            ],
            {**env, "LOG_LEVEL": "INFO"},
        )
        port = free_port()
        gunicorn = [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.web_workers),
            "--backlog",
            "2048",
            "--timeout",
            "60",
        ]
        if args.threads > 1:
            gunicorn += ["--worker-class", "gthread", "--threads", str(args.threads)]
        services.start("gunicorn", gunicorn, env)
        base_url = f"http://127.0.0.1:{port}"
        services.wait_for_log("worker", r"\bready\.")
        services.wait_for_http("gunicorn", base_url + "/healthz/")
        # Each worker's first page pays for imports and template loading; not what is measured.
        for _ in range(3 * args.web_workers * args.threads):
            httpx.get(f"{base_url}/j/{public_id}/", timeout=30)

        say(f"{participants} participants against {base_url}")
        load["start"] = os.getloadavg()
        sampler = CpuSampler(
            {
                "postgres": re.compile(rf"^postgres: .*\b{services.database}\b"),
                "redis": re.compile(rf"^redis-server \S*:{args.redis.rpartition(':')[2]}\b"),
            }
        )
        sampler.start()
        busy_before, total_before = cpu_busy()
        client_before = resource.getrusage(resource.RUSAGE_SELF)
        web_before = services.cpu_seconds("gunicorn") or 0.0
        worker_before = services.cpu_seconds("worker") or 0.0
        recorder, wall_s, lags = asyncio.run(
            drive(
                base_url=base_url,
                join_path=f"/j/{public_id}/",
                participants=participants,
                ramp_s=args.ramp,
                timeout_s=args.timeout,
                polls_s=args.polls,
                size=args.size,
            )
        )
        busy_after, total_after = cpu_busy()
        load["end"] = os.getloadavg()
        services_s = sampler.stop()
        client_after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = {
            "machine_busy_percent": round(
                100 * (busy_after - busy_before) / max(1, total_after - total_before), 1
            ),
            "gunicorn_s": (services.cpu_seconds("gunicorn") or 0.0) - web_before,
            "worker_s": (services.cpu_seconds("worker") or 0.0) - worker_before,
            "postgres_s": services_s["postgres"],
            "redis_s": services_s["redis"],
            "client_s": (client_after.ru_utime + client_after.ru_stime)
            - (client_before.ru_utime + client_before.ru_stime)
            - sampler.own_cpu_s,
        }
        # Let the last mediation or rating write settle before counting rows.
        time.sleep(1)
        db = database_figures(services.database_url, int(deliberation_id))
        report = build_report(args, recorder, wall_s, lags, db, cpu, load)
        print(report_table(report))
        if args.json:
            print(json.dumps(report, default=str))
        return 0
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    finally:
        services.close()


if __name__ == "__main__":
    sys.exit(main())
