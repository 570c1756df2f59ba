"""What each request cost the server, for the web-tier benchmark (tests/bench/web_load.py).

With `BENCH_INSTRUMENT=1` every response carries

    Server-Timing: cpu;dur=<ms>, app;dur=<ms>, sql;dur=<ms>;desc="<queries>"

cpu: CPU time of the thread that served the request (time.thread_time: the middleware stack,
the view, template rendering, the session save, and the database driver's share; not
PostgreSQL's or Redis's own CPU); app: its wall time inside Django; sql: the wall time and the
number of SQL statements sent on every database connection. Off by default, and never to be
switched on in production: the figures tell an outsider how much work a request caused. When
off, Django drops the middleware from the chain when it loads (MiddlewareNotUsed), so it costs
nothing.
"""

import time
from contextlib import ExitStack

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import connections

HEADER = "Server-Timing"


class QueryCounter:
    """An execute wrapper (Django's `connection.execute_wrapper`) that counts statements and
    adds up their wall time; `executemany` counts once, as one round trip."""

    def __init__(self):
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def server_timing(*, cpu_s: float, wall_s: float, queries: QueryCounter) -> str:
    return (
        f"cpu;dur={cpu_s * 1000:.3f}, app;dur={wall_s * 1000:.3f}, "
        f'sql;dur={queries.seconds * 1000:.3f};desc="{queries.count}"'
    )


class ServerTimingMiddleware:
    """First in MIDDLEWARE, so that what it measures includes every other middleware."""

    def __init__(self, get_response):
        if not settings.BENCH_INSTRUMENT:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        queries = QueryCounter()
        wall_started = time.perf_counter()
        cpu_started = time.thread_time()
        with ExitStack() as stack:
            for connection in connections.all():
                stack.enter_context(connection.execute_wrapper(queries))
            response = self.get_response(request)
        cpu_s = time.thread_time() - cpu_started
        wall_s = time.perf_counter() - wall_started
        response[HEADER] = server_timing(cpu_s=cpu_s, wall_s=wall_s, queries=queries)
        return response
