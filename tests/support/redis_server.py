"""A Redis server of a test's own on a free port: fault tests kill and restart it freely."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis


def redis_server_reason() -> str | None:
    """Why tests that start Redis servers of their own cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian: apt-get install redis-server)"
    return None


def free_port(span: range | None = None) -> int:
    """A port nothing listens on: any (the OS picks), or the first free one of `span`."""
    if span is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    return free_ports(1, span)[0]


def free_ports(count: int, span: range) -> list[int]:
    """`count` distinct ports of `span` nothing listens on (tests sharing a machine with others
    keep their servers to a range of their own); take them all before starting any server."""
    found: list[int] = []
    for port in span:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"fewer than {count} free ports in {span.start}-{span.stop - 1}")


class PrivateRedis:
    """`redis-server` with no persistence, as the shared one: a restart loses every key,
    unless it was stopped with `keep_data` (as a server with persistence restarting)."""

    def __init__(self, directory: Path, port: int | None = None, *args: str) -> None:
        self.port = port or free_port()
        self._directory = directory
        self._args = args  # more of redis-server's options (`--replicaof HOST PORT`)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        with (self._directory / f"redis-{self.port}.log").open("ab") as log:
            self._process = subprocess.Popen(
                [binary, *self._command()], stdout=log, stderr=subprocess.STDOUT
            )
        self._wait(up=True)

    def _command(self) -> list[str]:
        return [
            "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self._directory), "--dbfilename", self._dump.name, *self._args,
        ]  # fmt: skip

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def _dump(self) -> Path:
        return self._directory / f"redis-{self.port}.rdb"

    def stop(self, *, keep_data: bool = False) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing is saved, and the next start is
        empty. `keep_data`: SHUTDOWN SAVE, atomically (no write acknowledged after the save is
        lost), so the next start loads every key the server held."""
        self._dump.unlink(missing_ok=True)
        if self._process is not None and self._process.poll() is None:
            if keep_data:
                with self.client() as client:
                    client.shutdown(save=True)
            else:
                self._process.kill()
            self._process.wait(10)
        self._wait(up=False)
        if keep_data and not self._dump.exists():
            raise RuntimeError(f"redis on {self.port} saved nothing to {self._dump}")

    def pause(self) -> None:
        """SIGSTOP: Redis stops answering but keeps every key (a stall, not a crash)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)
        self._wait(up=True)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def _wait(self, *, up: bool, deadline: float = 20.0) -> None:
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            try:
                with self.client() as client:
                    answered = bool(client.ping())
            except redis.RedisError:
                answered = False
            if answered == up:
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis on {self.port} did not go {'up' if up else 'down'}")
