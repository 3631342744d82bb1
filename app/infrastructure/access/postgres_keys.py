"""API keys in PostgreSQL (what production uses): one table, hashed secrets."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.application.ports.access import ApiKeyStorePort
from app.domain.access import KeyInfo
from app.domain.errors import ConfigurationError
from app.settings import PostgresSettings

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

SCHEMA = """
CREATE TABLE IF NOT EXISTS eco2_api_keys (
    key_id      text PRIMARY KEY,
    principal   text NOT NULL,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
)
"""
COLUMNS = "key_id, principal, secret_hash, created_at, revoked_at"


class PostgresApiKeyStore(ApiKeyStorePort):
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    async def setup(self) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(SCHEMA)

    async def add(self, info: KeyInfo) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                f"INSERT INTO eco2_api_keys ({COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
                (info.key_id, info.principal, info.secret_hash, info.created_at, info.revoked_at),
            )

    async def find(self, key_id: str) -> KeyInfo | None:
        rows = await self._rows(f"SELECT {COLUMNS} FROM eco2_api_keys WHERE key_id = %s", key_id)
        return rows[0] if rows else None

    async def all_keys(self) -> list[KeyInfo]:
        return await self._rows(f"SELECT {COLUMNS} FROM eco2_api_keys ORDER BY created_at")

    async def revoke(self, key_id: str) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "UPDATE eco2_api_keys SET revoked_at = %s WHERE key_id = %s AND revoked_at IS NULL",
                (datetime.now(UTC), key_id),
            )
            return bool(cursor.rowcount == 1)

    async def _rows(self, query: str, *args: Any) -> list[KeyInfo]:
        from psycopg.rows import dict_row  # psycopg loads only where PostgreSQL is chosen

        async with self._pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, args)
            return [KeyInfo.model_validate(row) for row in await cur.fetchall()]


async def postgres_key_store(
    settings: PostgresSettings,
) -> AsyncGenerator[PostgresApiKeyStore, None]:
    """Container Resource: a small pool of its own, the table created if missing."""
    from psycopg_pool import AsyncConnectionPool

    if settings.url is None:
        raise ConfigurationError("auth.backend is 'postgres' but POSTGRES_URL is not set")
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo=settings.url.get_secret_value(),
        max_size=4,
        kwargs={"autocommit": True},
        open=False,
    )
    await pool.open(wait=True, timeout=10)
    try:
        store = PostgresApiKeyStore(pool)
        await store.setup()
        yield store
    finally:
        await pool.close()
