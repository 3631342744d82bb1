"""Redis Sentinel of a test's own on loopback: a primary, a replica and three sentinels, as
separate `redis-server` processes in the test's directory; a failover is forced by killing the
primary (a crash: sentinels notice it down, agree, and promote the replica)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

from tests.support.deadlines import PROCESS_SECONDS
from tests.support.redis_server import PrivateRedis, free_ports, redis_server_reason

MASTER = "mymaster"
# Quick to notice a dead primary (the sentinels' own default is 30 s), and a failover that hangs
# is tried again after a while rather than never.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 10_000


class PrivateSentinel(PrivateRedis):
    """`redis-server CONF --sentinel` watching one primary; its config file is its own (a
    sentinel rewrites it as it learns the replicas, the other sentinels, a new primary)."""

    def __init__(self, directory: Path, port: int, primary: int) -> None:
        super().__init__(directory, port)
        self.config = directory / f"sentinel-{port}.conf"
        self.config.write_text(
            f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {MASTER} 127.0.0.1 {primary} 2\n"
            f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
            f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
            f"sentinel parallel-syncs {MASTER} 1\n"
        )

    def _command(self) -> list[str]:
        return [str(self.config), "--sentinel"]

    def primary_port(self) -> int | None:
        """The port this sentinel names primary now (None: it does not answer)."""
        try:
            with self.client() as client:
                host_port = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
        except redis.RedisError:
            return None
        return int(host_port[1]) if host_port else None

    def sees(self, replicas: int, sentinels: int) -> bool:
        with self.client() as client:
            found = client.execute_command("SENTINEL", "master", MASTER)
        state = dict(zip(found[::2], found[1::2], strict=True))
        return (
            int(state[b"num-slaves"]) >= replicas
            and int(state[b"num-other-sentinels"]) >= sentinels
        )


class SentinelGroup:
    """One primary, one replica, three sentinels (quorum 2), each on a port of `span`."""

    def __init__(self, directory: Path, span: range) -> None:
        primary, replica, *watchers = free_ports(5, span)
        self.servers = {
            primary: PrivateRedis(directory, primary),
            replica: PrivateRedis(directory, replica, "--replicaof", "127.0.0.1", str(primary)),
        }
        self.sentinels = [PrivateSentinel(directory, port, primary) for port in watchers]
        self.first_primary = primary

    @property
    def addresses(self) -> list[str]:
        """The sentinels as `redis.sentinels` takes them."""
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    def start(self) -> None:
        for server in self.servers.values():
            server.start()
        self._until(self._replica_in_sync, "the replica in sync with the primary")
        for sentinel in self.sentinels:
            sentinel.start()
        self._until(
            lambda: all(s.sees(replicas=1, sentinels=2) for s in self.sentinels),
            "every sentinel seeing the replica and the two other sentinels",
        )

    def stop(self) -> None:
        """Sentinels first, so none reconfigures a server while the servers stop; each process
        is waited for."""
        for process in [*self.sentinels, *self.servers.values()]:
            if process.running:
                process.stop()

    def primary(self) -> PrivateRedis:
        """The server every answering sentinel names primary."""
        named = {s.primary_port() for s in self.sentinels} - {None}
        if len(named) != 1:
            raise AssertionError(f"the sentinels disagree on the primary: {named}")
        return self.servers[named.pop()]  # type: ignore[index]

    def kill_primary(self) -> int:
        """SIGKILL the primary (nothing saved); its port."""
        port = self.primary().port
        self.servers[port].stop()
        return port

    def wait_promoted(self, old: int, deadline: float = PROCESS_SECONDS) -> float:
        """Until every sentinel names another primary; when that was (time.monotonic())."""
        self._until(
            lambda: all(s.primary_port() not in (None, old) for s in self.sentinels),
            "every sentinel naming the replica primary",
            deadline,
        )
        return time.monotonic()

    def _replica_in_sync(self) -> bool:
        replica = next(s for s in self.servers.values() if s.port != self.first_primary)
        with replica.client() as client:
            return bool(client.info("replication").get("master_link_status") == "up")

    @staticmethod
    def _until(condition: Callable[[], bool], what: str, deadline: float = PROCESS_SECONDS) -> None:
        started = time.monotonic()
        while time.monotonic() - started < deadline:
            try:
                if condition():
                    return
            except (redis.RedisError, KeyError, subprocess.SubprocessError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"not within {deadline:.0f} s: {what}")


@contextmanager
def sentinel_group(directory: Path, span: range) -> Iterator[SentinelGroup]:
    """A started group, stopped whatever happens; the calling test is skipped (with the reason)
    where redis-server is missing."""
    if reason := redis_server_reason():
        pytest.skip(reason)
    group = SentinelGroup(directory, span)
    try:
        group.start()
        yield group
    finally:
        group.stop()
