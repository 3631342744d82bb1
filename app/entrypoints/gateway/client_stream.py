"""The eco2 client's view of a job's events (`/api/v1/chat/{job_id}/events`): the same stream
as `/v1`, with the client's event names and fields (CLIENT_API.md, "The stream").

One event per stage named after the stage, `token` for each piece of the answer, `done` with
the stored turn (`result.persistence`), `error`; a question back is `needs_input` and, since the
eco2 client knows no such event, also a `done` whose answer is the question.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.application.ports.jobs import ChatJobsPort
from app.domain.events import ProgressEvent

STREAM_ID = r"^[0-9]{1,20}-[0-9]{1,20}$"


async def response(
    request: Request, jobs: ChatJobsPort, job_id: str, last_event_id: str | None
) -> EventSourceResponse:
    followed = jobs.follow(job_id, last_event_id, stop=request.is_disconnected)
    return EventSourceResponse(
        frames(followed),
        ping=request.app.state.settings.gateway.heartbeat_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def frames(followed: AsyncIterator[ProgressEvent]) -> AsyncIterator[ServerSentEvent]:
    async for event in followed:
        for name, data in translated(event):
            yield ServerSentEvent(
                data=json.dumps(data, ensure_ascii=False), event=name, id=event.id
            )


def translated(event: ProgressEvent) -> list[tuple[str, dict[str, Any]]]:
    """The client's frames for one of our events (none for what the client has no name for)."""
    base = {"job_id": event.job_id, "seq": event.seq}
    if event.type == "queued":
        return [("queued", {**base, "stage": "queued", "status": "started", "progress": 0})]
    if event.type == "stage" and event.stage:
        status = "completed" if event.status == "waiting" else event.status
        return [(event.stage, {**base, "stage": event.stage, "status": status})]
    if event.type == "delta":
        return [
            ("token", {"content": event.data.get("text", ""), "seq": event.seq, "node": "answer"})
        ]
    if event.type == "done":
        return [
            (
                "done",
                {
                    **base,
                    "stage": "done",
                    "status": "completed",
                    "progress": 100,
                    "result": event.data.get("result", {}),
                },
            )
        ]
    if event.type == "error":
        return [("error", {**base, **event.data})]
    if event.type == "needs_input":
        return _asked(event, base)
    return []


def _asked(event: ProgressEvent, base: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A question back: `needs_input` for a client that can answer it, then a `done` whose
    answer is the question (with its options) for the eco2 client, which knows no such event."""
    data = event.data
    options = data.get("options") or []
    question = str(data.get("question", ""))
    answer = f"{question}\n({', '.join(options)})" if options else question
    asked: dict[str, Any] = {
        k: data[k] for k in ("field", "question", "options", "expires_at") if k in data
    }
    result: dict[str, Any] = {"intent": "", "answer": answer}
    if "persistence" in data:
        result["persistence"] = data["persistence"]
    return [
        ("needs_input", {**base, **asked}),
        (
            "done",
            {**base, "stage": "done", "status": "completed", "progress": 100, "result": result},
        ),
    ]
