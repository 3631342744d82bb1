"""Real processes for end-to-end tests: a worker (`python -m app worker`) and the gateway."""

from __future__ import annotations

import functools
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.support.deadlines import PROCESS_SECONDS

# The shared servers the tests use (their own queues and key prefixes keep them apart); point
# them elsewhere with TEST_REDIS_URL / TEST_POSTGRES_URL.
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _ports(variable: str, default: str) -> range:
    first, _, last = os.environ.get(variable, default).partition("-")
    return range(int(first), int(last) + 1)


# Where tests that start several servers of their own (Redis with sentinels, gateway processes)
# put them: ranges of their own on a machine other suites share.
REDIS_PORTS = _ports("TEST_REDIS_PORTS", "17000-17099")
GATEWAY_PORTS = _ports("TEST_GATEWAY_PORTS", "17100-17199")


@functools.cache
def postgres_reason() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can (asked once a run)."""
    import psycopg

    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=30).close()
    except psycopg.OperationalError as exc:
        return f"no PostgreSQL at TEST_POSTGRES_URL ({POSTGRES_URL}): {exc}".splitlines()[0]
    return None


@functools.cache
def redis_reason() -> str | None:
    """Why the tests that need the shared Redis cannot run here, or None when they can."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=30, socket_timeout=30).ping()
    except redis.RedisError as exc:
        return f"no Redis at TEST_REDIS_URL ({REDIS_URL}): {exc}".splitlines()[0]
    return None


def require_postgres() -> None:
    """Skip the calling test, with the reason, when PostgreSQL does not answer."""
    if reason := postgres_reason():
        pytest.skip(reason)


@dataclass
class WorkerProcess:
    process: subprocess.Popen[str]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, wait: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(wait)


@dataclass
class Deployment:
    """One isolated queue (its own name) shared by the gateway and the workers of a test."""

    queue: str = field(default_factory=lambda: f"eco2:test:{uuid.uuid4().hex[:8]}")
    env: dict[str, str] = field(default_factory=dict)
    redis_url: str = REDIS_URL
    # The gateway and the workers share one conversation store: a SQLite file of this test's.
    conversations: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="eco2-conv-")) / "conv.sqlite3"
    )

    def __post_init__(self) -> None:
        # Its own copy: tests add to `env`, and a module's shared dict must not carry one
        # test's settings into the next.
        self.env = dict(self.env)

    def settings_env(self) -> dict[str, str]:
        return {
            "REDIS_URL": self.redis_url,
            "APP_WORKER__QUEUE_NAME": self.queue,
            "APP_CHECKPOINT__BACKEND": "memory",
            "APP_GATEWAY__SECRET": "test-secret-0123456789abcdef0123456789",
            # Beats every 3 s, taken for gone after 10 s without one: a worker starved of CPU
            # for 4 s (five suites and two hogs on two cores) read as gone at 1 s, and a
            # gateway refused chats with 503 no_worker while it ran them.
            "APP_WORKER__HEALTH_CHECK_INTERVAL": "3",
            # Tests submit hundreds of chats a minute; the limits have tests of their own.
            "APP_LIMITS__REQUESTS_PER_MINUTE": "1000000",
            # Photo quotas are a principal's for an hour in the shared Redis: runs would add up.
            "APP_LIMITS__PHOTOS_PER_HOUR": "1000000",
            "APP_LIMITS__PHOTO_BYTES_PER_HOUR": "100000000000",
            "APP_CONVERSATIONS__SQLITE_PATH": str(self.conversations),
            **self.env,
        }

    def settings_overrides(self) -> dict[str, Any]:
        return {
            "redis": {"url": self.redis_url},
            "worker": {"queue_name": self.queue, "health_check_interval": 3},
            "checkpoint": {"backend": "memory"},
            "conversations": {"sqlite_path": str(self.conversations)},
            "gateway": {"secret": "test-secret-0123456789abcdef0123456789", "heartbeat_seconds": 1},
        }


@contextmanager
def worker_process(
    deployment: Deployment, log_dir: Path, name: str = "w", **options: Any
) -> Iterator[WorkerProcess]:
    """`spawned_worker(...)` (its `command`, `env`) once it has started."""
    with spawned_worker(deployment, log_dir, name, **options) as worker:
        wait_until_started(worker, deployment)
        yield worker


