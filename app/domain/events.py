"""Progress events: what the worker publishes and the SSE gateway streams (see docs/api.md)."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["queued", "stage", "delta", "answer", "needs_input", "resumed", "error", "done"]
StageStatus = Literal["started", "completed", "failed", "waiting"]
# `resumed` ends a job that paused on `needs_input`: the answer went to a new job (its data
# names it), which carries the turn on. A paused job that nobody answers ends with `error`.
TERMINAL_TYPES = frozenset({"done", "error", "resumed"})


class ErrorKind(StrEnum):
    """Why a chat ended with an `error` event (its data's `kind`): clients switch on it."""

    CANCELLED = "cancelled"  # its client cancelled it
    INTERRUPTED = "interrupted"  # a newer message on its thread replaced it
    TIMEOUT = "timeout"  # it ran past the job timeout
    INVALID_REQUEST = "invalid_request"  # its job was malformed or unreadable
    FAILED = "failed"  # the queue could not run it (tries used up, a crash)
    LOST = "lost"  # nothing held it any more (the queue lost its data)
    INPUT_EXPIRED = "input_expired"  # its question went unanswered in time
    BUDGET_EXCEEDED = "budget_exceeded"
    PROVIDER_BUSY = "provider_busy"
    PROVIDER_TIMEOUT = "provider_timeout"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_REJECTED = "provider_rejected"
    PROVIDER_MALFORMED = "provider_malformed"
    TOO_LONG = "too_long"  # the conversation no longer fits the model
    MISCONFIGURED = "misconfigured"
    STORE_UNAVAILABLE = "store_unavailable"  # the conversation store stayed unreachable
    INTERNAL = "internal"  # a bug of ours


class ProgressUpdate(BaseModel):
    """An event before the publisher numbers it."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    stage: str | None = None
    status: StageStatus | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        return self.type in TERMINAL_TYPES


class ProgressEvent(ProgressUpdate):
    """A numbered event: `seq` is per job, strictly increasing from 1.

    `id` is where the event sits in its stream (the SSE event id: a reader that resumes
    after it misses nothing and repeats nothing); `attempt` counts runs of the job, so a
    reader drops the partial text of an earlier attempt when a later one starts.
    """

    seq: int = Field(ge=1)
    job_id: str
    attempt: int = Field(default=1, ge=1)
    ts: float = Field(default_factory=time.time)
    id: str | None = None

    def wire(self) -> dict[str, Any]:
        """The event as clients receive it (the stream id travels as the SSE id)."""
        return self.model_dump(mode="json", exclude={"id"})


def failure(kind: ErrorKind, message: str, **details: Any) -> ProgressUpdate:
    """An `error` event: its kind, a message of ours (never an upstream's text), details."""
    return ProgressUpdate(type="error", data={"kind": kind.value, "message": message, **details})
