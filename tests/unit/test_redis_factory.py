"""The one Redis factory: what each setting becomes, standalone and under Sentinel (no server
needed: pools connect on first use), and READONLY counted as an outage."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool
from redis.asyncio.sentinel import SentinelConnectionPool, SentinelManagedSSLConnection
from redis.exceptions import ReadOnlyError

from app.application.retry import RetryPolicy
from app.domain.errors import ConfigurationError
from app.infrastructure.redis import (
    KeepsCancellation,
    SentinelBlockingConnectionPool,
    arq_redis_settings,
    describe,
    redis_pool,
)
from app.infrastructure.redis_jobs.publisher import REDIS_DOWN
from app.settings import RedisSettings, load_settings

SENTINELS = ["10.0.0.5:26379", "10.0.0.6:26380"]


def test_standalone_is_a_blocking_pool_on_the_url() -> None:
    pool = redis_pool(RedisSettings(url="redis://:pw@cache:6380/3", max_connections=7))
    assert type(pool) is BlockingConnectionPool and pool.max_connections == 7
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"], kwargs["password"]) == (
        "cache",
        6380,
        3,
        "pw",
    )


def test_under_sentinel_the_url_gives_database_password_and_tls_not_the_host() -> None:
    settings = RedisSettings(
        url="rediss://:pw@ignored:1/2", sentinels=SENTINELS, sentinel_master="eco2"
    )
    pool = redis_pool(settings)
    assert isinstance(pool, SentinelBlockingConnectionPool) and pool.service_name == "eco2"
    kwargs = pool.connection_kwargs
    assert "host" not in kwargs and (kwargs["db"], kwargs["password"]) == (2, "pw")
    assert issubclass(pool.connection_class, SentinelManagedSSLConnection)
    assert pool.max_connections == settings.max_connections
    assert kwargs["client_name"] == settings.client_name
    asked = [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]
    assert [(k["host"], k["port"]) for k in asked] == [("10.0.0.5", 26379), ("10.0.0.6", 26380)]
    assert all(k["socket_timeout"] == settings.socket_timeout for k in asked)
    assert all(k.get("password") is None for k in asked)  # the data nodes' password is not theirs


def test_the_sentinel_pool_waits_for_a_connection_and_asks_the_sentinels() -> None:
    # redis-py 5.3 has no such class: the two compose by MRO; an upgrade that breaks it fails.
    cls = SentinelBlockingConnectionPool
    assert cls.get_connection is BlockingConnectionPool.get_connection  # waits, never "too many"
    assert cls.release is BlockingConnectionPool.release
    assert cls.get_master_address is SentinelConnectionPool.get_master_address
    assert cls.reset is SentinelConnectionPool.reset


def test_arq_s_own_settings_name_the_same_redis() -> None:
    arq = arq_redis_settings(RedisSettings(url="redis://:pw@x:1/4", sentinels=SENTINELS))
    assert arq.sentinel and arq.sentinel_master == "mymaster"
    assert arq.host == [("10.0.0.5", 26379), ("10.0.0.6", 26380)]
    assert (arq.database, arq.password) == (4, "pw")
    assert not arq_redis_settings(RedisSettings()).sentinel


def test_messages_say_where_redis_is_without_passwords() -> None:
    assert describe(RedisSettings(url="redis://:secret@h:1/0")) == "redis://:**********@h:1/0"
    assert describe(RedisSettings(sentinels=SENTINELS)) == (
        "primary 'mymaster' of sentinels 10.0.0.5:26379, 10.0.0.6:26380"
    )


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"redis": {"sentinels": ["nohost"]}}, "'nohost' is not host:port"),
        ({"redis": {"sentinels": ["h:99999"]}}, "'h:99999' is not host:port"),
        (
            {"redis": {"sentinels": SENTINELS, "url": "unix:///run/redis.sock"}},
            "redis.url must be redis:// or rediss://",
        ),
        ({"worker": {"idle_wait": 5}}, "must stay under redis.socket_timeout"),
        ({"gateway": {"read_block_ms": 6000}}, "must stay under redis.socket_timeout"),
    ],
)
def test_settings_refuse_what_would_not_work(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        load_settings(**overrides)


def test_sentinels_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_REDIS__SENTINELS", '["a:1", "b:2"]')
    assert load_settings().redis.sentinel_addresses == [("a", 1), ("b", 2)]


async def test_readonly_is_an_outage_the_retry_policy_waits_out() -> None:
    """A primary demoted by a failover answers writes READONLY until the client reconnects."""
    replies: list[Exception | str] = [ReadOnlyError("READONLY You can't write"), "OK"]
    naps: list[float] = []

    async def write() -> str:
        reply = replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def nap(seconds: float) -> None:
        naps.append(seconds)

    assert ReadOnlyError in REDIS_DOWN
    policy = RetryPolicy(sleep=nap)
    assert await policy.run(write, transient=REDIS_DOWN, what="write") == "OK"
    assert naps == [policy.first_delay]


def test_every_pool_of_the_factory_keeps_cancellations() -> None:
    for url, sentinels in [
        ("redis://cache:6379/0", []),
        ("rediss://cache:6379/0", []),
        ("unix:///run/redis.sock?db=1", []),
        ("redis://:pw@x:6379/2", ["10.0.0.5:26379"]),
    ]:
        pool = redis_pool(RedisSettings(url=url, sentinels=sentinels))
        assert issubclass(pool.connection_class, KeepsCancellation), url
