"""Every error a client sees has one shape: `{"error": kind, "message": text}` (ours, never an
upstream's), with Retry-After where waiting helps."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from app.application.photo_uploads import PhotoAlreadyUploaded, PhotoRefused, UploadNotGranted
from app.application.photos import PhotoUnavailable
from app.application.ports.conversations import StoreUnavailable
from app.application.ports.jobs import FollowersBusy, NoWorkerAvailable, QueueFull
from app.application.ports.llm import ProviderUnavailable
from app.domain.conversations import ConversationInputError, ConversationNotFound
from app.domain.errors import (
    InputExpired,
    LimitExceeded,
    NotWaitingForInput,
    ThreadBusy,
    ThreadNotFound,
    Unauthorized,
    UnknownEventId,
)

log = structlog.get_logger(__name__)
RETRY_AFTER_SECONDS = 5
KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def error_body(
    status: int,
    message: str,
    kind: str | None = None,
    *,
    retry_after: float | None = None,
    headers: dict[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    headers = dict(headers or {})
    if status in (429, 503):
        headers["Retry-After"] = str(int(retry_after or RETRY_AFTER_SECONDS))
    body = {"error": kind or KINDS.get(status, "error"), "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers or None)


def _problems(errors: list[dict[str, object]]) -> list[str]:
    def where(loc: object) -> str:
        parts = [str(p) for p in loc if p != "body"] if isinstance(loc, tuple | list) else []
        return ".".join(parts) or "body"

    return [f"{where(e.get('loc'))}: {e.get('msg')}" for e in errors]


Handler = Callable[[Any], JSONResponse]
HANDLERS: dict[type[Exception], Handler] = {
    HTTPException: lambda e: error_body(e.status_code, str(e.detail), headers=e.headers),
    RequestValidationError: lambda e: error_body(
        422, "the request is invalid", problems=_problems(list(e.errors()))
    ),
    ValidationError: lambda e: error_body(
        422, "the request is invalid", problems=_problems([dict(x) for x in e.errors()])
    ),
    Unauthorized: lambda e: error_body(401, str(e), headers={"WWW-Authenticate": "Bearer"}),
    ThreadNotFound: lambda e: error_body(404, "no such thread (or it expired)", "thread_not_found"),
    ThreadBusy: lambda e: error_body(409, str(e), "thread_busy", running_job_id=e.running),
    NotWaitingForInput: lambda e: error_body(409, str(e), "not_waiting_for_input"),
    InputExpired: lambda e: error_body(410, str(e), "input_expired"),
    LimitExceeded: lambda e: error_body(
        429,
        str(e),
        "budget_exceeded" if e.limit == "daily_budget" else "rate_limited",
        retry_after=e.retry_after,
        limit=e.limit,
    ),
    UnknownEventId: lambda e: error_body(
        422, "the request is invalid", problems=[f"Last-Event-ID: {e}"]
    ),
    FollowersBusy: lambda e: error_body(
        503, "too many streams are opening at once; try again shortly", "busy"
    ),
    NoWorkerAvailable: lambda e: error_body(
        503, "no worker is running to answer; try again shortly", "no_worker"
    ),
    QueueFull: lambda e: error_body(
        503, "too many chats are waiting; try again shortly", "queue_full"
    ),
    ProviderUnavailable: lambda e: error_body(
        503, "the job queue is unreachable; try again shortly", "queue_down"
    ),
    ConversationNotFound: lambda e: error_body(
        404, "no such conversation", "conversation_not_found"
    ),
    ConversationInputError: lambda e: error_body(422, str(e), "invalid_request"),
    UploadNotGranted: lambda e: error_body(403, str(e), "upload_not_granted"),
    PhotoRefused: lambda e: error_body(415, str(e), "unsupported_media_type"),
    PhotoAlreadyUploaded: lambda e: error_body(409, str(e), "already_uploaded"),
    PhotoUnavailable: lambda e: error_body(404, str(e), "photo_not_found"),
    StoreUnavailable: lambda e: error_body(
        503,
        "conversations are unreachable; nothing was saved, try again shortly",
        "store_down",
        retry_after=e.retry_after,
    ),
    # Anything else is our bug: logged with its traceback, shown as a kind, never its text.
    Exception: lambda e: _internal(e),
}


def _internal(exc: Exception) -> JSONResponse:
    log.exception("gateway.unhandled", error=type(exc).__name__, exc_info=exc)
    return error_body(500, "something went wrong on our side", "internal")


def install(app: FastAPI) -> None:
    """One handler per error type; the most specific type wins (Starlette walks the MRO)."""
    for kind, handler in HANDLERS.items():

        async def handle(
            request: Request, exc: Exception, handler: Handler = handler
        ) -> JSONResponse:
            if isinstance(exc, HTTPException) and exc.status_code == 405:
                return _not_allowed(request, exc)
            return handler(exc)

        app.add_exception_handler(kind, handle)


def _not_allowed(request: Request, exc: HTTPException) -> JSONResponse:
    """405 with every method the path takes, as the API's document lists them: Starlette names
    only the first route that matched the path (GET of /api/v1/chat, not its POST)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), request.url.path):
            methods |= {method.upper() for method in operations}
    allow = ", ".join(sorted(methods)) or (exc.headers or {}).get("Allow", "")
    return error_body(405, "Method Not Allowed", headers={"Allow": allow})
