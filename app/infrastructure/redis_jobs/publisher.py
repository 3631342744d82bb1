"""Progress events on the job's Redis Stream: published idempotently, coalesced, read back.

One Lua step per batch of events makes numbering, the stream entries and the terminal marker
atomic, so a re-run of the same job (arq is at-least-once) can never add a second `answer` or a
second terminal event, and readers see a gap-free `seq`. The stream is the single home of a
chat's answer: status and SSE both read it.

Best-effort events may be gathered for a few milliseconds and written together (consecutive
answer deltas become one; a durable event takes what is buffered along), each batch one script
call and one round trip, with no read back; the stream's contract holds: the same order, the
same text, every event resumable, one terminal event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeout

from app.application.ports.jobs import ProgressNotifierPort
from app.application.retry import RetryPolicy
from app.domain.events import TERMINAL_TYPES, ProgressEvent, ProgressUpdate
from app.infrastructure.redis_jobs import keys, lua
from app.infrastructure.redis_jobs.typed import replies, typed

log = structlog.get_logger(__name__)
# Redis away, for now: unreachable, too slow, or (READONLY) a primary demoted by a failover
# that a connection still points at. Every retry and outage path of the service uses this.
REDIS_DOWN = (RedisConnectionError, RedisTimeout, ReadOnlyError, OSError)
# Events a reader cannot do without: retried through a Redis outage, not dropped.
DURABLE = frozenset({"answer", "needs_input", "done", "error"})
# Durable events the coalescer holds for the next one: a chat's `done` follows its `answer`
# at once, and the two go out in one step (one script call a chat fewer).
DEFERRED = frozenset({"answer"})
MAX_BATCH = 64  # events; a coalesced flush this size goes out at once
ENDED_KEPT = 4096  # jobs remembered as ended by this process (see `ended_here`)


class RedisStreamProgressNotifier(ProgressNotifierPort):
    """The stream entry id is the SSE event id: a reconnecting browser resumes exactly.

    Stage and delta events are best effort (one try); answer, needs_input and terminal events,
    an attempt's first event and the job's terminal marker are retried through a Redis outage
    by the retry policy, so a chat that finishes during one still delivers its ending once
    Redis is back. (The step is idempotent for answer and terminal events, and a retried
    batch carries a token: a retry after a lost reply writes nothing twice.)
    """

    def __init__(
        self,
        redis: Redis,
        *,
        maxlen: int = 2000,
        ttl_seconds: int = 3600,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._redis = redis
        self._maxlen = maxlen
        self._ttl = ttl_seconds
        self._retry = retry or RetryPolicy()
        self._script = redis.register_script(lua.script("publish"))
        # Jobs whose terminal event this process saw written, until the queue's finish step
        # asks (`ended_here`): most finished chats then cost that step no round trip.
        self._ended: dict[str, None] = {}

    def _remember_ended(self, job_id: str) -> None:
        self._ended[job_id] = None
        if len(self._ended) > ENDED_KEPT:  # endings nobody asks about (published elsewhere)
            del self._ended[next(iter(self._ended))]

    def ended_here(self, job_id: str) -> bool:
        """Whether this process wrote (or saw written) the job's terminal event; asked once."""
        return self._ended.pop(job_id, 0) is None

    @property
    def ttl_seconds(self) -> int:
        return self._ttl

    @property
    def maxlen(self) -> int:
        return self._maxlen

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None:
        return await self.publish_attempt(job_id, update, attempt=0)

    async def publish_attempt(
        self, job_id: str, update: ProgressUpdate, *, attempt: int
    ) -> ProgressEvent | None:
        """Publish, and (attempt > 0) make `attempt` the job's current one from this event on:
        that one is not best effort, readers must learn to drop the earlier attempt's text."""
        return await self.publish_batch(job_id, [update], attempt=attempt)

    async def publish_many(self, job_id: str, updates: list[ProgressUpdate]) -> None:
        """Events in one round trip (best effort unless one of them is durable)."""
        await self.publish_batch(job_id, updates)

    async def publish_batch(
        self, job_id: str, updates: list[ProgressUpdate], *, attempt: int = 0
    ) -> ProgressEvent | None:
        """`updates` in order, in one step and one round trip; the last one as published, or
        None when it was dropped (after the terminal event, a second answer).

        A batch holding a durable event (or starting an attempt) is retried through a Redis
        outage under a token, so a retry after a lost reply does not write it twice; a
        best-effort batch gets one try."""
        if not updates:
            return None
        if attempt or any(update.type in DURABLE for update in updates):
            token = uuid.uuid4().hex
            return await self._retry.run(
                lambda: self._publish_once(job_id, updates, attempt, token),
                transient=REDIS_DOWN,
                what=f"progress.{updates[-1].type}",
            )
        return await self._publish_once(job_id, updates, attempt, "")

    async def _publish_once(
        self, job_id: str, updates: list[ProgressUpdate], attempt: int, token: str
    ) -> ProgressEvent | None:
        ts = time.time()
        args: list[Any] = [job_id, attempt, int(ts * 1000), self._maxlen, self._ttl]
        args += [f"{ts:.6f}", token]
        for update in updates:
            args += [update.type, update.stage or "", update.status or "", _json(update.data)]
        args.append(keys.lua_templates())
        seq, entry_id, current, _, place = await self._script(keys=_keys(job_id), args=args)
        if any(update.type in TERMINAL_TYPES for update in updates):
            self._remember_ended(job_id)  # written now, or by an earlier try: ended either way
        if int(place) != len(updates):  # the last one was dropped
            return None
        last = updates[-1]
        return ProgressEvent(
            seq=int(seq),
            job_id=job_id,
            ts=ts,
            attempt=int(current),
            id=_text(entry_id),
            type=last.type,
            stage=last.stage,
            status=last.status,
            data=last.data,
        )

    async def terminal(self, job_id: str) -> str | None:
        """`done` or `error` once the job has ended, else None."""
        meta = keys.meta_key(job_id)

        async def read() -> Any:
            # A meta of the wrong type reads as none (corrupt data, not an outage).
            return await typed(self._redis.hget(meta, "terminal"), default=None, key=meta)  # type: ignore[arg-type]

        value = await self._retry.run(read, transient=REDIS_DOWN, what="progress.terminal")
        return _text(value) if value is not None else None

    async def keep_alive(self, job_ids: Iterable[str], seconds: float) -> None:
        """Say these jobs are being worked on for `seconds` more (a running worker renews it);
        readers treat a job nobody renews, queues or has ended as lost."""
        until = f"{time.time() + seconds:.3f}"
        async with self._redis.pipeline(transaction=False) as pipe:
            for job_id in job_ids:
                pipe.hset(keys.meta_key(job_id), "alive_until", until)
                pipe.expire(keys.meta_key(job_id), self._ttl)
            # A corrupt meta (planted as another type) must not stop the worker's lease loop:
            # that job goes unrenewed and ends `lost`; the others are renewed.
            replies(await pipe.execute(raise_on_error=False))


