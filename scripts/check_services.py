"""Fail fast, naming what to start, when the test services are not reachable.

Usage: check_services.py DATABASE_URL REDIS_URL
"""

import socket
import sys
from urllib.parse import urlsplit

HINTS = {
    "PostgreSQL": "start it (Debian: pg_ctlcluster 15 main start) or set TEST_DATABASE_URL",
    "Redis": "start it (redis-server --daemonize yes) or set TEST_REDIS_URL / TEST_BROKER_URL",
}


def reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return host, port, True
    except OSError:
        return host, port, False


def main() -> int:
    database_url, redis_url = sys.argv[1], sys.argv[2]
    failed = False
    for name, url, port in (("PostgreSQL", database_url, 5432), ("Redis", redis_url, 6379)):
        host, port, ok = reachable(url, port)
        if not ok:
            print(
                f"make test: {name} is not reachable at {host}:{port}; {HINTS[name]}.",
                file=sys.stderr,
            )
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
