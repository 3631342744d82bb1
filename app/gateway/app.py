"""FastAPI app factory: the lifespan opens the container's pools and the arq pool."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from arq import create_pool
from arq.connections import RedisSettings
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.containers import resolve
from app.gateway.routes import router
from app.gateway.tokens import TokenSigner
from app.infrastructure.progress.redis_streams import RedisStreamProgressNotifier
from app.lifecycle import running_container
from app.settings import Settings

log = structlog.get_logger(__name__)
STATIC = Path(__file__).with_name("static")


class BodyLimit:
    """413 for bodies over the limit, declared or streamed, before any route parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(self.max_bytes)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise BodyTooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except BodyTooLarge:
            await _too_large(self.max_bytes)(scope, receive, send)


class BodyTooLarge(Exception):
    pass


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"request body over {limit} bytes"}, status_code=413)


def create_app(settings: Settings) -> FastAPI:
    """One app per process; nothing is opened until the lifespan starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_container(settings) as container:
            redis = await resolve(container.gateways.redis)
            arq = await create_pool(
                RedisSettings.from_dsn(settings.redis.url),
                default_queue_name=settings.worker.queue_name,
            )
            secret = settings.gateway.secret
            if secret is None:
                log.warning(
                    "gateway.random_secret",
                    fix="set APP_GATEWAY__SECRET so replicas accept each other's tokens",
                )
            app.state.settings = settings
            app.state.redis = redis
            app.state.arq = arq
            app.state.signer = TokenSigner(
                secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
            )
            app.state.images = await resolve(container.image_store)
            app.state.notifier = RedisStreamProgressNotifier(
                redis, maxlen=settings.worker.stream_maxlen, ttl_seconds=settings.worker.stream_ttl
            )
            log.info("gateway.started", queue=settings.worker.queue_name)
            try:
                yield
            finally:
                await arq.aclose()

    app = FastAPI(
        title="eco2 chat gateway",
        version="0.1.0",
        description="Submit a waste-disposal question, then stream its progress over SSE.",
        lifespan=lifespan,
    )
    app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def chat_page(request: Request) -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    return BodyLimit(app, settings.gateway.max_body_bytes)  # type: ignore[return-value]
