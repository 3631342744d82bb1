"""Where progress events go (a Redis Stream for the SSE gateway, or the terminal)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.events import ProgressEvent, ProgressUpdate


class ProgressNotifierPort(ABC):
    """Numbers each job's updates (seq from 1) and delivers them in order.

    Returns None when the update was dropped: after the job's terminal event, or a second
    `answer` (a re-run of the same job must not repeat them).
    """

    @abstractmethod
    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None: ...
