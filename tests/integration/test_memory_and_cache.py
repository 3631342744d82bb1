"""Conversation memory survives the process: SQLite on disk, and the real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from app.containers_core import resolve
from app.domain.chat import ChatRequest, Intent
from app.domain.errors import ConfigurationError
from app.domain.llm import ChatMessage
from app.settings import load_settings
from tests.support.graph_kit import chat_kit
from tests.support.services import POSTGRES_URL, REDIS_URL, require_postgres


async def two_turns_in_two_processes(**kit: Any) -> tuple[Any, list[ChatMessage]]:
    """Each `chat_kit` is a fresh container (as a restarted or second worker would be)."""
    thread = f"thread-{uuid.uuid4().hex[:8]}"
    async with chat_kit(**kit) as (chat, _, _c):
        await chat.run(ChatRequest(message="페트병 어떻게 버려요?", thread_id=thread))
    async with chat_kit(**kit) as (chat, _, container):
        second = await chat.run(ChatRequest(message="뚜껑은요?", thread_id=thread))
        graph = await resolve(container.chat.graph)
        state = await graph.aget_state({"configurable": {"thread_id": thread}})
    return second, state.values["history"]


async def test_sqlite_keeps_the_thread_across_restarts(tmp_path: Path) -> None:
    database = tmp_path / "memory" / "threads.sqlite"
    second, history = await two_turns_in_two_processes(
        checkpoint="sqlite", checkpoint_settings={"sqlite_path": str(database)}
    )
    assert database.exists()
    assert second.intents == [Intent.WASTE] and "페트병에 닫아서" in second.answer
    assert [m.content for m in history[::2]] == ["페트병 어떻게 버려요?", "뚜껑은요?"]


async def test_postgres_keeps_the_thread_across_workers() -> None:
    require_postgres()
    second, history = await two_turns_in_two_processes(
        checkpoint="postgres", settings={"postgres": {"url": POSTGRES_URL}}
    )
    assert second.intents == [Intent.WASTE]
    assert len(history) == 4


def test_postgres_without_url_is_refused_at_start() -> None:
    with pytest.raises(ConfigurationError, match="POSTGRES_URL is not set"):
        load_settings(checkpoint={"backend": "postgres"})


@pytest.mark.redis
async def test_intent_classifications_are_cached_in_redis() -> None:
    from redis.asyncio import Redis

    marker = uuid.uuid4().hex[:6]
    message = f"페트병 어떻게 버려요 {marker}"
    async with chat_kit(graph={"intent_cache": True}) as (chat, _, container):
        llm = await resolve(container.chat.llm)
        await chat.run(ChatRequest(message=message, thread_id=f"a{marker}"))
        calls_after_first = llm.usage().calls
        await chat.run(ChatRequest(message=message, thread_id=f"b{marker}"))
        assert llm.usage().calls == calls_after_first + 1  # the answer only: intent was cached
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = await redis.keys("eco2:cache:intent:v1:*")
        ttls = [await redis.ttl(key) for key in keys]
    finally:
        await redis.aclose()
    assert keys and all(0 < ttl <= 86400 for ttl in ttls)
