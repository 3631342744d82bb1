"""PostgreSQL checkpoints that keep each thread's latest checkpoint only (LangGraph's own
keep_latest prune after every write), and expire idle threads."""

from __future__ import annotations

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from app.infrastructure.checkpoint_sqlite import _age_days


class LatestOnlyPostgresSaver(AsyncPostgresSaver):
    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = await super().aput(config, checkpoint, metadata, new_versions)
        await self.aprune([str(config["configurable"]["thread_id"])], strategy="keep_latest")
        return saved

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
