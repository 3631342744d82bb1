"""LangGraph checkpointers (conversation memory): in-memory, SQLite, PostgreSQL.

Each keeps only the latest checkpoint of a thread: a new one supersedes the others, which
are deleted when it is written, so a thread's storage stays the size of its (bounded) state
however many turns it has had. Idle threads expire after `checkpoint.ttl_days`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from app.application.chat.state import checkpoint_types
from app.application.retry import RetryPolicy
from app.domain.errors import ConfigurationError
from app.settings import CheckpointSettings, PostgresSettings

if TYPE_CHECKING:
    from app.infrastructure.checkpoint_postgres import LatestOnlyPostgresSaver

log = structlog.get_logger(__name__)
# In a run's `configurable`: the thread was issued for this run, so it has no checkpoint and
# the savers answer "none" without reading (a round trip, and aiosqlite's thread hop, saved
# per brand-new thread). "__": LangGraph keeps it out of the checkpoint's metadata.
NEW_THREAD = "__eco2_new_thread"


def is_new_thread(config: RunnableConfig) -> bool:
    return bool(config.get("configurable", {}).get(NEW_THREAD))


def state_serializer() -> JsonPlusSerializer:
    """Msgpack that revives only the chat state's own classes (and LangGraph's safe ones).

    LangGraph's default imports and calls any class named in a checkpoint, so whoever can
    write a row could run code in every worker; anything else is left as plain data here.
    """
    return JsonPlusSerializer(allowed_msgpack_modules=checkpoint_types())


class LatestOnlyMemorySaver(InMemorySaver):
    """InMemorySaver keeping each thread's latest checkpoint, its writes and its blobs."""

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return None if is_new_thread(config) else super().get_tuple(config)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = super().put(config, checkpoint, metadata, new_versions)
        thread, ns = config["configurable"]["thread_id"], config["configurable"]["checkpoint_ns"]
        latest = checkpoint["id"]
        kept = self.storage[thread][ns]
        for old in [c for c in kept if c != latest]:
            del kept[old]
            self.writes.pop((thread, ns, old), None)
        current = checkpoint["channel_versions"]
        for key in [k for k in self.blobs if k[:2] == (thread, ns) and current.get(k[2]) != k[3]]:
            del self.blobs[key]
        return saved


async def memory_checkpointer() -> AsyncIterator[BaseCheckpointSaver[str]]:
    """Per process, lost on exit: for tests and one-off runs."""
    yield LatestOnlyMemorySaver(serde=state_serializer())


async def sqlite_checkpointer(
    settings: CheckpointSettings,
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """One file, one process: the embedded default."""
    import aiosqlite

    from app.infrastructure.checkpoint_sqlite import LatestOnlySqliteSaver

    path = Path(settings.sqlite_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # What AsyncSqliteSaver.from_conn_string does, with our serializer (it takes none).
    async with aiosqlite.connect(str(path)) as connection:
        saver = LatestOnlySqliteSaver(connection, serde=state_serializer())
        await saver.setup()
        await saver.expire_idle(settings.ttl_days)
        log.info("checkpoint.opened", backend="sqlite", path=str(path))
        yield saver


async def postgres_checkpointer(
    settings: CheckpointSettings, postgres: PostgresSettings, retry: RetryPolicy | None = None
) -> AsyncIterator[BaseCheckpointSaver[str]]:
    """A pooled connection set shared by every worker process: threads survive restarts, and
    a brief outage is waited out (`retry`)."""
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    from app.infrastructure.checkpoint_postgres import LatestOnlyPostgresSaver

    if postgres.url is None:
        raise ConfigurationError("checkpoint.backend is 'postgres' but POSTGRES_URL is not set")
    pool = AsyncConnectionPool(
        conninfo=postgres.url.get_secret_value(),
        max_size=settings.postgres_pool_size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        # How long an outage is waited out is the chat's retry policy's to say (its deadline,
        # its backoff): one checkout waits a few seconds, not psycopg_pool's 30, so two of
        # them cannot use up a 60 s deadline alone (seen at load 20: 1 chat of 6 failed).
        timeout=CHECKOUT_SECONDS,
        # psycopg_pool's reconnection backs off without a cap (1, 2, 4 … 32 s): after a long
        # outage it could find PostgreSQL back half a minute late. A reconnection given up
        # after a few seconds is started afresh, at once, by the next checkout.
        reconnect_timeout=RECONNECT_SECONDS,
        open=False,
    )
    await pool.open(wait=True, timeout=10)
    try:
        # (The pool is typed for tuple rows, but `row_factory=dict_row` above makes them dicts.)
        saver = LatestOnlyPostgresSaver(pool, serde=state_serializer(), retry=retry)
        await _set_up_alone(saver, postgres.url.get_secret_value())
        await saver.expire_idle(settings.ttl_days)
        log.info("checkpoint.opened", backend="postgres", pool_size=settings.postgres_pool_size)
        yield saver
    finally:
        await pool.close()


CHECKOUT_SECONDS = 5.0
RECONNECT_SECONDS = 5.0
SETUP_LOCK = 0x6563_6F32_6368_6B70  # "eco2chkp": a PostgreSQL advisory lock's key
SETUP_POLL_SECONDS = 0.1


async def _set_up_alone(saver: LatestOnlyPostgresSaver, url: str) -> None:
    """LangGraph's migrations, one process at a time. Workers starting together on a fresh
    database each inserted the same migration row (UniqueViolation: one of them failed to
    start, seen with two workers). The lock is held on a connection of its own (the pool may
    have one connection only) and ends with it. It is tried, not waited for: a session
    blocked in pg_advisory_lock is a transaction in progress, which the migrations' CREATE
    INDEX CONCURRENTLY would wait for in turn (a deadlock, seen)."""
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as lock:
        await _take(lock)
        await saver.setup()


async def _take(lock: Any) -> None:
    while True:
        tried = await lock.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK,))
        taken = await tried.fetchone()
        if taken and taken[0]:
            return
        await asyncio.sleep(SETUP_POLL_SECONDS)
