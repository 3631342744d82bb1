"""One reader per process for every followed chat stream: thousands of SSE clients, one
blocking Redis connection.

A follower registers first, then reads its backlog (XRANGE after its cursor), then takes live
events from the hub, dropping any id it already has: no gap, no repeat. The hub's single XREAD
covers every followed stream plus a wake stream of its own, so a new follower's stream joins
the read at once. Quiet jobs are checked for liveness (see `Reaper`), so a follower of a job
that nothing holds any more gets a terminal event instead of waiting for ever.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Protocol

import structlog
from redis.asyncio import Redis

from app.domain.events import TERMINAL_TYPES, ProgressEvent
from app.infrastructure.redis_jobs import keys
from app.infrastructure.redis_jobs.publisher import REDIS_DOWN, parse_entry, read_events

log = structlog.get_logger(__name__)


class Reaps(Protocol):
    async def reap(self, job_ids: list[str], idle_since: list[float]) -> list[str]: ...


def _after(a: str, b: str) -> bool:
    """Stream id `a` comes after `b` ('ms-seq', compared as numbers)."""
    ams, _, aseq = a.partition("-")
    bms, _, bseq = b.partition("-")
    return (int(ams), int(aseq or 0)) > (int(bms), int(bseq or 0))


class StreamHub:
    def __init__(
        self,
        redis: Redis,
        reaper: Reaps | None = None,
        *,
        block_ms: int = 1000,
        check_every: float = 5.0,
        poll_seconds: float = 2.0,
    ) -> None:
        self._redis = redis
        self._reaper = reaper
        self._block_ms = block_ms
        self._check_every = check_every
        self._poll = poll_seconds
        self._followers: defaultdict[str, set[asyncio.Queue[ProgressEvent]]] = defaultdict(set)
        self._cursors: dict[str, str] = {}
        self._last_seen: dict[str, float] = {}
        self._wake_key = keys.hub_wake_key(uuid.uuid4().hex)
        self._wake_cursor = "0-0"
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._checked = time.monotonic()

    @property
    def followed(self) -> int:
        return sum(len(queues) for queues in self._followers.values())

    async def follow(
        self,
        job_id: str,
        after: str | None = None,
        *,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        queue: asyncio.Queue[ProgressEvent] = asyncio.Queue()
        await self._register(job_id, queue, after or "0-0")
        try:
            last = after or "0-0"
            for event in await read_events(self._redis, job_id, after or "-"):
                yield event
                last = event.id or last
                if event.type in TERMINAL_TYPES:
                    return
            while (live := await self._next(queue, stop)) is not None:
                if live.id is None or not _after(live.id, last):
                    continue  # already sent from the backlog
                yield live
                last = live.id
                if live.type in TERMINAL_TYPES:
                    return
        finally:
            self._unregister(job_id, queue)

    async def _next(
        self, queue: asyncio.Queue[ProgressEvent], stop: Callable[[], Awaitable[bool]] | None
    ) -> ProgressEvent | None:
        while True:
            try:
                return await asyncio.wait_for(queue.get(), self._poll)
            except TimeoutError:
                if stop is not None and await stop():
                    return None

    async def _register(self, job_id: str, queue: asyncio.Queue[ProgressEvent], at: str) -> None:
        self._followers[job_id].add(queue)
        if job_id not in self._cursors:
            self._cursors[job_id] = at
            self._last_seen[job_id] = time.time()
            self._ensure_running()
            with contextlib.suppress(*REDIS_DOWN):  # the hub picks it up on its next read
                await self._redis.xadd(self._wake_key, {"j": job_id}, maxlen=100)

    def _unregister(self, job_id: str, queue: asyncio.Queue[ProgressEvent]) -> None:
        followers = self._followers.get(job_id)
        if followers is None:
            return
        followers.discard(queue)
        if not followers:
            del self._followers[job_id]
            self._cursors.pop(job_id, None)
            self._last_seen.pop(job_id, None)

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stream-hub")

    async def _run(self) -> None:
        delay = 0.1
        # Until aclose: a loop that ended on its own could miss a new follower. The flag, not
        # only the cancel, ends it: redis-py (5.x) can swallow a cancel that lands inside a
        # blocking XREAD, and the loop would then read on forever (seen: `submit` hanging
        # at exit about one run in six).
        while not self._closed:
            try:
                await self._read_once()
                await self._check_quiet_jobs()
                delay = 0.1
            except REDIS_DOWN as exc:
                log.warning("progress.hub_read_failed", error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                now = time.time()  # quiet time starts again once Redis is back
                self._last_seen = dict.fromkeys(self._last_seen, now)

    async def _read_once(self) -> None:
        streams = {self._wake_key: self._wake_cursor}
        streams.update({keys.stream_key(job): cursor for job, cursor in self._cursors.items()})
        replies = await self._redis.xread(streams, block=self._block_ms, count=256)  # type: ignore[arg-type]
        for key, entries in replies or []:
            name = key.decode() if isinstance(key, bytes) else str(key)
            if name == self._wake_key:
                self._wake_cursor = _id(entries[-1][0])
                continue
            job_id = keys.job_of_stream(name)
            for entry_id, fields in entries:
                event = parse_entry(entry_id, fields, job_id)
                if event is not None:
                    self._dispatch(event)
                elif job_id in self._cursors:  # junk: step past it, or every read returns it
                    self._cursors[job_id] = _id(entry_id)

    def _dispatch(self, event: ProgressEvent) -> None:
        job_id = event.job_id
        if job_id not in self._cursors:
            return
        self._cursors[job_id] = event.id or self._cursors[job_id]
        self._last_seen[job_id] = time.time()
        for queue in self._followers.get(job_id, ()):
            queue.put_nowait(event)

    async def _check_quiet_jobs(self) -> None:
        if self._reaper is None or time.monotonic() - self._checked < self._check_every:
            return
        self._checked = time.monotonic()
        jobs = list(self._last_seen)
        await self._reaper.reap(jobs, [self._last_seen[job] for job in jobs])

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            with contextlib.suppress(*REDIS_DOWN):
                await self._redis.delete(self._wake_key)


def _id(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def stream_hub_resource(redis: Redis, reaper: Reaps | None) -> AsyncIterator[StreamHub]:
    """Container Resource: the process's one hub, its reader stopped at shutdown."""
    hub = StreamHub(redis, reaper)
    try:
        yield hub
    finally:
        await hub.aclose()
