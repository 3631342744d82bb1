"""The HTTP API: submit, stream events (SSE), status, cancel, images, health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import (
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBearer,
)
from sse_starlette import EventSourceResponse, ServerSentEvent

from app.application.access.authenticator import Authenticator
from app.application.access.image_urls import ImageUrlRefused, check_image_url
from app.application.access.intake import ChatIntake
from app.application.access.job_tokens import JobTokens
from app.application.photo_uploads import PhotoUploads
from app.application.ports.jobs import ChatJobsPort
from app.application.ports.telemetry import TracingPort
from app.domain.access import Principal
from app.domain.events import ProgressEvent
from app.entrypoints.gateway import event_schema
from app.entrypoints.gateway.schemas import (
    Cancelled,
    ChatAccepted,
    ChatStatus,
    ChatSubmission,
    ErrorResponse,
    Health,
    InputAnswer,
    PhotoUploaded,
    Readiness,
)
from app.settings import GatewaySettings

router = APIRouter()
JOB_ID = r"^[0-9a-f]{32}$"  # what POST /v1/chat issues
PHOTOS = ("image/png", "image/jpeg", "image/webp")
# An event id, as SSE sends it: a Redis Stream entry id, `.k` for an entry's k-th further event.
STREAM_ID = r"^[0-9]{1,20}-[0-9]{1,20}(\.[0-9]{1,2})?$"
BEARER = HTTPBearer(auto_error=False, description="an API key: `eco2_...`")
API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key: `eco2_...`")
JOB_TOKEN_QUERY = APIKeyQuery(
    name="token", auto_error=False, scheme_name="JobToken", description="the job's token"
)
JOB_TOKEN_BEARER = HTTPBearer(
    auto_error=False, scheme_name="JobTokenBearer", description="the job's token"
)


def errors(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error responses an operation can give (one schema for all);
    `described` words a status for this operation (`_409="..."`)."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": ErrorResponse,
            "description": described.get(f"_{status}", DESCRIPTIONS[status]),
        }
        if status in (429, 503):
            entry["headers"] = {"Retry-After": RETRY_AFTER}
        entries[status] = entry
    return entries


RETRY_AFTER = {"description": "seconds to wait before trying again", "schema": {"type": "integer"}}


DESCRIPTIONS = {
    400: "the body is not readable (not UTF-8, not JSON)",
    401: "no valid API key",
    403: "the token does not grant access to this job",
    404: "no such job or thread (or it expired)",
    409: "the thread has an unfinished turn and `if_busy` is `reject` (thread_busy)",
    410: "the question expired unanswered (input_expired)",
    413: "the request body is too large",
    415: "not a png, jpeg or webp photo (by its bytes and its Content-Type)",
    422: "the request is invalid (or `Last-Event-ID` names no event of the job): "
    "`problems` says how",
    429: "a rate limit or budget of this principal; see Retry-After",
    503: "the queue is unreachable or full, or no worker is running; see Retry-After",
}


async def principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
    api_key: Annotated[str | None, Depends(API_KEY)],
) -> Principal:
    """The caller, from `Authorization: Bearer eco2_...` or `X-API-Key` (or anonymous where
    the deployment allows it)."""
    authenticator: Authenticator = request.app.state.authenticator
    caller = await authenticator.principal(bearer.credentials if bearer else api_key)
    request.state.principal = caller  # for the access log
    return caller


Caller = Annotated[Principal, Depends(principal)]


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
    token: Annotated[str | None, Depends(JOB_TOKEN_QUERY)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(JOB_TOKEN_BEARER)],
) -> str:
    """403 unless the token was issued for this job and has not expired. It travels as
    `?token=` (EventSource cannot send headers) or `Authorization: Bearer`."""
    presented = [c for c in (token, bearer.credentials if bearer else None) if c]
    # Every credential presented must hold: a bad one is refused, never silently ignored.
    if not presented or not all(tokens(request).verify(job_id, c) for c in presented):
        raise HTTPException(status_code=403, detail="token does not grant access to this job")
    # When the id was handed out: a job the queue forgot after that was lost (see status).
    request.state.job_issued_at = min(
        (t for c in presented if (t := tokens(request).issued_at(job_id, c)) is not None),
        default=None,
    )
    return job_id


def issued_at(request: Request) -> float | None:
    """When the job's token was signed (set by `authorised`)."""
    return getattr(request.state, "job_issued_at", None)


Authorised = Annotated[str, Depends(authorised)]


