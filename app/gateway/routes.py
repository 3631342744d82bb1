"""The HTTP API: submit, stream events (SSE), status, cancel, health."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from arq.jobs import Job, JobStatus
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.domain.chat import ChatRequest
from app.domain.events import ProgressUpdate
from app.gateway.schemas import Cancelled, ChatAccepted, ChatStatus, ChatSubmission
from app.infrastructure.progress.redis_streams import (
    answer_key,
    follow_events,
    stream_key,
    terminal_of,
)
from app.worker import JOB_NAME

router = APIRouter()
JOB_ID = r"^[0-9a-f]{32}$"  # what POST /v1/chat issues


def authorised(
    request: Request,
    job_id: Annotated[str, Path(pattern=JOB_ID)],
    token: Annotated[str | None, Query(description="the token POST /v1/chat returned")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """403 unless the token was issued for this job (EventSource cannot send headers)."""
    bearer = authorization.removeprefix("Bearer ").strip() if authorization else None
    if not request.app.state.signer.verify(job_id, token or bearer):
        raise HTTPException(status_code=403, detail="token does not grant access to this job")
    return job_id


Authorised = Annotated[str, Depends(authorised)]


@router.post("/v1/chat", status_code=202, response_model=ChatAccepted, tags=["chat"])
async def submit(body: ChatSubmission, request: Request) -> ChatAccepted:
    """Queue a chat; read its progress from `events_url`."""
    state = request.app.state
    job_id = uuid.uuid4().hex
    thread_id = body.thread_id or f"web-{uuid.uuid4().hex[:12]}"
    chat = ChatRequest(**body.model_dump(exclude={"thread_id"}), thread_id=thread_id)
    await state.arq.enqueue_job(JOB_NAME, chat.model_dump(mode="json"), _job_id=job_id)
    token = state.signer.sign(job_id)
    return ChatAccepted(
        job_id=job_id,
        thread_id=thread_id,
        token=token,
        events_url=f"/v1/chat/{job_id}/events?token={token}",
        result_url=f"/v1/chat/{job_id}?token={token}",
    )


async def _known(request: Request, job_id: str) -> None:
    state = request.app.state
    if await state.redis.exists(stream_key(job_id)):
        return
    status = await Job(job_id, state.arq, _queue_name=state.settings.worker.queue_name).status()
    if status is JobStatus.not_found:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")


@router.get("/v1/chat/{job_id}/events", tags=["chat"], response_class=EventSourceResponse)
async def events(
    request: Request,
    job_id: Authorised,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-sent events: each has the stream entry id as its `id`, so a reconnect with
    `Last-Event-ID` resumes with the next event, none lost or repeated. Ends after `done`
    or `error`."""
    await _known(request, job_id)
    settings = request.app.state.settings
    return EventSourceResponse(
        _stream(request, job_id, last_event_id or "0-0"),
        ping=settings.gateway.heartbeat_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _stream(request: Request, job_id: str, cursor: str) -> AsyncIterator[ServerSentEvent]:
    block = request.app.state.settings.gateway.read_block_ms
    async for event in follow_events(
        request.app.state.redis, job_id, cursor, block_ms=block, stop=request.is_disconnected
    ):
        payload = {k: v for k, v in event.items() if k != "id"}
        yield ServerSentEvent(
            data=json.dumps(payload, ensure_ascii=False), event=event["type"], id=event["id"]
        )


@router.get("/v1/chat/{job_id}", response_model=ChatStatus, tags=["chat"])
async def status(request: Request, job_id: Authorised) -> ChatStatus:
    """Where the job is, the answer so far, and the result once it is complete."""
    state = request.app.state
    job = Job(job_id, state.arq, _queue_name=state.settings.worker.queue_name)
    job_status = await job.status()
    terminal = await terminal_of(state.redis, job_id)
    if job_status is JobStatus.not_found and terminal is None:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")
    snapshot = await state.redis.get(answer_key(job_id))
    result: dict[str, Any] | None = None
    info = await job.result_info()
    if info is not None:
        result = info.result if isinstance(info.result, dict) else {"error": repr(info.result)}
    return ChatStatus(
        job_id=job_id,
        status=job_status.value,
        terminal=terminal,
        answer_so_far=snapshot.decode() if snapshot else "",
        result=result,
    )


@router.post("/v1/chat/{job_id}/cancel", response_model=Cancelled, tags=["chat"])
async def cancel(request: Request, job_id: Authorised) -> Cancelled:
    """Abort the job; its stream ends with an `error` event of kind `cancelled`."""
    state = request.app.state
    await _known(request, job_id)
    published = await state.notifier.publish(
        job_id, ProgressUpdate(type="error", data={"kind": "cancelled", "message": "cancelled"})
    )
    with contextlib.suppress(TimeoutError):  # the worker sees the abort flag on its next poll
        await Job(job_id, state.arq, _queue_name=state.settings.worker.queue_name).abort(
            timeout=0.5, poll_delay=0.1
        )
    return Cancelled(job_id=job_id, cancelled=published is not None)


@router.get("/v1/images/{name}", tags=["chat"], response_class=Response)
async def image(request: Request, name: str) -> Response:
    """A generated image (named in an answer's `image_url`)."""
    found = await request.app.state.images.load(name)
    if found is None:
        raise HTTPException(status_code=404, detail="no such image (or it expired)")
    data, mime = found
    return Response(content=data, media_type=mime, headers={"Cache-Control": "max-age=86400"})


@router.get("/healthz", tags=["ops"])
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", tags=["ops"])
async def readyz(request: Request) -> JSONResponse:
    """Ready when Redis answers and at least one worker reported in recently."""
    state = request.app.state
    checks: dict[str, str] = {}
    try:
        await state.redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    health_key = f"{state.settings.worker.queue_name}:health-check"
    try:
        checks["workers"] = "ok" if await state.arq.exists(health_key) else "none reporting"
    except Exception as exc:
        checks["workers"] = f"unknown: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)
