"""Reading a key that may hold the wrong type: corrupt data, not an outage.

Anything with write access to Redis can put a hash where a string belongs (a thread's owner), a
string where a list belongs (a thread's turns), and so on. Redis answers such a read with a
WRONGTYPE error; that is not the queue being unreachable (a 503 `queue_down` would send every
client to retry a request that can never succeed), it is one key's data being unreadable. A
reader wraps the read in `typed` and gets `default`, as if the key were absent; the Lua steps
check their keys' types themselves (`expect` in lua/functions.lua) and replace a corrupt one.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import structlog
from redis.exceptions import ResponseError

log = structlog.get_logger(__name__)
T = TypeVar("T")


def wrong_type(exc: BaseException) -> bool:
    """Redis refused the command because a key holds another type (WRONGTYPE)."""
    return isinstance(exc, ResponseError) and "WRONGTYPE" in str(exc)


async def typed(read: Awaitable[T], *, default: T, key: str = "") -> T:
    """Await one read; a key of the wrong type reads as `default` (and is logged)."""
    try:
        return await read
    except ResponseError as exc:
        if not wrong_type(exc):
            raise
        log.warning("redis.wrong_type", key=key, error=str(exc).split(".")[0])
        return default


def replies(results: list[Any], default: Any = None) -> list[Any]:
    """A pipeline's replies (executed with raise_on_error=False): a wrong-type reply becomes
    `default`; any other error is raised as it would have been."""
    found = []
    for result in results:
        if isinstance(result, BaseException):
            if not wrong_type(result):
                raise result
            log.warning("redis.wrong_type", error=str(result).split(".")[0])
            result = default
        found.append(result)
    return found
