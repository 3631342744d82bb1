"""The conversation store's contract, run against every adapter (SQLite and PostgreSQL):
paging, ownership, soft delete, titles, exactly-once turns, and failures that write nothing."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.application.ports.conversations import ConversationStore, StoreUnavailable
from app.domain.conversations import (
    ConversationNotFound,
    InvalidCursor,
    InvalidPageSize,
    InvalidTitle,
)
from app.domain.errors import ConfigurationError
from tests.support.conversation_stores import (
    FAILING_CONTENT,
    Backend,
    draft,
    later,
    postgres_backend,
    postgres_reason,
    sqlite_backend,
    turn,
    unreachable_postgres,
)


@pytest.fixture(scope="module")
def postgres_skip() -> str | None:
    return postgres_reason()


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_skip: str | None
) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        async with sqlite_backend(tmp_path) as opened:
            yield opened
        return
    if postgres_skip:
        pytest.skip(postgres_skip)
    async with postgres_backend() as opened:
        yield opened


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[ConversationStore]:
    async with backend.replica() as opened:
        yield opened


async def walk(store: ConversationStore, owner: str, limit: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = await store.list(owner, limit=limit, cursor=cursor)
        pages.append([c.id for c in page.conversations])
        if (cursor := page.next_cursor) is None:
            return pages


async def test_lists_most_recent_activity_first_in_stable_pages(store: ConversationStore) -> None:
    created, t0 = [await store.create("alice", f"c{i}") for i in range(13)], later()
    tied = created[:6]  # six with the very same last activity: ordered by id
    for i, conversation in enumerate(created):
        at = t0 if conversation in tied else t0 - timedelta(minutes=i)
        await turn(store, "alice", conversation.id, f"k{i}", at)
    expected = sorted(tied, key=lambda c: c.id, reverse=True) + created[6:]
    pages = await walk(store, "alice", limit=4)
    assert [len(p) for p in pages] == [4, 4, 4, 1]
    assert [i for page in pages for i in page] == [c.id for c in expected]

    first = await store.list("alice", limit=4)
    for i in range(3):  # new activity meanwhile goes to the top, not into later pages
        fresh = await store.create("alice", f"new {i}")
        await turn(store, "alice", fresh.id, "k", t0 + timedelta(hours=1))
    rest = await store.list("alice", limit=100, cursor=first.next_cursor)
    assert [c.id for c in rest.conversations] == [c.id for c in expected[4:]]
    assert rest.next_cursor is None


async def test_an_empty_conversation_sorts_by_its_creation(store: ConversationStore) -> None:
    older = await store.create("alice")
    await turn(store, "alice", older.id, "k", datetime.now(UTC) + timedelta(minutes=5))
    newer = await store.create("alice")
    page = await store.list("alice")
    assert [c.id for c in page.conversations] == [older.id, newer.id]
    assert newer.title is None and newer.last_message_at is None and newer.message_count == 0
    assert newer.created_at.utcoffset() == timedelta(0)


async def test_owners_never_see_each_other(store: ConversationStore) -> None:
    mine = await store.create("alice", "mine")
    await store.create("bob", "theirs")
    assert [c.title for c in (await store.list("alice")).conversations] == ["mine"]
    for call in (
        store.get("bob", mine.id),
        store.history("bob", mine.id),
        store.rename("bob", mine.id, "stolen"),
        store.delete("bob", mine.id),
        store.record_turn("bob", mine.id, "k", draft("hi"), None),
    ):
        with pytest.raises(ConversationNotFound):
            await call
    assert (await store.get("alice", mine.id)).title == "mine"
    assert (await store.history("alice", mine.id)).messages == []


async def test_rename_then_delete_soft_and_once(store: ConversationStore) -> None:
    conversation = await store.create("alice", "before")
    renamed = await store.rename("alice", conversation.id, "  after  ")
    assert renamed.title == "after" and (await store.get("alice", conversation.id)).title == "after"
    await store.delete("alice", conversation.id)
    assert (await store.list("alice")).conversations == []
    for call in (
        store.delete("alice", conversation.id),
        store.get("alice", conversation.id),
        store.history("alice", conversation.id),
        store.rename("alice", conversation.id, "again"),
        store.record_turn("alice", conversation.id, "k", draft("late"), draft("answer")),
    ):
        with pytest.raises(ConversationNotFound):
            await call
    with pytest.raises(ConversationNotFound):
        await store.get("alice", "no-such-id")


async def test_titles_are_checked(store: ConversationStore) -> None:
    for bad in ("", "   ", "x" * 201):
        with pytest.raises(InvalidTitle):
            await store.create("alice", bad)
    longest = await store.create("alice", "가" * 200)
    with pytest.raises(ValueError):  # InvalidTitle is a ValueError too
        await store.rename("alice", longest.id, "")
    assert (await store.get("alice", longest.id)).title == "가" * 200


async def test_a_turn_is_recorded_once_under_concurrency(store: ConversationStore) -> None:
    conversation = await store.create("alice")
    results = await asyncio.gather(
        *(
            store.record_turn(
                "alice", conversation.id, "job-1", draft(f"q{i}"), draft(f"a{i}", intent="waste")
            )
            for i in range(20)
        )
    )
    winners = [r for r in results if r.created]
    assert len(winners) == 1 and winners[0].assistant_message is not None
    stored = [winners[0].user_message, winners[0].assistant_message]
    assert all([r.user_message, r.assistant_message] == stored for r in results)
    page = await store.history("alice", conversation.id, limit=100)
    assert page.messages == stored
    assert (await store.get("alice", conversation.id)).message_count == 2


async def test_a_repeated_turn_key_changes_nothing(store: ConversationStore) -> None:
    conversation = await store.create("alice")
    first = await store.record_turn("alice", conversation.id, "job-1", draft("q"), None)
    again = await store.record_turn("alice", conversation.id, "job-1", draft("other"), draft("a"))
    assert first.created and not again.created and again.assistant_message is None
    assert again.user_message == first.user_message
    stored = await store.get("alice", conversation.id)
    assert (stored.message_count, stored.preview) == (1, "q")


async def test_turns_keep_count_preview_and_last_activity(store: ConversationStore) -> None:
    conversation = await store.create("alice")
    metadata = {"sources": [{"title": "분리배출 안내", "page": 3}], "usage": {"tokens": 12}}
    answer = draft("페트병은 " + "비우고 " * 40, image_url=None, intent="waste", metadata=metadata)
    done = await store.record_turn(
        "alice", conversation.id, "job-1", draft("페트병?", image_url="https://x/y.png"), answer
    )
    error = await store.record_turn("alice", conversation.id, "job-2", draft("그리고 캔은?"), None)
    assert error.assistant_message is None and error.created
    stored = await store.get("alice", conversation.id)
    assert stored.message_count == 3 and stored.preview == "그리고 캔은?"
    assert stored.last_message_at == error.user_message.created_at
    assistant = done.assistant_message
    assert assistant is not None and assistant.metadata == metadata
    messages = (await store.history("alice", conversation.id)).messages
    assert [m.role for m in messages] == ["user", "assistant", "user"]
    assert messages[0].image_url == "https://x/y.png" and messages[1].intent == "waste"
    assert messages[1] == assistant and messages[1].created_at.utcoffset() == timedelta(0)
    previews = await store.record_turn("alice", conversation.id, "job-3", draft("q"), answer)
    preview = (await store.get("alice", previews.conversation_id)).preview or ""
    assert len(preview) == 100 and preview.endswith("…") and "\n" not in preview


async def test_history_pages_walk_back_in_time(store: ConversationStore) -> None:
    conversation, t0 = await store.create("alice"), later()
    for i in range(7):
        await turn(store, "alice", conversation.id, f"job-{i}", t0 + timedelta(minutes=i))
    pages, cursor = [], None
    while True:
        page = await store.history("alice", conversation.id, limit=5, cursor=cursor)
        pages.append([m.content for m in page.messages])
        assert page.conversation.id == conversation.id
        if not page.has_more:
            break
        cursor = page.next_cursor
    every = [f"{side} job-{i}" for i in range(7) for side in ("q", "a")]
    assert pages == [every[9:], every[4:9], every[:4]]


async def test_cursors_the_store_never_issued_are_refused(store: ConversationStore) -> None:
    one, two, t0 = await store.create("alice"), await store.create("alice"), later()
    for conversation in (one, two):
        for i in range(3):
            await turn(store, "alice", conversation.id, f"k{i}", t0 + timedelta(minutes=i))
    await store.create("alice")
    listing = (await store.list("alice", limit=1)).next_cursor
    history = (await store.history("alice", one.id, limit=2)).next_cursor
    assert listing and history
    payload, _, signature = listing.partition(".")
    forged = [
        ("alice", None, "nope"),
        ("alice", None, f"{payload}x.{signature}"),
        ("bob", None, listing),  # another owner's
        ("alice", None, history),  # a history cursor for a listing
        ("alice", two.id, history),  # another conversation's
        ("alice", one.id, listing),
    ]
    for owner, conversation_id, cursor in forged:
        with pytest.raises(InvalidCursor):
            if conversation_id is None:
                await store.list(owner, cursor=cursor)
            else:
                await store.history(owner, conversation_id, cursor=cursor)
    for limit in (0, 101):
        with pytest.raises(InvalidPageSize):
            await store.list("alice", limit=limit)


async def test_cursors_and_turns_hold_across_replicas(backend: Backend) -> None:
    async with backend.replica() as first, backend.replica() as second:
        await asyncio.gather(first.migrate(), second.migrate())  # again, and at once
        for i in range(3):
            await first.create("alice", f"c{i}")
        cursor = (await first.list("alice", limit=2)).next_cursor
        rest = await second.list("alice", limit=2, cursor=cursor)
        assert [c.title for c in rest.conversations] == ["c0"]
        conversation = rest.conversations[0]
        results = await asyncio.gather(
            *(
                s.record_turn("alice", conversation.id, "j", draft("q"), None)
                for s in [first, second]
            )
        )
        assert sorted(r.created for r in results) == [False, True]


async def test_missing_tables_name_the_migration(backend: Backend) -> None:
    async with backend.unmigrated() as store:
        for call in (store.list("alice"), store.create("alice"), store.get("alice", "c")):
            with pytest.raises(ConfigurationError, match="python -m app migrate"):
                await call


async def test_a_turn_that_fails_midway_writes_nothing(backend: Backend) -> None:
    async with backend.replica() as store:
        conversation = await store.create("alice")
        await store.record_turn("alice", conversation.id, "job-1", draft("q"), draft("a"))
        backend.sabotage()
        with pytest.raises(backend.failure):
            await store.record_turn(
                "alice", conversation.id, "job-2", draft("q2"), draft(FAILING_CONTENT)
            )
        stored = await store.get("alice", conversation.id)
        assert (stored.message_count, stored.preview) == (2, "a")
        contents = [m.content for m in (await store.history("alice", conversation.id)).messages]
        assert contents == ["q", "a"]
        retried = await store.record_turn("alice", conversation.id, "job-2", draft("q2"), None)
        assert retried.created  # the failed attempt left no trace of its key


async def test_postgresql_down_is_store_unavailable() -> None:
    async with unreachable_postgres(wait=0.5) as store:
        assert (await store.health()).startswith("unavailable")
        for call in (
            store.create("alice"),
            store.list("alice"),
            store.get("alice", "c"),
            store.record_turn("alice", "c", "job-1", draft("q"), draft("a")),
        ):
            with pytest.raises(StoreUnavailable) as raised:
                await call
            assert raised.value.retry_after == 0.5 and raised.value.store == "postgres"


async def test_a_locked_sqlite_file_is_store_unavailable(tmp_path: Path) -> None:
    async with sqlite_backend(tmp_path) as backend:
        backend.settings = backend.settings.model_copy(update={"timeout": 0.2})
        async with backend.replica() as store:
            assert await store.health() == "ok"
            conversation = await store.create("alice")
            holder = sqlite3.connect(backend.settings.sqlite_path, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process writing, for longer than we wait
            try:
                with pytest.raises(StoreUnavailable) as raised:
                    await store.record_turn("alice", conversation.id, "j", draft("q"), None)
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert raised.value.store == "sqlite" and raised.value.retry_after == 0.2
            assert (await store.get("alice", conversation.id)).message_count == 0
