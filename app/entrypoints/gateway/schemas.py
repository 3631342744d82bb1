"""Request and response bodies of the HTTP API (with OpenAPI examples)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.chat import MAX_MESSAGE_CHARS, Location
from app.domain.jobs import ChatJobStatus, JobState, TurnPolicy


class ChatSubmission(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message": "건전지랑 페트병은 어떻게 버려?"},
                {"message": "and the cap?", "thread_id": "web-3f2a9c1d"},
                {
                    "message": "where is the nearest battery bin?",
                    "location": {"latitude": 37.4979, "longitude": 127.0276},
                },
            ]
        },
    )

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    thread_id: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    user_id: str | None = Field(default=None, max_length=128)
    image_url: str | None = Field(default=None, max_length=2048)
    location: Location | None = None
    language: Literal["ko", "en"] | None = None
    if_busy: TurnPolicy = Field(
        default="enqueue",
        description="when the thread has an unfinished turn: wait for it (enqueue), refuse "
        "with 409 (reject), or end it and run this one next (interrupt)",
    )

    def thread(self) -> str:
        """The thread to continue, or a new one."""
        return self.thread_id or f"web-{uuid.uuid4().hex[:12]}"


class ChatAccepted(BaseModel):
    job_id: str
    thread_id: str
    token: str = Field(description="send as ?token= (EventSource) or Authorization: Bearer")
    events_url: str
    result_url: str


class ChatStatus(BaseModel):
    job_id: str
    state: JobState = Field(description="queued, running, waiting_input, done or failed")
    terminal: Literal["done", "error"] | None = Field(
        default=None, description="the terminal event's type, once the chat has ended"
    )
    attempt: int = Field(description="runs of this job so far (a re-run after a worker died)")
    answer: str = Field(description="the whole answer once done, else the text so far")
    error: dict[str, Any] | None = Field(default=None, description="kind and message")
    usage: dict[str, Any] | None = None

    @classmethod
    def of(cls, status: ChatJobStatus) -> ChatStatus:
        terminal = {JobState.DONE: "done", JobState.FAILED: "error"}.get(status.state)
        return cls(
            job_id=status.job_id,
            state=status.state,
            terminal=terminal,
            attempt=status.attempt,
            answer=status.answer,
            error=status.error,
            usage=status.usage,
        )


class Cancelled(BaseModel):
    job_id: str
    cancelled: bool
