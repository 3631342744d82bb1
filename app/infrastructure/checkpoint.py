"""LangGraph checkpointers (conversation memory): in-memory, SQLite, PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from app.application.chat.state import checkpoint_types
from app.domain.errors import ConfigurationError
from app.settings import CheckpointSettings, PostgresSettings

log = structlog.get_logger(__name__)


def state_serializer() -> JsonPlusSerializer:
    """Msgpack that revives only the chat state's own classes (and LangGraph's safe ones).

    LangGraph's default imports and calls any class named in a checkpoint, so whoever can
    write a row could run code in every worker; anything else is left as plain data here.
    """
    return JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types())


async def memory_checkpointer() -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Per process, lost on exit: for tests and one-off runs."""
    yield InMemorySaver(serde=state_serializer())


async def sqlite_checkpointer(
    settings: CheckpointSettings,
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """One file, one process: the embedded default."""
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = Path(settings.sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # What AsyncSqliteSaver.from_conn_string does, with our serializer (it takes none).
    async with aiosqlite.connect(str(path)) as connection:
        saver = AsyncSqliteSaver(connection, serde=state_serializer())
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
        # The pool is typed for tuple rows, but `row_factory=dict_row` above makes them dicts.
        saver = AsyncPostgresSaver(pool, serde=state_serializer())  # type: ignore[arg-type]
        await saver.setup()
        log.info("checkpoint.opened", backend="postgres", pool_size=settings.postgres_pool_size)
        yield saver
    finally:
        await pool.close()