@router.post(
    "/v1/chat",
    status_code=202,
    response_model=ChatAccepted,
    tags=["chat"],
    responses=errors(400, 401, 404, 409, 413, 422, 429, 503),
)
async def submit(body: ChatSubmission, request: Request, caller: Caller) -> ChatAccepted:
    """Queue a chat; read its progress from `events_url`. Without `thread_id` a new thread is
    issued to the caller; a thread of someone else's is not found."""
    tracing: TracingPort = request.app.state.tracing
    # The chat's trace starts here; the job carries it to the worker.
    with tracing.span(
        "POST /v1/chat", {"http.route": "/v1/chat"}, remote_parent=_trace_headers(request)
    ):
        if body.image_url is not None:
            await _check_image(request, body.image_url, caller)
        intake: ChatIntake = request.app.state.intake
        ticket = await intake.submit(
            caller, body.draft(), thread_id=body.thread_id, if_busy=body.if_busy
        )
        return _accepted(request, ticket.job_id, ticket.thread_id)


def _trace_headers(request: Request) -> dict[str, str]:
    """A caller's W3C trace context (an upstream proxy or a traced client), if it sent one."""
    return {k: v for k in ("traceparent", "tracestate") if (v := request.headers.get(k))}


def _accepted(request: Request, job_id: str, thread_id: str) -> ChatAccepted:
    token = tokens(request).sign(job_id)
    return ChatAccepted(
        job_id=job_id,
        thread_id=thread_id,
        token=token,
        events_url=f"/v1/chat/{job_id}/events?token={token}",
        result_url=f"/v1/chat/{job_id}?token={token}",
    )


async def _check_image(request: Request, url: str, caller: Principal) -> None:
    """A photo we keep must still be here (and be the caller's); any other URL must be one a
    model may fetch. 404 / 422 otherwise."""
    photos: PhotoUploads = request.app.state.photo_uploads
    if await photos.check_reference(caller, url):
        return
    settings: GatewaySettings = request.app.state.settings.gateway
    try:
        await check_image_url(
            url,
            allow_http=settings.allow_http_image_urls,
            allow_private=settings.allow_private_image_urls,
            resolve=_resolver(),
        )
    except ImageUrlRefused as exc:
        raise RequestValidationError(
            [{"loc": ("body", "image_url"), "msg": str(exc), "type": "value_error"}]
        ) from exc


def _resolver() -> Callable[[str], Awaitable[list[str]]]:
    async def resolve(host: str) -> list[str]:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(host, 443)
        except OSError as exc:
            raise ImageUrlRefused("image_url's host does not resolve") from exc
        return [str(entry[4][0]) for entry in found]

    return resolve


