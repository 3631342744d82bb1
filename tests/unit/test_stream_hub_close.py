"""The hub's reader stops at aclose even when the Redis client swallows the cancel."""

from __future__ import annotations

import asyncio
from typing import Any

from app.infrastructure.redis_jobs.hub import StreamHub


class SwallowingRedis:
    """A blocking XREAD that eats every cancel landing in it, as redis-py 5.x can: the read
    then returns as if its block had run out."""

    def __init__(self) -> None:
        self.reads = 0
        self.swallowed = 0
        self.reading = asyncio.Event()

    async def xread(self, streams: dict[str, str], block: int, count: int) -> Any:
        self.reads += 1
        self.reading.set()
        try:
            await asyncio.sleep(block / 1000)
        except asyncio.CancelledError:
            self.swallowed += 1
            current = asyncio.current_task()
            assert current is not None
            current.uncancel()
        return []

    async def xadd(self, *args: Any, **kwargs: Any) -> str:
        return "0-1"

    async def delete(self, *keys: str) -> int:
        return 0


async def test_aclose_ends_the_reader_after_a_swallowed_cancel() -> None:
    redis = SwallowingRedis()
    hub = StreamHub(redis, block_ms=50)  # type: ignore[arg-type]
    follower = hub.follow("job-1")
    waiting = asyncio.ensure_future(follower.__anext__())
    await asyncio.wait_for(redis.reading.wait(), 10)
    (reader,) = [t for t in asyncio.all_tasks() if t.get_name() == "stream-hub"]
    # Bounded, so a reader that never stops fails the test instead of hanging the suite
    # (aclose itself gives up quietly when cancelled, hence the check of the reader below).
    await asyncio.wait_for(hub.aclose(), 10)
    assert redis.swallowed >= 1
    assert reader.done()
    waiting.cancel()
