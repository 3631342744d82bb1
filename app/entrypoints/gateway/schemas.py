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


class ErrorResponse(BaseModel):
    """Every error response (4xx and 5xx), as `errors.error_body` writes it: a kind to branch
    on, a message of ours for people, and the fields of that kind. 429 and 503 also carry
    `Retry-After` (seconds)."""

    model_config = ConfigDict(extra="forbid")

    error: str = Field(
        description="the kind: bad_request, unauthorized, forbidden, not_found, "
        "thread_not_found, conflict, thread_busy, not_waiting_for_input, input_expired, "
        "too_large, invalid_request, rate_limited, budget_exceeded, no_worker, queue_full, "
        "queue_down, unavailable, internal",
        examples=["thread_busy"],
    )
    message: str = Field(description="for people; never an upstream's text or a secret")
    problems: list[str] | None = Field(
        default=None, description="422: each invalid field as `path: what is wrong`"
    )
    limit: str | None = Field(
        default=None,
        description="429: the limit reached (requests_per_minute, tokens, daily_budget)",
    )
    running_job_id: str | None = Field(
        default=None, description="409 thread_busy: the thread's unfinished job"
    )


class ChatAccepted(BaseModel):
    job_id: str = Field(description="the job: 32 hex digits")
    thread_id: str = Field(description="the thread; send it with the next message to continue")
    token: str = Field(
        description="grants this job only, until gateway.token_ttl_seconds: send as ?token= "
        "(EventSource) or Authorization: Bearer"
    )
    events_url: str = Field(description="the SSE stream of this job's events (token included)")
    result_url: str = Field(description="the job's state and answer (token included)")


class ChatStatus(BaseModel):
    job_id: str = Field(description="the job")
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
    usage: dict[str, Any] | None = Field(
        default=None,
        description="once ended: prompt_tokens, completion_tokens, calls, cost_usd (USD)",
    )
    needs_input: dict[str, Any] | None = Field(
        default=None, description="while waiting_input: field, question, options, input_url"
    )
    resumed_by: str | None = Field(
        default=None, description="when resumed: the job that took the answer and goes on"
    )

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

    value: str = Field(
        min_length=1,
        max_length=200,
        pattern=NOT_BLANK,
        description="one of the question's `options`, or free text (e.g. a district: 마포구)",
    )


class PhotoUploaded(BaseModel):
    image_url: str = Field(description="put this in POST /v1/chat's image_url")
    preview_url: str = Field(description="GET it to show the photo")


class Cancelled(BaseModel):
    job_id: str = Field(description="the job")
    cancelled: bool = Field(
        description="true if this request ended it; false if it had already ended"
    )


class Health(BaseModel):
    status: Literal["ok"] = Field(description="the process answers (liveness)")


class Readiness(BaseModel):
    """200 when ready, 503 (same body) when not."""

    ready: bool = Field(description="Redis answers and a worker reported in recently")
    redis: str = Field(description="ok, or why the queue is not usable")
    workers: str = Field(description="ok, or why no worker counts as running")
