"""One quick try at start: a process that cannot work without Redis or PostgreSQL says so in a
line (where, why, the fix) instead of retrying into a traceback."""

from __future__ import annotations

import asyncio
import os
import re

from app.domain.errors import ServiceUnreachable
from app.settings import RedisSettings, Settings
from app.settings.masking import mask_url

REDIS_FIX = "start it (make services) or set REDIS_URL"
NO_PRIMARY = "no sentinel answered with a primary that is up"
SENTINEL_FIX = "check the sentinels and the primary they monitor, or set REDIS_SENTINELS"
POSTGRES_FIX = "start it (make services), set POSTGRES_URL or choose checkpoint.backend: sqlite"


async def require_reachable(settings: Settings, *, redis: bool, checkpoint: bool) -> None:
    """`redis`: the queue's Redis; `checkpoint`: PostgreSQL, when the checkpoints live there."""
    if redis:
        await redis_reachable(settings.redis)
    if checkpoint and settings.checkpoint.backend == "postgres" and settings.postgres.url:
        await postgres_reachable(
            settings.postgres.url.get_secret_value(), settings.redis.socket_timeout
        )


async def redis_reachable(settings: RedisSettings) -> None:
    """A PING through the service's own factory: under Sentinel, the primary they name."""
    from redis.asyncio.sentinel import MasterNotFoundError
    from redis.exceptions import RedisError

    from app.infrastructure.redis import close_redis, describe, redis_client

    wait_s = settings.socket_timeout
    client = redis_client(settings)
    try:
        async with asyncio.timeout(wait_s + 1):
            await client.ping()
    except MasterNotFoundError as exc:
        raise ServiceUnreachable(
            "Redis", where=describe(settings), reason=NO_PRIMARY, fix=SENTINEL_FIX
        ) from exc
    except (RedisError, OSError, TimeoutError) as exc:
        fix = SENTINEL_FIX if settings.sentinels else REDIS_FIX
        raise ServiceUnreachable(
            "Redis", where=describe(settings), reason=reason(exc), fix=fix
        ) from exc
    finally:
        await close_redis(client)


async def postgres_reachable(url: str, wait_s: float) -> None:
    import psycopg

    try:
        async with asyncio.timeout(wait_s + 1):
            connection = await psycopg.AsyncConnection.connect(
                url, connect_timeout=max(int(wait_s), 1)
            )
            await connection.close()
    except (psycopg.Error, OSError, TimeoutError) as exc:
        raise ServiceUnreachable(
            "PostgreSQL", where=mask_url(url), reason=reason(exc), fix=POSTGRES_FIX
        ) from exc


def reason(exc: BaseException) -> str:
    """The OS's words when there are some ("Connection refused"), else the error's last clause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and (seen.errno or seen.strerror):
            # asyncio words a refusal "Connect call failed (...)"; the errno says it plainly.
            return os.strerror(seen.errno) if seen.errno else str(seen.strerror)
        seen = seen.__cause__ or seen.__context__
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.split(r":\s+", text.rstrip("."))[-1]
