"""Chats as jobs: submit, follow, publish progress, run turns; the queue's errors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from app.application.ports.llm import ProviderUnavailable
from app.domain.chat import ChatRequest, InputRequest
from app.domain.events import ProgressEvent, ProgressUpdate
from app.domain.jobs import ChatJobStatus, ChatTicket, QueueHealth, TurnPolicy


class QueueUnavailable(ProviderUnavailable):
    """The job queue (Redis) cannot be reached: nothing was queued."""


class NoWorkerAvailable(ProviderUnavailable):
    """No worker is running to take the chat: nothing was queued."""


class QueueFull(ProviderUnavailable):
    """The queue holds as many chats as it may: nothing was queued."""


class FollowersBusy(ProviderUnavailable):
    """So many readers are opening streams at once that this one waited its longest for a
    turn at the queue: nothing is wrong with the job; try again shortly."""


class ChatJobsPort(Protocol):
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
    async def status(self, job_id: str, *, issued_at: float | None = None) -> ChatJobStatus | None:
        """Where the job stands, or None when no such job exists (or it expired).

        `issued_at` (when the job's id was handed out, from its signed token) lets a job the
        queue lost with its data be told from one that never was: it ends `lost` instead."""

    @abstractmethod
    async def events(self, job_id: str) -> list[ProgressEvent]:
        """The events the job's stream holds now, oldest first (none for an unknown or expired
        job): a view that derives its frames from the whole stream reads this, then follows
        after its last id."""

    @abstractmethod
    async def place_in_line(self, job_id: str) -> int | None:
        """How many chats of the queue are ahead of this one (0: next or running), or None
        when it is not in the queue (waiting behind its thread's earlier turn, or gone)."""

    @abstractmethod
    async def cancel(self, job_id: str) -> bool:
        """End the job with an `error` of kind `cancelled`; False if it had ended already."""

    @abstractmethod
    async def check_follow(self, job_id: str, after: str | None = None) -> bool:
        """Whether `follow(job_id, after)` can start, for a view to answer before its response
        does: False when no such job exists (or it expired). Raises UnknownEventId as `follow`
        would, or FollowersBusy when it waited its longest for a turn at the queue."""

    @abstractmethod
    def follow(
        self,
        job_id: str,
        after: str | None = None,
        *,
        stop: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[ProgressEvent]:
        """Events after the event id `after` as they arrive, ending with the terminal one.

        `after` must be an id of the job's stream (one it issued, or any id up to its last
        event); at or past the terminal event the iteration ends at once, with no event. Any
        other id raises UnknownEventId before an event is yielded. Every reader waits its turn
        at the queue for a bounded time (FollowersBusy after it) instead of failing when the
        queue's connections are all busy. `stop` is asked whenever no event came for a while
        (the reader went away).
        """

    @abstractmethod
    async def health(self) -> QueueHealth:
        """Whether the queue answers and a worker reported in recently."""


class ProgressNotifierPort(Protocol):
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


class ProgressViewPort(Protocol):
    """What `ask` and `submit` draw their progress with, from the events alone."""

    def session(self, thread_id: str) -> AbstractContextManager[None]:
        """Around one command's events: a live view runs inside it and is left on screen."""
        ...

    def show(self, event: ProgressEvent) -> None: ...

    def note(self, text: str) -> None:
        """A line of our own (a hint), kept off the answer's line."""
        ...


@dataclass(frozen=True)
class Turn:
    """Where a turn got to: the thread's state, and the question it paused on, if it did."""

    state: dict[str, Any]
    needs_input: InputRequest | None = None


class ChatGraphPort(Protocol):
    """`job_id` is the run's own: its events are that job's, whichever job paused the turn."""

    async def run(
        self, update: dict[str, Any], thread_id: str, job_id: str, *, new_thread: bool = False
    ) -> Turn:
        """A new turn from the thread's last checkpoint (a pending question is dropped);
        `new_thread`: the thread has none, and none is read."""
        ...

    async def resume(self, value: str, thread_id: str, job_id: str) -> Turn:
        """The paused turn, with the person's answer to its question."""
        ...

    async def waiting_for(self, thread_id: str) -> InputRequest | None:
        """The question the thread's last turn paused on, or None."""
        ...
