"""Progress events: what the worker publishes and the SSE gateway streams (see docs/api.md)."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["queued", "stage", "delta", "answer", "needs_input", "resumed", "error", "done"]
StageStatus = Literal["started", "completed", "failed", "waiting"]
# `resumed` ends a job that paused on `needs_input`: the answer went to a new job (its data
# names it), which carries the turn on. A paused job that nobody answers ends with `error`.
TERMINAL_TYPES = frozenset({"done", "error", "resumed"})


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
