"""The HTTP API: submit, stream events (SSE), status, cancel, images, health."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.application.access.job_tokens import JobTokens
from app.application.ports.chat_jobs import ChatJobsPort
from app.domain.chat import ChatRequest
from app.domain.events import ProgressEvent
from app.entrypoints.gateway.schemas import Cancelled, ChatAccepted, ChatStatus, ChatSubmission

router = APIRouter()
JOB_ID = r"^[0-9a-f]{32}$"  # what POST /v1/chat issues


def jobs(request: Request) -> ChatJobsPort:
    port: ChatJobsPort = request.app.state.jobs
    return port


def tokens(request: Request) -> JobTokens:
    signer: JobTokens = request.app.state.tokens
    return signer


Jobs = Annotated[ChatJobsPort, Depends(jobs)]


def authorised(
    request: Request,
    job_id: Annotated[str, Path(pattern=JOB_ID)],
    token: Annotated[str | None, Query(description="the token POST /v1/chat returned")] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """403 unless the token was issued for this job (EventSource cannot send headers)."""
    bearer = authorization.removeprefix("Bearer ").strip() if authorization else None
    if not tokens(request).verify(job_id, token or bearer):
        raise HTTPException(status_code=403, detail="token does not grant access to this job")
    return job_id


Authorised = Annotated[str, Depends(authorised)]


@router.post("/v1/chat", status_code=202, response_model=ChatAccepted, tags=["chat"])
async def submit(body: ChatSubmission, request: Request, port: Jobs) -> ChatAccepted:
    """Queue a chat; read its progress from `events_url`."""
    chat = ChatRequest(**body.model_dump(exclude={"thread_id", "if_busy"}), thread_id=body.thread())
    ticket = await port.submit(chat, if_busy=body.if_busy)
    token = tokens(request).sign(ticket.job_id)
    return ChatAccepted(
        job_id=ticket.job_id,
        thread_id=ticket.thread_id,
        token=token,
        events_url=f"/v1/chat/{ticket.job_id}/events?token={token}",
        result_url=f"/v1/chat/{ticket.job_id}?token={token}",
    )


@router.get("/v1/chat/{job_id}/events", tags=["chat"], response_class=EventSourceResponse)
async def events(
    request: Request,
    job_id: Authorised,
    port: Jobs,
    last_event_id: Annotated[str | None, Header()] = None,
) -> EventSourceResponse:
    """Server-sent events: each has the stream entry id as its `id`, so a reconnect with
    `Last-Event-ID` resumes with the next event, none lost or repeated. Ends after `done`
    or `error`."""
    if await port.status(job_id) is None:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")
    followed = port.follow(job_id, last_event_id, stop=request.is_disconnected)
    return EventSourceResponse(
        _sse(followed),
        ping=request.app.state.settings.gateway.heartbeat_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(followed: AsyncIterator[ProgressEvent]) -> AsyncIterator[ServerSentEvent]:
    async for event in followed:
        yield ServerSentEvent(
            data=json.dumps(event.wire(), ensure_ascii=False), event=event.type, id=event.id
        )


@router.get("/v1/chat/{job_id}", response_model=ChatStatus, tags=["chat"])
async def status(job_id: Authorised, port: Jobs) -> ChatStatus:
    """Where the job is, and its answer (so far, or whole once it is done)."""
    found = await port.status(job_id)
    if found is None:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")
    return ChatStatus.of(found)


@router.post("/v1/chat/{job_id}/cancel", response_model=Cancelled, tags=["chat"])
async def cancel(job_id: Authorised, port: Jobs) -> Cancelled:
    """Abort the job; its stream ends with an `error` event of kind `cancelled`."""
    if await port.status(job_id) is None:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")
    return Cancelled(job_id=job_id, cancelled=await port.cancel(job_id))


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
async def readyz(port: Jobs) -> JSONResponse:
    """Ready when Redis answers and at least one worker reported in recently."""
    health = await port.health()
    body = {"ready": health.ready, "redis": health.queue, "workers": health.workers}
    return JSONResponse(body, status_code=200 if health.ready else 503)