@contextmanager
def spawned_worker(
    deployment: Deployment,
    log_dir: Path,
    name: str = "w",
    command: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[WorkerProcess]:
    """The worker process, not yet waited for (start several, then wait for each)."""
    log = log_dir / f"worker-{name}.log"
    handle = log.open("w")
    env = {**os.environ, **deployment.settings_env(), **(env or {}), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command or [sys.executable, "-m", "app", "worker"],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        yield WorkerProcess(process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        handle.close()


def wait_until_started(
    worker: WorkerProcess, deployment: Deployment, deadline: float = PROCESS_SECONDS
) -> None:
    """This worker's own readiness (its key, written once startup is done and it polls), not
    the queue's health key, which any other worker of the queue may have written. The deadline
    is generous: a worker's imports take a minute on a loaded 2-core machine."""
    key = f"{deployment.queue}:workers:{socket.gethostname()}:{worker.process.pid}"
    client = redis.Redis.from_url(deployment.redis_url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < deadline:
            if client.exists(key):
                return
            if worker.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{worker.text()}")
            time.sleep(0.05)
    finally:
        client.close()
    raise RuntimeError(f"worker not started after {deadline}s:\n{worker.text()}")


LISTENING = re.compile(
    r"^eco2 gateway listening on (http://127\.0\.0\.1:\d+) \(API docs: \S+/docs\)$"
)


@contextmanager
def app_process(
    deployment: Deployment,
    directory: Path,
    *args: str,
    name: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """`python -m app ARGS` with stdout and stderr in files of their own (`name`.out/.err,
    the command's name by default); SIGTERM at the end, SIGKILL if that is not enough."""
    name = name or args[0]
    out, err = directory / f"{name}.out", directory / f"{name}.err"
    env = {**os.environ, **deployment.settings_env(), **(env or {}), "PYTHONUNBUFFERED": "1"}
    with out.open("w") as out_file, err.open("w") as err_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            stdout=out_file,
            stderr=err_file,
            env=env,
            text=True,
        )
        try:
            yield process, out, err
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@dataclass
class GatewayProcess:
    process: subprocess.Popen[str]
    out: Path
    err: Path
    url: str = ""

    def wait_listening(self, deadline: float = PROCESS_SECONDS) -> str:
        """Its URL, from the line it prints once it listens (a minute's import on a busy host)."""
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            found = next((m[1] for m in map(LISTENING.match, lines(self.out)) if m), None)
            if found:
                self.url = found
                return found
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.err.read_text()[-3000:]}")
            time.sleep(0.05)
        raise RuntimeError(f"gateway not listening after {deadline}s:\n{self.err.read_text()}")


@dataclass
class Fleet:
    """Gateway and worker processes of one deployment, as on separate hosts: they share only
    Redis, PostgreSQL (where configured) and the gateways' secret."""

    gateways: list[GatewayProcess]
    workers: list[WorkerProcess]

    def alive(self) -> bool:
        processes = [g.process for g in self.gateways] + [w.process for w in self.workers]
        return all(p.poll() is None for p in processes)


@contextmanager
def fleet(
    deployment: Deployment,
    directory: Path,
    *,
    gateways: int,
    workers: int,
    env: dict[str, str] | None = None,
) -> Iterator[Fleet]:
    """`gateways` gateway processes (on ports of GATEWAY_PORTS) and `workers` workers, started
    together, each waited for; stopped (workers first) whatever happens."""
    from tests.support.redis_server import free_ports

    with ExitStack() as stack:
        started = [
            GatewayProcess(*stack.enter_context(
                app_process(deployment, directory, "gateway", "--port", str(port),
                            name=f"gateway-{i}", env=env)
            ))
            for i, port in enumerate(free_ports(gateways, GATEWAY_PORTS))
        ]  # fmt: skip
        spawned = [
            stack.enter_context(spawned_worker(deployment, directory, str(i), env=env))
            for i in range(workers)
        ]
        for worker in spawned:
            wait_until_started(worker, deployment)
        for gateway in started:
            gateway.wait_listening()
        yield Fleet(started, spawned)
