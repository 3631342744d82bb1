"""Request and response bodies of the HTTP API (with OpenAPI examples)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.chat import NOT_BLANK, ChatDraft
from app.domain.jobs import ChatJobStatus, JobState, TurnPolicy


class ChatSubmission(ChatDraft):
    """A message for the assistant: validated here, once, with the rules of `ChatDraft`."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"message": "건전지랑 페트병은 어떻게 버려?"},
                {"message": "and the cap?", "thread_id": "thr_8cXh2mQv0tZbL1sY9aJdFw"},
                {
                    "message": "where is the nearest battery bin?",
                    "location": {"latitude": 37.4979, "longitude": 127.0276},
                },
            ]
        },
    )

    thread_id: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="a thread this principal was issued (by an earlier answer); omit to start one",
    )
    if_busy: TurnPolicy = Field(
        default="enqueue",
        description="when the thread has an unfinished turn: wait for it (enqueue), refuse "
        "with 409 (reject), or end it and run this one next (interrupt)",
    )

    def draft(self) -> ChatDraft:
        return ChatDraft(**self.model_dump(exclude={"thread_id", "if_busy"}))


class ErrorBody(BaseModel):
    """Every error response: a kind to branch on, and a message for people."""

    error: str = Field(description="e.g. invalid_request, unauthorized, thread_busy, rate_limited")
    message: str
    problems: list[str] | None = Field(default=None, description="what was invalid (422)")
    limit: str | None = Field(default=None, description="which limit was reached (429)")


class ChatAccepted(BaseModel):
    job_id: str
    thread_id: str
    token: str = Field(description="send as ?token= (EventSource) or Authorization: Bearer")
    events_url: str
    result_url: str


class ChatStatus(BaseModel):
    job_id: str
    state: JobState = Field(
        description="queued, running, waiting_input (answer it at input_url), resumed (the "
        "answer went to the job in resumed_by), done or failed"
    )
    terminal: Literal["done", "error", "resumed"] | None = Field(
        default=None, description="the terminal event's type, once the chat has ended"
    )
    attempt: int = Field(description="runs of this job so far (a re-run after a worker died)")
    answer: str = Field(description="the whole answer once done, else the text so far")
    error: dict[str, Any] | None = Field(default=None, description="kind and message")
    usage: dict[str, Any] | None = None
    needs_input: dict[str, Any] | None = Field(
        default=None, description="while waiting_input: field, question, options, input_url"
    )
    resumed_by: str | None = None

    @classmethod
    def of(cls, status: ChatJobStatus) -> ChatStatus:
        terminal = {
            JobState.DONE: "done",
            JobState.FAILED: "error",
            JobState.RESUMED: "resumed",
        }.get(status.state)
        return cls(
            job_id=status.job_id,
            state=status.state,
            terminal=terminal,
            attempt=status.attempt,
            answer=status.answer,
            error=status.error,
            usage=status.usage,
            needs_input=status.needs_input,
            resumed_by=status.resumed_by,
        )


class InputAnswer(BaseModel):
    """The answer to a paused chat's question (`needs_input`): one of its options, or text."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK)


class PhotoUploaded(BaseModel):
    image_url: str = Field(description="put this in POST /v1/chat's image_url")
    preview_url: str = Field(description="GET it to show the photo")


class Cancelled(BaseModel):
    job_id: str
    cancelled: bool
