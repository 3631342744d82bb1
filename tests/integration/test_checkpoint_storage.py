"""A thread's storage stays the size of its state: latest checkpoint only, bounded history,
idle threads expired. Counted in rows and bytes, never timed."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest

from app.application.chat.state import MAX_HISTORY
from app.containers_core import resolve
from app.domain.chat import ChatRequest
from app.infrastructure.checkpoint import LatestOnlyMemorySaver
from app.infrastructure.checkpoint_sqlite import LatestOnlySqliteSaver, _age_days
from tests.support.graph_kit import chat_kit
from tests.support.services import POSTGRES_URL, require_postgres

TURNS = 30


async def many_turns(kit: dict[str, Any], thread: str, turns: int = TURNS) -> list[Any]:
    async with chat_kit(**kit) as (chat, _, container):
        for i in range(turns):
            await chat.run(ChatRequest(message=f"페트병 어떻게 버려요? {i}", thread_id=thread))
        saver = await resolve(container.chat.checkpointer)
        graph = await resolve(container.chat.graph)
        config = {"configurable": {"thread_id": thread}}
        history = (await graph.aget_state(config)).values["history"]
        return [saver, history, [c async for c in saver.alist(config)]]


async def test_sqlite_keeps_one_checkpoint_and_no_old_writes(tmp_path: Path) -> None:
    database = tmp_path / "threads.sqlite"
    kit = {"checkpoint": "sqlite", "checkpoint_settings": {"sqlite_path": str(database)}}
    thread = f"t-{uuid.uuid4().hex[:8]}"
    _, history, kept = await many_turns(kit, thread)
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT count(*) FROM checkpoints WHERE thread_id = ?", (thread,))
        checkpoints = rows.fetchone()[0]
        writes = conn.execute("SELECT count(*) FROM writes WHERE thread_id = ?", (thread,))
        leftover = writes.fetchone()[0]
    assert checkpoints == 1 and len(kept) == 1 and leftover == 0
    assert len(history) == min(2 * TURNS, MAX_HISTORY)
    assert history[-2].content == f"페트병 어떻게 버려요? {TURNS - 1}"  # the newest are kept


async def test_sqlite_sets_its_pragmas_once_not_on_every_write(tmp_path: Path) -> None:
    """LangGraph calls `setup` before each read and write; the pragma is a statement (and a
    hop to aiosqlite's thread), so it runs when the connection opens, not once per chat."""
    kit = {
        "checkpoint": "sqlite",
        "checkpoint_settings": {"sqlite_path": str(tmp_path / "threads.sqlite")},
    }
    statements: list[str] = []
    async with chat_kit(**kit) as (chat, _, container):
        saver: LatestOnlySqliteSaver = await resolve(container.chat.checkpointer)
        await chat.run(ChatRequest(message="페트병 어떻게 버려요?", thread_id="t-first"))
        await saver.conn.set_trace_callback(statements.append)
        for i in range(3):
            await chat.run(ChatRequest(message="건전지는요?", thread_id=f"t-{i}", new_thread=True))
        async with saver.conn.execute("PRAGMA synchronous") as cursor:
            synchronous = (await cursor.fetchone() or [None])[0]
        await saver.conn.set_trace_callback(None)
    assert synchronous == 1  # NORMAL, as set when the connection opened
    assert statements and not [s for s in statements if "synchronous=" in s]


async def test_the_memory_saver_keeps_only_the_latest_blobs() -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    saver, _, kept = await many_turns({"checkpoint": "memory"}, thread)
    assert isinstance(saver, LatestOnlyMemorySaver) and len(kept) == 1
    blobs = [key for key in saver.blobs if key[0] == thread]
    channels = [key[2] for key in blobs]
    assert len(channels) == len(set(channels))  # one version of each channel, not thirty


async def test_idle_threads_expire_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "threads.sqlite"
    kit = {"checkpoint": "sqlite", "checkpoint_settings": {"sqlite_path": str(database)}}
    old, fresh = f"old-{uuid.uuid4().hex[:6]}", f"new-{uuid.uuid4().hex[:6]}"
    await many_turns(kit, old, turns=1)
    await many_turns(kit, fresh, turns=1)
    with sqlite3.connect(database) as conn:
        query = "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ?"
        old_ids = {row[0] for row in conn.execute(query, (old,))}
    # Forty days pass for the old thread only: its checkpoint id is what tells its age.
    real = _age_days
    monkeypatch.setattr(
        "app.infrastructure.checkpoint_sqlite._age_days",
        lambda cid: 40.0 if cid in old_ids else real(cid),
    )
    async with chat_kit(**kit) as (_, _n, container):  # a worker starting up
        store: LatestOnlySqliteSaver = await resolve(container.chat.checkpointer)
        assert await store.expire_idle(30) == 0  # done already, at start-up
    with sqlite3.connect(database) as conn:
        threads = {row[0] for row in conn.execute("SELECT DISTINCT thread_id FROM checkpoints")}
    assert old not in threads and fresh in threads


def test_checkpoint_ids_tell_their_age() -> None:
    from langgraph.checkpoint.base.id import uuid6  # what LangGraph makes its ids with

    assert abs(_age_days(str(uuid6()))) < 0.01


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
async def test_a_thread_issued_for_its_turn_is_not_read(backend: str, tmp_path: Path) -> None:
    """`new_thread` (the gateway issued the thread for this turn): the saver answers "no
    checkpoint" without reading, and looks for none to prune. Shown on a thread that does have
    one: the turn starts from nothing, and the thread's next turn leaves its checkpoint alone."""
    kit: dict[str, Any] = {"checkpoint": backend}
    if backend == "sqlite":
        kit["checkpoint_settings"] = {"sqlite_path": str(tmp_path / "threads.sqlite")}
    if backend == "postgres":
        require_postgres()
        kit["settings"] = {"postgres": {"url": POSTGRES_URL}}
    thread = f"t-{uuid.uuid4().hex[:8]}"
    async with chat_kit(**kit) as (chat, _, container):
        graph = await resolve(container.chat.graph)
        config = {"configurable": {"thread_id": thread}}
        await chat.run(ChatRequest(message="페트병 어떻게 버려요?", thread_id=thread))
        await chat.run(ChatRequest(message="건전지는요?", thread_id=thread))
        remembered = (await graph.aget_state(config)).values["history"]
        await chat.run(ChatRequest(message="우산 버리기", thread_id=thread, new_thread=True))
        fresh = (await graph.aget_state(config)).values["history"]
        await chat.run(ChatRequest(message="소파는요?", thread_id=thread))
        saver = await resolve(container.chat.checkpointer)
        kept = [c async for c in saver.alist(config)]
        latest = (await graph.aget_state(config)).values["history"]
    assert len(remembered) == 4  # two turns remembered...
    assert fresh[0].content == "우산 버리기" and len(fresh) == 2  # ...and not read
    assert len(kept) == 1 and len(latest) == 4  # the next turn goes on from the fresh one


async def test_workers_starting_together_on_a_fresh_database_all_open_their_checkpoints() -> None:
    """Each worker runs LangGraph's migrations at start; at once on a fresh database they
    inserted the same migration row and one failed to start (seen with two worker processes)."""
    require_postgres()
    from contextlib import asynccontextmanager

    from pydantic import SecretStr

    from app.infrastructure.checkpoint import postgres_checkpointer
    from app.settings import CheckpointSettings, PostgresSettings
    from tests.support.conversation_stores import postgres_schema

    async def open_one(url: str) -> bool:
        opened = asynccontextmanager(postgres_checkpointer)
        async with opened(CheckpointSettings(), PostgresSettings(url=SecretStr(url))) as saver:
            return saver is not None

    with postgres_schema() as fresh:
        opened = await asyncio.gather(*(open_one(fresh) for _ in range(4)))
    assert opened == [True] * 4
