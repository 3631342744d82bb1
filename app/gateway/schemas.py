"""Request and response bodies of the HTTP API (with OpenAPI examples)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.chat import MAX_MESSAGE_CHARS, Location


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


class ChatAccepted(BaseModel):
    job_id: str
    thread_id: str
    token: str = Field(description="send as ?token= (EventSource) or Authorization: Bearer")
    events_url: str
    result_url: str


class ChatStatus(BaseModel):
    job_id: str
    status: str = Field(description="queued, in_progress, complete, not_found or deferred")
    terminal: str | None = Field(default=None, description="done or error, once finished")
    answer_so_far: str = ""
    result: dict[str, Any] | None = None


class Cancelled(BaseModel):
    job_id: str
    cancelled: bool
