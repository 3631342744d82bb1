"""Where progress events go (a Redis Stream for the SSE gateway, or the terminal)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.events import ProgressEvent, ProgressUpdate


class ProgressNotifierPort(ABC):
    """Numbers each job's updates (seq from 1) and delivers them in order."""

    @abstractmethod
    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent: ...
