"""LangGraph checkpointers (conversation memory): in-memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver

from app.domain.errors import ConfigurationError
from app.settings import CheckpointSettings, PostgresSettings

log = structlog.get_logger(__name__)


async def memory_checkpointer() -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Per process, lost on exit: for tests and one-off runs."""
    yield InMemorySaver()


async def sqlite_checkpointer(
    settings: CheckpointSettings,
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """One file, one process: the embedded default."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = Path(settings.sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.setup()
        log.info("checkpoint.opened", backend="sqlite", path=str(path))
        yield saver


async def postgres_checkpointer(
    settings: CheckpointSettings, postgres: PostgresSettings
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """A pooled connection set shared by every worker process: threads survive restarts."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    if postgres.url is None:
        raise ConfigurationError("checkpoint.backend is 'postgres' but POSTGRES_URL is not set")
    pool = AsyncConnectionPool(
        conninfo=postgres.url.get_secret_value(),
        max_size=settings.postgres_pool_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=False,
    )
    await pool.open(wait=True, timeout=10)
    try:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        log.info("checkpoint.opened", backend="postgres", pool_size=settings.postgres_pool_size)
        yield saver
    finally:
        await pool.close()