def entry_events(
    entry_id: bytes | str, fields: dict[Any, Any], job_id: str | None = None
) -> list[ProgressEvent]:
    """The events a stream entry holds, each carrying its id (the entry's for the first, then
    `<entry>.<k>`): none when the entry is not one of ours (fields missing or malformed, or
    another job's id in `job_id`'s stream). The layouts are lua/publish.lua's.

    Anything with write access to Redis can add an entry to a chat's stream: a reader skips
    what it cannot read (and logs it) instead of failing every status and stream of the chat.
    """
    entry = _text(entry_id)
    try:
        text = {_text(k): _text(v) for k, v in fields.items()}
        seq, owner, ts = int(text["seq"]), text["job_id"], float(text["ts"])
        attempt = int(text.get("attempt") or 1)
        if "events" in text:
            rows = json.loads(text["events"])
            if not isinstance(rows, list) or not rows or len(rows) > MAX_BATCH:
                raise ValueError("not a list of events")
        else:
            rows = [[text["type"], text.get("stage"), text.get("status"),
                     json.loads(text.get("data") or "{}")]]  # fmt: skip
        events = [
            ProgressEvent(
                id=entry if k == 0 else f"{entry}.{k}",
                seq=seq + k,
                job_id=owner,
                type=kind,  # validated by the model
                stage=stage or None,
                status=status or None,
                data=data,
                ts=ts,
                attempt=attempt,
            )
            for k, (kind, stage, status, data) in enumerate(rows)
        ]
    except (KeyError, ValueError, TypeError, RecursionError) as exc:  # ValidationError too
        log.warning("progress.entry_skipped", entry=entry, error=type(exc).__name__)
        return []
    if job_id is not None and owner != job_id:
        log.warning("progress.entry_skipped", entry=entry, error="another job's entry")
        return []
    return events


async def read_events(redis: Redis, job_id: str, after: str = "-") -> list[ProgressEvent]:
    """The events the job's stream holds after the id `after` (all by default), oldest first;
    entries that are not events are skipped (see `entry_events`)."""
    start = after if after == "-" else f"({after}"
    entries = await typed(redis.xrange(keys.stream_key(job_id), min=start), default=[])
    return [event for i, fields in entries for event in entry_events(i, fields, job_id)]


