"""SQLite checkpoints that keep each thread's latest checkpoint only, and expire idle threads."""

from __future__ import annotations

import time
import uuid

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from app.infrastructure.checkpoint import is_new_thread


class LatestOnlySqliteSaver(AsyncSqliteSaver):
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if is_new_thread(config):
            return None
        return await super().aget_tuple(config)

    async def setup(self) -> None:
        # LangGraph calls setup before every read and write: the pragma once, not per chat
        # (each statement is a hop to aiosqlite's thread).
        if self.is_setup:
            return
        await super().setup()
        # WAL with NORMAL: a commit is one write, not an fsync; a power cut can lose the
        # last turns, never corrupt the file.
        await self.conn.execute("PRAGMA synchronous=NORMAL")

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        saved = await super().aput(config, checkpoint, metadata, new_versions)
        if is_new_thread(config):  # nothing older to delete: two statements and a commit saved
            return saved
        key = (str(config["configurable"]["thread_id"]), config["configurable"]["checkpoint_ns"])
        async with self.lock:
            for table in ("checkpoints", "writes"):
                await self.conn.execute(
                    f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_ns = ? "
                    "AND checkpoint_id < ?",
                    (*key, checkpoint["id"]),
                )
            await self.conn.commit()
        return saved

    async def expire_idle(self, ttl_days: int | None) -> int:
        """Delete threads whose latest checkpoint is older than `ttl_days`; how many."""
        if not ttl_days:
            return 0
        async with self.lock:
            rows = await self.conn.execute_fetchall(
                "SELECT thread_id, MAX(checkpoint_id) FROM checkpoints GROUP BY thread_id"
            )
        idle = [thread for thread, latest in rows if _age_days(latest) > ttl_days]
        for thread in idle:
            await self.adelete_thread(thread)
        return len(idle)


def _age_days(checkpoint_id: str) -> float:
    """LangGraph's checkpoint ids are UUIDv6: their time is the checkpoint's."""
    try:
        value = uuid.UUID(checkpoint_id)
    except ValueError:
        return 0.0
    # UUIDv6 time: 100 ns intervals since 1582-10-15, high bits first.
    ticks = (
        ((value.int >> 96) << 28)
        | (((value.int >> 80) & 0xFFFF) << 12)
        | ((value.int >> 64) & 0x0FFF)
    )
    seconds = ticks / 1e7 - 12_219_292_800
    return (time.time() - seconds) / 86_400
