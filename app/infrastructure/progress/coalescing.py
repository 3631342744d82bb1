"""Progress events gathered for a few milliseconds and written together: consecutive answer
deltas become one, and stage events ride in one pipelined round trip. The stream's contract
holds: the same order, the same text, every event resumable, one terminal event."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from app.application.ports.progress import ProgressNotifierPort
from app.domain.events import ProgressEvent, ProgressUpdate
from app.infrastructure.progress.redis_streams import (
    DURABLE,
    REDIS_DOWN,
    RedisStreamProgressNotifier,
)

log = structlog.get_logger(__name__)
MAX_BATCH = 64  # events; a flush this size goes out at once


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
    """Buffers best-effort events per job for `window_ms`; durable ones (answer, needs_input,
    done, error) flush the buffer first and go out at once. Buffered events return None."""

    def __init__(self, inner: RedisStreamProgressNotifier, *, window_ms: float = 25.0) -> None:
        self._inner = inner
        self._window = window_ms / 1000
        self._batches: dict[str, _Batch] = {}

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None:
        if update.type in DURABLE or self._window <= 0:
            await self.flush(job_id)
            return await self._inner.publish(job_id, update)
        batch = self._batches.get(job_id)
        if batch is None:
            batch = self._batches[job_id] = _Batch()
            batch.timer = asyncio.get_running_loop().create_task(self._flush_later(job_id))
        batch.add(update)
        if len(batch.updates) >= MAX_BATCH:
            await self.flush(job_id)
        return None

    async def _flush_later(self, job_id: str) -> None:
        await asyncio.sleep(self._window)
        await self.flush(job_id, from_timer=True)

    async def flush(self, job_id: str, *, from_timer: bool = False) -> None:
        batch = self._batches.pop(job_id, None)
        if batch is None or not batch.updates:
            return
        if batch.timer is not None and not from_timer:
            batch.timer.cancel()
        try:
            await self._inner.publish_many(job_id, batch.updates)
        except REDIS_DOWN as exc:  # best effort, as each event alone would be
            log.warning("progress.batch_dropped", job_id=job_id, events=len(batch.updates),
                        error=type(exc).__name__)  # fmt: skip