def _keys(job_id: str) -> list[str]:
    """The publish step's KEYS (lua/publish.lua)."""
    return [keys.stream_key(job_id), keys.meta_key(job_id), keys.WAITING, keys.pending_key(job_id)]


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) if data else "{}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    senders: int = 0


@dataclass
class _Batch:
    updates: list[ProgressUpdate] = field(default_factory=list)
    timer: asyncio.Task[None] | None = None

    def add(self, update: ProgressUpdate) -> None:
        last = self.updates[-1] if self.updates else None
        if (
            last is not None
            and update.type == last.type == "delta"
            and update.stage == last.stage
            and set(update.data) == set(last.data) == {"text"}
        ):
            text = str(last.data["text"]) + str(update.data["text"])
            self.updates[-1] = last.model_copy(update={"data": {"text": text}})
        else:
            self.updates.append(update)


class CoalescingProgressNotifier(ProgressNotifierPort):
    """Buffers best-effort events per job for `window_ms`; durable ones (needs_input, done,
    error) go out at once with the buffer. An `answer` waits in the buffer for the `done`
    that follows it (or the window), and is retried like any durable event. Buffered events
    return None."""

    def __init__(self, inner: RedisStreamProgressNotifier, *, window_ms: float = 25.0) -> None:
        self._inner = inner
        self._window = window_ms / 1000
        self._batches: dict[str, _Batch] = {}
        # One send at a time per job, each taking the buffer in its turn. Two in flight (a
        # timer's flush still waiting for a connection, the next batch's on an idle one)
        # reached Redis out of order, and a flush that came after the job's `done` was dropped
        # by the publish step: the chat page showed a turn without its photo and lookup stages
        # (docs/faults.md). A job's entry lives while a send waits or runs.
        self._turns: dict[str, _Turn] = {}

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None:
        if (update.type in DURABLE and update.type not in DEFERRED) or self._window <= 0:
            # What is buffered goes out with it, in the same step and round trip.
            async with self._turn(job_id):
                return await self._inner.publish_batch(job_id, [*self._take(job_id), update])
        batch = self._batches.setdefault(job_id, _Batch())
        if batch.timer is None:
            # A new batch, or one held after a failed send: events joining a held batch
            # would otherwise wait for the job's next durable event, however long that is.
            batch.timer = asyncio.get_running_loop().create_task(self._flush_later(job_id))
        batch.add(update)
        if len(batch.updates) >= MAX_BATCH:
            await self.flush(job_id)
        return None

    async def _flush_later(self, job_id: str) -> None:
        await asyncio.sleep(self._window)
        await self.flush(job_id, from_timer=True)

    def _take(self, job_id: str, *, from_timer: bool = False) -> list[ProgressUpdate]:
        """The job's buffered events, its timer stopped (unless the timer is the caller)."""
        batch = self._batches.pop(job_id, None)
        if batch is None:
            return []
        if batch.timer is not None and not from_timer:
            batch.timer.cancel()
        return batch.updates

    def _hold(self, job_id: str, updates: list[ProgressUpdate]) -> None:
        """Put a batch that could not be sent back in front of the job's buffer. No timer of
        its own (a retry loop while Redis is away): the job's next event takes it along, or
        starts the window that does."""
        batch = self._batches.setdefault(job_id, _Batch())
        batch.updates[:0] = updates

    @contextlib.asynccontextmanager
    async def _turn(self, job_id: str) -> AsyncIterator[None]:
        """The job's turn to send; its entry goes with the last sender, however the job ends
        (an ending published elsewhere, by arq's side, never passes here)."""
        turn = self._turns.setdefault(job_id, _Turn())
        turn.senders += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.senders -= 1
            if not turn.senders:
                del self._turns[job_id]

    async def flush(self, job_id: str, *, from_timer: bool = False) -> None:
        async with self._turn(job_id):
            updates = self._take(job_id, from_timer=from_timer)
            if not updates:
                return
            try:
                await self._inner.publish_many(job_id, updates)
            except REDIS_DOWN as exc:
                if any(update.type in DURABLE for update in updates):
                    # Retried already; held for the job's next event (its ending, which
                    # fails the chat if Redis stays away), never dropped.
                    self._hold(job_id, updates)
                    return
                # best effort, as each event alone would be
                log.warning("progress.batch_dropped", job_id=job_id, events=len(updates),
                            error=type(exc).__name__)  # fmt: skip
