"""A task cancelled just as redis-py finishes sending a command stays cancelled.

redis-py sends under `asyncio.wait_for` when a socket timeout is set; on Python 3.11 that
returns normally when the cancellation meets a send that has just completed (CPython gh-86296),
and a SIGTERM'd worker polled on for good. The race is made exact here: the send itself cancels
the task that awaits it, as it completes."""

from __future__ import annotations

import asyncio
import errno
import sys
from typing import Any

import pytest
import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection, Connection

from app.infrastructure.redis import keeping_cancellation, redis_pool
from app.settings import RedisSettings
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis

# The task the next send cancels as it completes (one-shot).
TO_CANCEL: list[asyncio.Task[Any]] = []


def cancelling_as_the_send_ends(base: type[AbstractConnection]) -> type[AbstractConnection]:
    class Racy(base):  # type: ignore[misc, valid-type]
        async def _send_packed_command(self, command: Any) -> None:
            await super()._send_packed_command(command)
            if TO_CANCEL:
                TO_CANCEL.pop().cancel()

    return Racy


async def cancelled_as_sent(client: Redis) -> bool:
    """Ping, cancelled as the ping is sent; True when the cancellation reached the caller."""
    task = asyncio.create_task(client.ping())
    TO_CANCEL.append(task)
    try:
        await task
    except asyncio.CancelledError:
        return True
    finally:
        TO_CANCEL.clear()
    return False


async def test_a_cancellation_meeting_a_finished_send_is_raised() -> None:
    racy = cancelling_as_the_send_ends(keeping_cancellation(Connection))
    client = Redis.from_url(REDIS_URL, socket_timeout=5, connection_class=racy)
    try:
        assert await cancelled_as_sent(client)
    finally:
        await client.aclose()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for keeps cancellations from 3.12")
async def test_redis_py_alone_loses_it_on_python_3_11() -> None:
    """The control: without KeepsCancellation the same race answers PONG to a cancelled task."""
    racy = cancelling_as_the_send_ends(Connection)
    client = Redis.from_url(REDIS_URL, socket_timeout=5, connection_class=racy)
    try:
        assert not await cancelled_as_sent(client)
    finally:
        await client.aclose()


async def test_the_factory_pool_keeps_it_and_answers_the_next_command() -> None:
    """The connection cancelled mid-command is closed (its reply is never read): the next
    command gets its own reply, not the cancelled one's."""
    pool = redis_pool(RedisSettings(url=REDIS_URL))
    pool.connection_class = cancelling_as_the_send_ends(pool.connection_class)
    client = Redis(connection_pool=pool)
    try:
        assert await cancelled_as_sent(client)
        assert await client.echo("mine") == b"mine"
    finally:
        await client.aclose()
        await pool.aclose()


# What the next send does instead of sending (one-shot): raise, or stall past the timeout.
FAULT: list[str] = []


class Faulty(keeping_cancellation(Connection)):  # type: ignore[misc]
    async def _send_packed_command(self, command: Any) -> None:
        fault = FAULT.pop() if FAULT else None
        if fault == "broken":
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        if fault == "stalled":
            await asyncio.sleep(60)  # well past the 5 s socket timeout
        await super()._send_packed_command(command)


@pytest.mark.parametrize(
    ("fault", "error"),
    [("broken", redis.exceptions.ConnectionError), ("stalled", redis.exceptions.TimeoutError)],
)
async def test_a_failed_send_is_redis_py_s_error_and_the_next_command_is_answered(
    fault: str, error: type[Exception]
) -> None:
    """The send is ours (timed by asyncio.timeout): a broken pipe or a stalled write ends as
    redis-py's own error, which the retry policy knows, and the connection is closed, so the
    next command gets its own reply."""
    client = Redis.from_url(
        REDIS_URL, socket_timeout=5, socket_connect_timeout=30, connection_class=Faulty
    )
    try:
        await client.ping()
        FAULT.append(fault)
        with pytest.raises(error):
            await client.echo("lost")
        assert await client.echo("mine") == b"mine"
    finally:
        FAULT.clear()
        await client.aclose()
