"""Where progress events go (a Redis Stream or the terminal), and a job's stream for its policy."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol

from app.domain.events import ProgressEvent, ProgressUpdate


class ProgressNotifierPort(ABC):
    """Numbers each job's updates (seq from 1) and delivers them in order.

    Returns None when the update was dropped: after the job's terminal event, or a second
    `answer` (a re-run of the same job must not repeat them).
    """

    @abstractmethod
    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None: ...


class JobEventsPort(Protocol):
    """A job's event stream as the job policy uses it (the Redis Stream publisher in a worker)."""

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent | None:
        """As ProgressNotifierPort.publish: None when dropped (after the terminal event)."""
        ...

    async def publish_attempt(
        self, job_id: str, update: ProgressUpdate, *, attempt: int
    ) -> ProgressEvent | None:
        """Publish, making `attempt` the job's current one from this event on."""
        ...

    async def terminal(self, job_id: str) -> str | None:
        """The type of the job's terminal event (`done`, `error`, `resumed`), else None."""
        ...
