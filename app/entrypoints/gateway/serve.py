"""`python -m app gateway`: uvicorn serving the app on the configured address."""

from __future__ import annotations

import uvicorn

from app.entrypoints.gateway.app import create_app
from app.settings import Settings


def serve(settings: Settings) -> None:
    uvicorn.run(
        create_app(settings),
        host=settings.gateway.host,
        port=settings.gateway.port,
        log_config=None,
    )
