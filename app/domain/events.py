"""Progress events: what the worker publishes and the SSE gateway streams (see DESIGN.md)."""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["stage", "delta", "answer", "error", "done"]
StageStatus = Literal["started", "completed", "failed"]
TERMINAL_TYPES = frozenset({"done", "error"})


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
    """A numbered event: `seq` is per job, strictly increasing from 1."""

    seq: int = Field(ge=1)
    job_id: str
    ts: float = Field(default_factory=time.time)
