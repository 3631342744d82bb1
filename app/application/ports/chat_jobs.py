"""Chats as jobs: submit one, ask where it stands, cancel it, follow its events."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable

from app.domain.chat import ChatRequest
from app.domain.events import ProgressEvent
from app.domain.jobs import ChatJobStatus, ChatTicket, QueueHealth, TurnPolicy


class ChatJobsPort(ABC):
    """The job side of the service, as the gateway, `submit` and the tests see it."""

    @abstractmethod
    async def submit(
        self,
        request: ChatRequest,
        *,
        if_busy: TurnPolicy = "enqueue",
        principal: str = "anonymous",
        answering: str | None = None,
    ) -> ChatTicket:
        """Queue the chat behind its thread's unfinished turns (or as `if_busy` says); its
        `queued` event is readable as soon as this returns; the job runs within `principal`'s
        budget. A thread paused on a question is taken over: the paused job ends `resumed`.
        With `answering`, the chat must answer that paused job (NotWaitingForInput, or
        InputExpired, otherwise). Raises QueueUnavailable, QueueFull, NoWorkerAvailable,
        or ThreadBusy too."""

    @abstractmethod
    async def thread_of(self, job_id: str) -> str | None:
        """The thread the job belongs to, or None when no such job exists (or it expired)."""

    @abstractmethod
    async def status(self, job_id: str) -> ChatJobStatus | None:
        """Where the job stands, or None when no such job exists (or it expired)."""

    @abstractmethod
    async def cancel(self, job_id: str) -> bool:
        """End the job with an `error` of kind `cancelled`; False if it had ended already."""

    @abstractmethod
    def follow(
        self,
        job_id: str,
        after: str | None = None,
        *,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        """Events after the event id `after` as they arrive, ending with the terminal one.

        `stop` is asked whenever no event came for a while (the reader went away).
        """

    @abstractmethod
    async def health(self) -> QueueHealth:
        """Whether the queue answers and a worker reported in recently."""