@router.get(
    "/v1/chat/{job_id}/events",
    tags=["chat"],
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "SSE frames: `id` the stream entry id, `event` the event's type, "
            "`data` one ChatEvent as JSON; comment lines are heartbeats",
            "content": {"text/event-stream": {"schema": event_schema.sse_frame()}},
        },
        **errors(403, 404, 422, 503),
    },
)
async def events(
    request: Request,
    job_id: Authorised,
    port: Jobs,
    last_event_id: Annotated[
        str | None,
        Header(pattern=STREAM_ID, description="the `id` of the last event received"),
    ] = None,
) -> EventSourceResponse:
    """Server-sent events: each has the stream entry id as its `id`, so a reconnect with
    `Last-Event-ID` resumes with the next event, none lost or repeated. Ends after `done`
    or `error`; a resume at or past that event ends at once, and an id the stream never
    issued is 422."""
    # Answered before the 200: no such job, an id the stream never issued (422), no turn.
    if not await port.check_follow(job_id, last_event_id):
        # Redis does not know the job. One issued before Redis lost its data ends `lost`
        # (status tells); its events before the loss are gone, so it is followed from the start.
        if await port.status(job_id, issued_at=issued_at(request)) is None:
            raise HTTPException(status_code=404, detail="no such job (or it expired)")
        last_event_id = None
    followed = port.follow(job_id, last_event_id, stop=request.is_disconnected)
    return EventSourceResponse(
        _sse(followed),
        ping=request.app.state.settings.gateway.heartbeat_seconds,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _sse(followed: AsyncIterator[ProgressEvent]) -> AsyncIterator[ServerSentEvent]:
    async for event in followed:
        wire = event.wire()
        if event.type == "needs_input":  # where the answer goes (the same token grants it)
            wire["data"] = {**wire["data"], "input_url": f"/v1/chat/{event.job_id}/input"}
        yield ServerSentEvent(
            data=json.dumps(wire, ensure_ascii=False), event=event.type, id=event.id
        )


@router.get(
    "/v1/chat/{job_id}",
    response_model=ChatStatus,
    tags=["chat"],
    responses=errors(403, 404, 422, 503),
)
async def status(request: Request, job_id: Authorised, port: Jobs) -> ChatStatus:
    """Where the job is, and its answer (so far, or whole once it is done)."""
    found = await port.status(job_id, issued_at=issued_at(request))
    if found is None:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")
    return ChatStatus.of(found)


@router.post(
    "/v1/chat/{job_id}/input",
    status_code=202,
    response_model=ChatAccepted,
    tags=["chat"],
    responses=errors(
        400,
        401,
        403,
        404,
        409,
        410,
        413,
        422,
        429,
        503,
        _409="the chat is not waiting for an answer (not_waiting_for_input)",
    ),
)
async def answer(
    body: InputAnswer, job_id: Authorised, request: Request, caller: Caller
) -> ChatAccepted:
    """Answer the question a chat paused on (its `needs_input` event). The answer runs as a new
    job on the same thread that resumes the paused turn; follow its `events_url`. The paused
    job's stream ends with `resumed`, naming the new job."""
    tracing: TracingPort = request.app.state.tracing
    with tracing.span(
        "POST /v1/chat/{job_id}/input",
        {"http.route": "/v1/chat/{job_id}/input"},
        remote_parent=_trace_headers(request),
    ):
        intake: ChatIntake = request.app.state.intake
        ticket = await intake.answer(caller, job_id, body.value)
        return _accepted(request, ticket.job_id, ticket.thread_id)


@router.post(
    "/v1/chat/{job_id}/cancel",
    response_model=Cancelled,
    tags=["chat"],
    responses=errors(403, 404, 422, 503),
)
async def cancel(job_id: Authorised, port: Jobs) -> Cancelled:
    """Abort the job; its stream ends with an `error` event of kind `cancelled`."""
    if await port.status(job_id) is None:
        raise HTTPException(status_code=404, detail="no such job (or it expired)")
    return Cancelled(job_id=job_id, cancelled=await port.cancel(job_id))


@router.post(
    "/v1/uploads",
    status_code=201,
    response_model=PhotoUploaded,
    tags=["chat"],
    responses=errors(401, 413, 415, 429, 503),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the photo's bytes (png, jpeg or webp), at most "
            "gateway.max_upload_bytes",
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in PHOTOS},
        }
    },
)
async def upload(request: Request, caller: Caller) -> PhotoUploaded:
    """Keep a photo for a chat: send its bytes as the body with its Content-Type, then put the
    returned `image_url` in POST /v1/chat. Kept for `gateway.upload_ttl_seconds`."""
    claimed = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: PhotoUploads = request.app.state.photo_uploads
    name = await uploads.keep(caller, claimed, await request.body())
    return PhotoUploaded(image_url=f"upload:{name}", preview_url=f"/v1/uploads/{name}")


@router.get(
    "/v1/uploads/{name}", tags=["chat"], response_class=Response, responses=errors(404, 503)
)
async def uploaded(request: Request, name: str) -> Response:
    """An uploaded photo (its preview). The name is unguessable, as a generated image's is."""
    found = await request.app.state.photos.load(name)
    if found is None:
        raise HTTPException(status_code=404, detail="no such photo (or it expired)")
    data, mime = found
    return Response(content=data, media_type=mime, headers={"Cache-Control": "private"})


@router.get("/v1/images/{name}", tags=["chat"], response_class=Response, responses=errors(404, 503))
async def image(request: Request, name: str) -> Response:
    """A generated image (named in an answer's `image_url`)."""
    found = await request.app.state.images.load(name)
    if found is None:
        raise HTTPException(status_code=404, detail="no such image (or it expired)")
    data, mime = found
    return Response(content=data, media_type=mime, headers={"Cache-Control": "max-age=86400"})


@router.get("/healthz", tags=["ops"], response_model=Health)
async def healthz() -> Health:
    """Liveness: the process answers (nothing else is checked)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    tags=["ops"],
    response_model=Readiness,
    responses={
        503: {"model": Readiness, "description": "Redis is unreachable or no worker reports in"}
    },
)
async def readyz(port: Jobs) -> JSONResponse:
    """Ready when Redis answers and at least one worker reported in recently."""
    health = await port.health()
    body = Readiness(ready=health.ready, redis=health.queue, workers=health.workers)
    return JSONResponse(body.model_dump(), status_code=200 if health.ready else 503)
