"""The one Redis factory under Sentinel, on a primary, a replica and three sentinels of the test's
own: clients find the primary through the sentinels and follow a failover, Lua scripts are
loaded again on the new primary, and a demoted primary's READONLY is an outage the retry
policy waits out (standalone too)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from arq.connections import create_pool
from structlog.testing import capture_logs

from app.application.ports.jobs import QueueUnavailable
from app.application.retry import RetryPolicy
from app.domain.errors import ServiceUnreachable
from app.domain.events import ProgressUpdate
from app.infrastructure.access.rate_limits import RedisUsageLimiter
from app.infrastructure.reachability import redis_reachable
from app.infrastructure.redis import arq_redis_settings, close_redis, redis_client
from app.infrastructure.redis_jobs import lua
from app.infrastructure.redis_jobs.keys import stream_key
from app.infrastructure.redis_jobs.publisher import (
    REDIS_DOWN,
    RedisStreamProgressNotifier,
    read_events,
)
from app.settings import RedisSettings
from tests.support.redis_server import PrivateRedis, free_ports
from tests.support.sentinel import MASTER, SentinelGroup, sentinel_group
from tests.support.services import REDIS_PORTS

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def group(tmp_path: Path) -> Iterator[SentinelGroup]:
    with sentinel_group(tmp_path, REDIS_PORTS) as started:
        yield started


def through(group: SentinelGroup) -> RedisSettings:
    # The URL's host is a port nothing listens on: only the sentinels may say where Redis is.
    return RedisSettings(url="redis://127.0.0.1:1/0", sentinels=group.addresses)


async def _forced_failover(group: SentinelGroup) -> None:
    """SENTINEL FAILOVER: the replica promoted, the old primary demoted to its replica (alive,
    so a connection still on it is answered READONLY)."""
    old = group.primary()
    with group.sentinels[0].client() as sentinel:
        sentinel.execute_command("SENTINEL", "FAILOVER", MASTER)
    await asyncio.to_thread(group.wait_promoted, old.port)

    def demoted() -> bool:
        with old.client() as client:
            return bool(client.info("replication").get("role") == "slave")

    await asyncio.to_thread(group._until, demoted, "the old primary demoted")


async def test_clients_follow_a_failover_and_load_their_scripts_on_the_new_primary(
    group: SentinelGroup,
) -> None:
    settings = through(group)
    client = redis_client(settings)
    retry = RetryPolicy(deadline=120, first_delay=0.05, max_delay=0.5)
    publisher = RedisStreamProgressNotifier(client, retry=retry)
    limiter = RedisUsageLimiter(
        client, settings.url, requests_per_minute=5, tokens_per_day=None, daily_cost_usd=None
    )
    job, principal = uuid.uuid4().hex, f"p-{uuid.uuid4().hex[:8]}"
    try:
        await publisher.publish(job, ProgressUpdate(type="answer", data={"text": "before"}))
        await limiter.admit(principal)
        first = group.primary().port
        await _forced_failover(group)
        # The sentinels cut the demoted primary's clients (CLIENT KILL): the pooled connection
        # reconnects, asking them where the primary is now.
        ended = await publisher.publish(job, ProgressUpdate(type="done"))
        await retry.run(lambda: limiter.admit(principal), transient=QueueUnavailable, what="a")
        events = await read_events(client, job)
        served_by = (await client.info("server"))["tcp_port"]
    finally:
        await close_redis(client)
    assert ended is not None and served_by != first == group.first_primary
    assert [e.type for e in events] == ["answer", "done"]  # both on the new primary, once
    with group.primary().client() as raw:
        # The script cache is not replicated (Redis 7): the steps were loaded again there.
        assert raw.xlen(stream_key(job)) == 2
        assert raw.script_exists(_sha(lua.script("publish")))[0]


def _sha(source: str) -> str:
    return hashlib.sha1(source.encode()).hexdigest()


async def test_readonly_from_a_demoted_primary_is_waited_out_by_the_retry_policy(
    tmp_path: Path,
) -> None:
    """Standalone, no Sentinel: a client whose URL names a server that is a replica (as a
    primary demoted under it would be) gets READONLY for writes until it is promoted."""
    primary_port, replica_port = free_ports(2, REDIS_PORTS)
    primary = PrivateRedis(tmp_path, primary_port)
    replica = PrivateRedis(tmp_path, replica_port, "--replicaof", "127.0.0.1", str(primary_port))
    primary.start()
    replica.start()
    client = redis_client(RedisSettings(url=replica.url))
    retry = RetryPolicy(deadline=120, first_delay=0.05, max_delay=0.5)

    async def promote_soon() -> None:
        await asyncio.sleep(0.5)
        with replica.client() as raw:
            raw.execute_command("REPLICAOF", "NO", "ONE")

    try:
        promoting = asyncio.create_task(promote_soon())
        with capture_logs() as logs:
            await retry.run(lambda: client.set("k", "v"), transient=REDIS_DOWN, what="write")
        await promoting
        written = await client.get("k")
    finally:
        await close_redis(client)
        replica.stop()
        primary.stop()
    assert written == b"v"
    retrying = next(e for e in logs if e["event"] == "outage.retrying")
    assert retrying["error"].startswith("ReadOnlyError")


async def test_the_start_up_check_and_arq_s_own_probe_go_through_the_sentinels(
    group: SentinelGroup,
) -> None:
    settings = through(group)
    await redis_reachable(settings)  # the URL's host alone would refuse
    pool = await create_pool(arq_redis_settings(settings))
    try:
        assert await pool.ping()
    finally:
        await close_redis(pool)
    nowhere = RedisSettings(sentinels=[f"127.0.0.1:{p}" for p in (1, 2)], socket_timeout=1)
    with pytest.raises(ServiceUnreachable) as refused:
        await redis_reachable(nowhere)
    assert str(refused.value) == (
        "Redis at primary 'mymaster' of sentinels 127.0.0.1:1, 127.0.0.1:2 is unreachable (no "
        "sentinel answered with a primary that is up) — check the sentinels and the primary "
        "they monitor, or set REDIS_SENTINELS"
    )
