"""An adaptive per-origin cap on requests in flight (AIMD)."""

from __future__ import annotations

import asyncio
import time


class AdaptiveLimit:
    """A per-origin cap on requests in flight: halved when connections are lost, regained
    one step per window of successes (AIMD, as TCP does), never above `ceiling`.

    A server that recycles connections by dropping the streams in flight (some do, hypercorn
    among them) otherwise fails as many requests as we keep in flight on each connection.
    """

    CUT_WINDOW = 0.1  # one GOAWAY fails a burst of requests; count it as one signal

    def __init__(self, ceiling: int, floor: int = 4) -> None:
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self._limit = float(ceiling)
        self._in_flight = 0
        self._last_cut = 0.0
        self._changed = asyncio.Condition()

    @property
    def limit(self) -> int:
        return max(self.floor, int(self._limit))

    async def acquire(self) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: self._in_flight < self.limit)
            self._in_flight += 1

    async def release(self, *, connection_lost: bool) -> None:
        async with self._changed:
            self._in_flight -= 1
            now = time.monotonic()
            if connection_lost and now - self._last_cut > self.CUT_WINDOW:
                self._limit = max(self.floor, self._limit / 2)
                self._last_cut = now
            elif not connection_lost:
                self._limit = min(float(self.ceiling), self._limit + 1 / self._limit)
            self._changed.notify(max(self.limit - self._in_flight, 0))
