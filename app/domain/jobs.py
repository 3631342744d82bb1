"""A chat as a job: the ticket a submission gets, and where the job stands."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.events import ProgressEvent


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING_INPUT = "waiting_input"
    RESUMED = "resumed"  # answered: the turn went on as the job in `resumed_by`
    DONE = "done"
    FAILED = "failed"


# What a new turn does when its thread has one unfinished: wait its turn (LangGraph Server's
# default), be refused, or end the earlier turns and run next.
TurnPolicy = Literal["enqueue", "reject", "interrupt"]


class ChatTicket(BaseModel):
    """What a submission returns: the job to follow and the thread it belongs to."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    thread_id: str
    turns_ahead: int = 0  # earlier turns of the thread that run first


class ChatJobStatus(BaseModel):
    """One job as its event stream tells it: the stream is the single home of the answer."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    state: JobState
    attempt: int = Field(default=1, ge=1)
    answer: str = ""  # the whole answer once `answer` arrived, else the current attempt's text
    error: dict[str, Any] | None = None  # the `error` event's data: kind and a safe message
    usage: dict[str, Any] | None = None  # the `done` event's usage
    needs_input: dict[str, Any] | None = None  # what a paused job asks (field, question…)
    resumed_by: str | None = None  # the job that took the answer and carried the turn on

    @property
    def terminal(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED, JobState.RESUMED)


class QueueHealth(BaseModel):
    """Whether chats can run now: the queue answers, and some worker reported in recently."""

    model_config = ConfigDict(frozen=True)

    queue: str  # "ok" or what went wrong
    workers: str  # "ok", "none reporting", or what went wrong

    @property
    def ready(self) -> bool:
        return self.queue == "ok" and self.workers == "ok"


def fold_events(job_id: str, events: list[ProgressEvent]) -> ChatJobStatus:
    """A job's status from its events in order: later events refine earlier ones."""
    state, attempt = JobState.QUEUED, 1
    deltas: list[str] = []
    answer: str | None = None
    error: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    needs_input: dict[str, Any] | None = None
    resumed_by: str | None = None
    for event in events:
        if event.attempt > attempt:  # a re-run: the dead attempt's partial text is void
            attempt, deltas = event.attempt, []
        if event.type == "delta":
            deltas.append(str(event.data.get("text", "")))
        elif event.type == "answer":
            answer = str(event.data.get("text", ""))
        elif event.type == "needs_input":
            state, needs_input = JobState.WAITING_INPUT, dict(event.data)
        elif event.type == "resumed":
            state, resumed_by = JobState.RESUMED, str(event.data.get("job_id") or "")
        elif event.type == "done":
            state, usage = JobState.DONE, dict(event.data.get("usage") or {})
        elif event.type == "error":
            state, error = JobState.FAILED, dict(event.data)
        if event.type in ("stage", "delta", "answer") and state is JobState.QUEUED:
            state = JobState.RUNNING
    text = answer if answer is not None else "".join(deltas)
    return ChatJobStatus(
        job_id=job_id,
        state=state,
        attempt=attempt,
        answer=text,
        error=error,
        usage=usage,
        needs_input=needs_input,
        resumed_by=resumed_by,
    )
