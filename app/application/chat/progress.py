"""Stage events around every node; a broken event sink never breaks the chat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog

from app.application.chat.asking import InputNeeded
from app.application.ports.jobs import ProgressNotifierPort
from app.application.ports.telemetry import TracingPort
from app.domain.events import EventType, ProgressUpdate, StageStatus

log = structlog.get_logger(__name__)


@dataclass
class StageOutcome:
    """What a stage reports as it ends: details for the event, and whether it failed.

    A node that degrades (catches the error and carries on) sets `failed`; an exception that
    leaves the stage is reported as failed anyway.
    """

    details: dict[str, Any] = field(default_factory=dict)
    failed: bool = False

    def note(self, **details: Any) -> None:
        self.details.update(details)


class StageReporter:
    """Publishes through the notifier when there is one; otherwise does nothing."""

    def __init__(
        self, notifier: ProgressNotifierPort | None, tracing: TracingPort | None = None
    ) -> None:
        self._notifier = notifier
        self._tracing = tracing

    async def emit(
        self,
        job_id: str,
        kind: EventType,
        *,
        stage: str | None = None,
        status: StageStatus | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        if self._notifier is None:
            return
        update = ProgressUpdate(type=kind, stage=stage, status=status, data=data or {})
        try:
            await self._notifier.publish(job_id, update)
        except Exception as exc:  # progress is best effort; the answer is what matters
            log.warning("progress.publish_failed", job_id=job_id, stage=stage, error=str(exc))

    @asynccontextmanager
    async def stage(
        self, job_id: str, stage: str, data: dict[str, Any] | None = None
    ) -> AsyncIterator[StageOutcome]:
        """started on entry; completed (with what the block noted) or failed on exit; the
        block is one span (`node <stage>`) when tracing is on."""
        if self._tracing is None:
            async with self._reported(job_id, stage, data) as outcome:
                yield outcome
            return
        paused: InputNeeded | None = None
        with self._tracing.span(f"node {stage}", {"eco2.stage": stage, "eco2.job_id": job_id}):
            try:
                async with self._reported(job_id, stage, data) as outcome:
                    yield outcome
            except InputNeeded as needed:  # asking the person ends the span, not as a failure
                paused = needed
        if paused is not None:
            raise paused

    @asynccontextmanager
    async def _reported(
        self, job_id: str, stage: str, data: dict[str, Any] | None
    ) -> AsyncIterator[StageOutcome]:
        outcome = StageOutcome()
        started = time.perf_counter()
        await self.emit(job_id, "stage", stage=stage, status="started", data=data)
        try:
            yield outcome
        except InputNeeded:  # paused, asking the person: not a failure
            await self.emit(job_id, "stage", stage=stage, status="waiting", data=data)
            raise
        except BaseException as exc:
            await self.emit(
                job_id,
                "stage",
                stage=stage,
                status="failed",
                data={**(data or {}), "error": type(exc).__name__},
            )
            raise
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        await self.emit(
            job_id,
            "stage",
            stage=stage,
            status="failed" if outcome.failed else "completed",
            data={**(data or {}), **outcome.details, "ms": elapsed},
        )
