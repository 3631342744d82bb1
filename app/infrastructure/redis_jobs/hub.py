"""One reader per process for every followed chat stream: thousands of SSE clients, one
blocking Redis connection.

A follower registers first, then reads its backlog (XRANGE after its cursor), then takes live
events from the hub, dropping any id it already has: no gap, no repeat. The hub's single XREAD
covers every followed stream plus a wake stream of its own, so a new follower's stream joins
the read at once. Quiet jobs are checked for liveness (see `Reaper`), so a follower of a job
that nothing holds any more gets a terminal event instead of waiting for ever.

No follower can stall the others. A resume point is checked before it joins the shared read
(`resume_rule`: the one rule both SSE views get through `follow`), the shared cursor of a job
is the lowest its followers need, and a read that Redis refuses (a stream key of another type)
ends the followers of the stream at fault, not the reader; anything else the reader trips on
is logged and the read starts again. Openings share round trips (`Admission`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.errors import UnknownEventId
from app.domain.events import TERMINAL_TYPES, ProgressEvent
from app.infrastructure.redis_jobs import event_ids, keys
from app.infrastructure.redis_jobs.admission import Admission, Command
from app.infrastructure.redis_jobs.publisher import MAX_BATCH, REDIS_DOWN, entry_events

log = structlog.get_logger(__name__)


class Reaps(Protocol):
    async def reap(self, job_ids: list[str], idle_since: list[float]) -> list[str]: ...


class UnreadableStream(RuntimeError):
    """Redis refused to read this job's stream (its key holds something else): its followers
    end with this, the other followers read on."""


def resume_point(after: str | None) -> str | None:
    """`after` as an event id; UnknownEventId for anything that cannot be one."""
    return None if after is None else event_ids.checked(after)


def resume_rule(after: str, last: tuple[str, str] | None) -> Literal["end", "live"]:
    """Where a follower resuming after `after` stands when no event of the stream comes after
    it, given the stream's last event (id, type): the job ended, so it ends at once; or it
    waits for the next event. An id past the last event of a running job (or of a stream with
    none) is one the stream never issued: UnknownEventId."""
    if last is not None and last[1] in TERMINAL_TYPES:
        return "end"
    if last is None or event_ids.after(after, last[0]):
        raise UnknownEventId(f"no event {after} in this job's stream")
    return "live"


Inbox = asyncio.Queue[ProgressEvent | Exception]


class StreamHub:
    def __init__(
        self,
        redis: Redis,
        reaper: Reaps | None = None,
        *,
        block_ms: int = 1000,
        check_every: float = 5.0,
        poll_seconds: float = 2.0,
        open_wait: float = 60.0,
    ) -> None:
        self._redis = redis
        self._reaper = reaper
        self._admission = Admission(redis, open_wait)
        self._block_ms = block_ms
        self._check_every = check_every
        self._poll = poll_seconds
        self._followers: defaultdict[str, set[Inbox]] = defaultdict(set)
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

    async def check(self, job_id: str, after: str | None) -> bool:
        """Whether the job exists (False: no event, no queued payload) and `after` is a resume
        point of its stream (else UnknownEventId): one round trip, in its turn."""
        cursor = resume_point(after)
        newest, queued = await self._admission.run(
            [
                ("xrevrange", (keys.stream_key(job_id),), {"count": 1}),
                ("exists", (keys.arq_job_key(job_id), keys.pending_key(job_id)), {}),
            ]
        )
        last = _entry_head(newest)
        if last is None and not queued:
            return False
        if cursor is not None:
            resume_rule(cursor, last)
        return True

    async def follow(
        self,
        job_id: str,
        after: str | None = None,
        *,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        cursor = resume_point(after)  # before the hub's read ever sees it
        inbox: Inbox = asyncio.Queue()
        # The entry of the resume point is read again: events after it may share its entry.
        woke = self._register(job_id, inbox, event_ids.before(cursor) if cursor else "0-0")
        try:
            backlog, last = await self._open(job_id, cursor, wake=woke)
            last_id = cursor or "0-0"
            for event in backlog:
                yield event
                last_id = event.id or last_id
                if event.type in TERMINAL_TYPES:
                    return
            if cursor is not None and not backlog and resume_rule(cursor, last) == "end":
                return
            while (live := await self._next(inbox, stop)) is not None:
                if isinstance(live, Exception):
                    raise live
                if live.id is None or not event_ids.after(live.id, last_id):
                    continue  # already sent from the backlog
                yield live
                last_id = live.id
                if live.type in TERMINAL_TYPES:
                    return
        finally:
            self._unregister(job_id, inbox)

    async def _open(
        self, job_id: str, cursor: str | None, *, wake: bool
    ) -> tuple[list[ProgressEvent], tuple[str, str] | None]:
        """The backlog after `cursor` and the stream's last entry, in one round trip (with
        the wake-up of the hub's read when this job just joined it)."""
        stream = keys.stream_key(job_id)
        commands: list[Command] = [
            ("xrange", (stream,), {"min": event_ids.entry_of(cursor) if cursor else "-"}),
            ("xrevrange", (stream,), {"count": 1}),
        ]
        if wake:
            commands.append(("xadd", (self._wake_key, {"j": job_id}), {"maxlen": 100}))
        entries, newest, *_ = await self._admission.run(commands)
        events = [e for i, f in entries for e in entry_events(i, f, job_id)]  # junk: skipped
        if cursor is not None:
            events = [e for e in events if e.id and event_ids.after(e.id, cursor)]
        return events, _entry_head(newest)

    async def _next(
        self, inbox: Inbox, stop: Callable[[], Awaitable[bool]] | None
    ) -> ProgressEvent | Exception | None:
        while True:
            try:
                # asyncio.timeout, not wait_for, which on Python 3.11 loses a cancellation
                # (the client gone) arriving as an event does (redis.py, KeepsCancellation).
                async with asyncio.timeout(self._poll):
                    return await inbox.get()
            except TimeoutError:
                self._ensure_running()  # a reader that ended for any reason starts again
                if stop is not None and await stop():
                    return None

    def _register(self, job_id: str, inbox: Inbox, at: str) -> bool:
        """Join the hub's read; True when the job is new to it (its read must wake up)."""
        self._followers[job_id].add(inbox)
        known = self._cursors.get(job_id)
        # The lowest cursor any follower needs: one resuming further on (even past the end,
        # until its point is checked) never makes the hub skip what another one waits for.
        self._cursors[job_id] = at if known is None or event_ids.after(known, at) else known
        if known is None:
            self._last_seen[job_id] = time.time()
            self._ensure_running()
        return known is None

    def _unregister(self, job_id: str, inbox: Inbox) -> None:
        followers = self._followers.get(job_id)
        if followers is None:
            return
        followers.discard(inbox)
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
                delay = 0.1
            except REDIS_DOWN as exc:
                log.warning("progress.hub_read_failed", error=type(exc).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                now = time.time()  # quiet time starts again once Redis is back
                self._last_seen = dict.fromkeys(self._last_seen, now)
                continue
            except RedisError as exc:  # refused, not down: find the stream at fault
                if not await self._isolate(exc):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
            except Exception as exc:  # our own bug: every other follower still needs the read
                log.exception("progress.hub_read_crashed", error=type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            await self._check_quiet_jobs()

    async def _read_once(self) -> None:
        jobs = {keys.stream_key(job): job for job in self._cursors}
        streams = {self._wake_key: self._wake_cursor}
        streams.update({key: self._cursors[job] for key, job in jobs.items()})
        replies = await self._redis.xread(streams, block=self._block_ms, count=256)  # type: ignore[arg-type]
        for key, entries in replies or []:
            name = _id(key)
            if name == self._wake_key:
                self._wake_cursor = _id(entries[-1][0])
            elif name in jobs:
                for entry_id, fields in entries:
                    self._dispatch(jobs[name], _id(entry_id), fields)

    def _dispatch(self, job_id: str, entry_id: str, fields: dict[Any, Any]) -> None:
        if job_id not in self._cursors:
            return
        # Past this entry whatever it holds: one that does not parse is never read again.
        self._cursors[job_id] = entry_id
        self._last_seen[job_id] = time.time()
        events = entry_events(entry_id, fields, job_id)  # none: junk, skipped (and logged)
        for inbox in self._followers.get(job_id, ()):
            for event in events:
                inbox.put_nowait(event)

    async def _isolate(self, refused: RedisError) -> bool:
        """Read each followed stream alone; end the followers of those Redis refuses. True
        when one was at fault (the shared read can go on at once)."""
        jobs = list(self._cursors)
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for job in jobs:
                    pipe.xread({keys.stream_key(job): self._cursors[job]}, count=1)
                replies = await pipe.execute(raise_on_error=False)
        except RedisError as exc:  # down now: the next read says so
            log.warning("progress.hub_probe_failed", error=type(exc).__name__)
            return False
        guilty = [job for job, reply in zip(jobs, replies, strict=True) if _refused(reply)]
        log.warning("progress.hub_read_refused", error=str(refused), streams=guilty)
        for job in guilty:
            failure = UnreadableStream(f"the stream of job {job} cannot be read: {refused}")
            for inbox in self._followers.pop(job, ()):
                inbox.put_nowait(failure)
            self._cursors.pop(job, None)
            self._last_seen.pop(job, None)
        return bool(guilty)

    async def _check_quiet_jobs(self) -> None:
        if self._reaper is None or time.monotonic() - self._checked < self._check_every:
            return
        self._checked = time.monotonic()
        jobs = list(self._last_seen)
        try:
            await self._reaper.reap(jobs, [self._last_seen[job] for job in jobs])
        except Exception as exc:  # checked again next time; the read must go on meanwhile
            log.warning("progress.hub_reap_failed", error=type(exc).__name__)

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


def _entry_head(newest: list[Any]) -> tuple[str, str] | None:
    """(id, type) of the last event of an XREVRANGE ... COUNT 1 reply (an entry's `type` is
    its last event's), whatever else its entry holds."""
    if not newest:
        return None
    entry_id, fields = newest[0]
    kind = fields.get(b"type", fields.get("type", b""))
    count = _id(fields.get(b"n", fields.get("n", b"1")))
    last = int(count) - 1 if count.isdigit() and 1 < int(count) <= MAX_BATCH else 0
    return _id(entry_id) + (f".{last}" if last else ""), _id(kind)


def _refused(reply: object) -> bool:
    return isinstance(reply, RedisError) and not isinstance(reply, REDIS_DOWN)


async def stream_hub_resource(
    redis: Redis, reaper: Reaps | None, *, open_wait: float = 60.0
) -> AsyncIterator[StreamHub]:
    """Container Resource: the process's one hub, its reader stopped at shutdown."""
    hub = StreamHub(redis, reaper, open_wait=open_wait)
    try:
        yield hub
    finally:
        await hub.aclose()
