"""Builders the access container calls; psycopg is imported only where PostgreSQL is chosen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from app.settings import PostgresSettings

if TYPE_CHECKING:
    from app.infrastructure.access.postgres_keys import PostgresApiKeyStore


async def postgres_keys(settings: PostgresSettings) -> AsyncIterator[PostgresApiKeyStore]:
    from app.infrastructure.access.postgres_keys import postgres_key_store

    resource = postgres_key_store(settings)
    store = await anext(resource)
    try:
        yield store
    finally:
        await resource.aclose()
