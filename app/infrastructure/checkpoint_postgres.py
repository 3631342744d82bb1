"""PostgreSQL checkpoints that keep each thread's latest checkpoint only (LangGraph's own
keep_latest prune after every write), expire idle threads, and ride out a brief outage.

An outage (connections reset, connects refused, the pool timing out) is waited out by the
chat's retry policy around each of LangGraph's calls. Each is safe to repeat: reads; `aput`,
whose blob rows are inserted once per channel version and whose checkpoint row is an upsert by
its id, so a write cut half-way leaves the previous checkpoint the thread's latest (the turn is
all or nothing) and the retry completes it; `aput_writes`, an upsert by task and index. The
graph's nodes are not run again: only the store call is repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import OperationalError

from app.application.retry import RetryPolicy
from app.infrastructure.checkpoint import is_new_thread
from app.infrastructure.checkpoint_sqlite import _age_days


class LatestOnlyPostgresSaver(AsyncPostgresSaver):
    def __init__(self, *args: Any, retry: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._retry = retry or RetryPolicy()

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if is_new_thread(config):
            return None
        return await self._retry.run(
            lambda: super(LatestOnlyPostgresSaver, self).aget_tuple(config),
            transient=OperationalError,  # psycopg_pool's PoolTimeout is one too
            what="checkpoint.read",
        )

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        async def put() -> RunnableConfig:
            saved = await super(LatestOnlyPostgresSaver, self).aput(
                config, checkpoint, metadata, new_versions
            )
            if not is_new_thread(config):  # a new thread has nothing older to prune
                await self.aprune(
                    [str(config["configurable"]["thread_id"])], strategy="keep_latest"
                )
            return saved

        return await self._retry.run(put, transient=OperationalError, what="checkpoint.write")

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._retry.run(
            lambda: super(LatestOnlyPostgresSaver, self).aput_writes(
                config, writes, task_id, task_path
            ),
            transient=OperationalError,
            what="checkpoint.writes",
        )

    async def expire_idle(self, ttl_days: int | None) -> int:
        if not ttl_days:
            return 0
        async with self._cursor() as cur:
            await cur.execute(
                "SELECT thread_id, MAX(checkpoint_id) AS latest FROM checkpoints GROUP BY thread_id"
            )
            rows = await cur.fetchall()
        idle = [row["thread_id"] for row in rows if _age_days(row["latest"]) > ttl_days]
        for thread in idle:
            await self.adelete_thread(thread)
        return len(idle)
