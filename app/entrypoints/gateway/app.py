"""FastAPI app factory: the lifespan starts the gateway's container and stops it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from importlib.resources import files
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from app.application.ports.telemetry import MetricsExpositionPort
from app.containers_core import resolve, running
from app.containers_gateway import GatewayContainer
from app.entrypoints.gateway import client_api, client_images, docs, errors
from app.entrypoints.gateway.access_log import AccessLog
from app.entrypoints.gateway.browsers import cors, guest_cookie
from app.entrypoints.gateway.routes import router
from app.settings import Settings

log = structlog.get_logger(__name__)


class BodyLimit:
    """413 for bodies over the limit, declared or streamed, before any route parses them."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        per_path: dict[str, int] | None = None,
        per_pattern: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = per_path or {}
        # Paths with a variable part (a presigned upload URL): a full-match pattern each.
        self.per_pattern = [(re.compile(p), n) for p, n in (per_pattern or {}).items()]

    def limit(self, path: str) -> int:
        if path in self.per_path:
            return self.per_path[path]
        found = (n for pattern, n in self.per_pattern if pattern.fullmatch(path))
        return next(found, self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope.get("path", ""))
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(limit)(scope, receive, send)


class BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    """The 413 closes the connection: the body is left unread, so the connection cannot carry
    another request, and a client that reused it (as httpx does, unless told) had its next
    request fail with "server disconnected" when the close came as it sent (seen under load)."""
    response = errors.error_body(413, f"request body over {limit} bytes")
    response.headers["connection"] = "close"
    return response


@cache
def chat_page() -> str:
    """The page ships inside the package, so an installed wheel serves it from any folder."""
    return files("app.entrypoints.gateway").joinpath("static/index.html").read_text("utf-8")


def create_app(settings: Settings) -> ASGIApp:
    """One app per process; nothing is opened until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(GatewayContainer(settings=settings)) as container:
            app.state.settings = settings
            app.state.jobs = await resolve(container.jobs.chat_jobs)
            app.state.intake = await resolve(container.intake)
            app.state.authenticator = await resolve(container.access.authenticator)
            app.state.tokens = await resolve(container.tokens)
            app.state.guests = await resolve(container.guests)
            app.state.conversations = await resolve(container.access.conversations)
            app.state.images = await resolve(container.images)
            app.state.photos = await resolve(container.photos)
            app.state.photo_uploads = await resolve(container.photo_uploads)
            app.state.tracing = await resolve(container.telemetry.tracing)
            app.state.metrics = await resolve(container.telemetry.metrics)
            log.info("gateway.started", queue=settings.worker.queue_name)
            yield

    app = FastAPI(
        title="eco2 chat gateway",
        version="0.1.0",
        description="Submit a waste-disposal question, then stream its progress over SSE.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's pages load their assets from a CDN; docs.install serves ours
        redoc_url=None,
    )
    app.include_router(router)
    app.include_router(client_api.router)
    app.include_router(client_images.router)
    errors.install(app)
    docs.install(
        app,
        allow_http_image_urls=settings.gateway.allow_http_image_urls,
        allow_anonymous=settings.auth.allow_anonymous,
    )

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(chat_page())

    # The page's script and style, read from the installed package like the page itself.
    app.mount("/static", StaticFiles(packages=[("app.entrypoints.gateway", "static")]), "static")

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus scrape: this gateway's counters, queue depth and SSE clients."""
        exposition: MetricsExpositionPort = request.app.state.metrics
        if not settings.metrics.enabled:
            return Response("metrics are off (metrics.enabled)\n", status_code=404)
        return Response(await exposition.render(), media_type=exposition.content_type)

    gateway = settings.gateway
    limited = BodyLimit(
        guest_cookie(app, gateway),
        gateway.max_body_bytes,
        {"/v1/uploads": gateway.max_upload_bytes},
        {client_images.UPLOAD_PATH: gateway.max_upload_bytes},
    )
    return AccessLog(cors(limited, gateway))
