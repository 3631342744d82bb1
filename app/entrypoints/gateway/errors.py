"""Every error a client sees has one shape: `{"error": kind, "message": text}` (ours, never an
upstream's), with Retry-After where waiting helps."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.domain.errors import NoWorkerAvailable, ProviderUnavailable, ThreadBusy

RETRY_AFTER_SECONDS = 5
KINDS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


def error_body(status: int, message: str, kind: str | None = None, **extra: object) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (429, 503) else None
    body = {"error": kind or KINDS.get(status, "error"), "message": message, **extra}
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_body(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        ]
        return error_body(422, "the request is invalid", problems=problems)

    @app.exception_handler(ThreadBusy)
    async def busy(request: Request, exc: ThreadBusy) -> JSONResponse:
        return error_body(409, str(exc), "thread_busy", running_job_id=exc.running)

    @app.exception_handler(NoWorkerAvailable)
    async def no_worker(request: Request, exc: NoWorkerAvailable) -> JSONResponse:
        return error_body(503, "no worker is running to answer; try again shortly", "no_worker")

    @app.exception_handler(ProviderUnavailable)
    async def queue_down(request: Request, exc: ProviderUnavailable) -> JSONResponse:
        return error_body(503, "the job queue is unreachable; try again shortly", "queue_down")
