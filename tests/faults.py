"""A private `redis-server` for the tests that take Redis away (not a test module).

It listens on a free loopback port, keeps nothing on disk, and can be stopped and started again
on the same port, so that the clients of the code under test see a real outage and a real
recovery (an empty Redis, as after a restart without persistence).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="cg-redis-")
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not self.answers():
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited ({self.process.returncode}) on {self.port}")
            if time.monotonic() > deadline:
                pytest.fail(f"redis-server did not answer on port {self.port}")
            time.sleep(0.05)
        return self

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Kill it (SIGKILL, as a crash would): clients see their connections drop."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def celery_broker_at(url: str):
    """Point this process's Celery app (what the services enqueue through) at `url` for the
    block: the connection settings and the pools built from them."""
    from config import celery_app

    names = ("broker_url", "broker_read_url", "broker_write_url")
    previous = {name: celery_app.conf[name] for name in names}
    celery_app.conf.update({name: url for name in names})
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        celery_app.conf.update(previous)
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
