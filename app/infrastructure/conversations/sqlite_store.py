"""Conversations in SQLite: the embedded default, one file in WAL mode, for one host."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from app.application.ports.conversations import ConversationStore, StoreUnavailable
from app.domain.conversations import (
    Conversation,
    ConversationNotFound,
    ConversationPage,
    MessageDraft,
    MessagePage,
    RecordedTurn,
    checked_optional_title,
    checked_page_size,
    checked_title,
    utc_now,
)
from app.domain.errors import ConfigurationError
from app.infrastructure.conversations import MISSING_TABLES
from app.infrastructure.conversations import sqlite_sql as sql
from app.infrastructure.conversations.cursors import CursorCodec, new_secret, to_micros
from app.infrastructure.conversations.pages import conversation_page, message_page
from app.infrastructure.conversations.turns import new_id, plan_turn, recorded
from app.settings import ConversationSettings

T = TypeVar("T")


class SqliteConversationStore(ConversationStore):
    """The ConversationStore over one SQLite file. Each call runs in a worker thread on a
    connection of its own (kept for the next call), so transactions never interleave; writes
    take the file's write lock first (BEGIN IMMEDIATE), which makes a turn exactly-once."""

    def __init__(self, path: Path, *, busy_timeout: float = 5.0) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._codec: CursorCodec | None = None

    async def migrate(self) -> None:
        await self._run(_migrate)

    async def health(self) -> str:
        try:
            await self._run(lambda conn: conn.execute("SELECT 1").fetchone())
        except StoreUnavailable as exc:
            return f"unavailable ({exc.__cause__})"
        return "ok"

    async def create(self, owner: str, title: str | None = None) -> Conversation:
        cleaned = checked_optional_title(title)
        return await self._run(lambda conn: _create(conn, owner, cleaned))

    async def list(
        self, owner: str, limit: int = 20, cursor: str | None = None
    ) -> ConversationPage:
        checked_page_size(limit)

        def work(conn: sqlite3.Connection) -> ConversationPage:
            codec = self._codec_for(conn)
            if cursor is None:
                rows = conn.execute(sql.LIST_FIRST, (owner, limit + 1)).fetchall()
            else:
                activity, after = codec.read_list_cursor(owner, cursor)
                values = (owner, to_micros(activity), after, limit + 1)
                rows = conn.execute(sql.LIST_AFTER, values).fetchall()
            return conversation_page(codec, owner, [sql.conversation(r) for r in rows], limit)

        return await self._run(work)

    async def get(self, owner: str, conversation_id: str) -> Conversation:
        return await self._run(lambda conn: _find(conn, owner, conversation_id))

    async def history(
        self, owner: str, conversation_id: str, limit: int = 20, cursor: str | None = None
    ) -> MessagePage:
        checked_page_size(limit)

        def work(conn: sqlite3.Connection) -> MessagePage:
            codec = self._codec_for(conn)
            before = (
                None
                if cursor is None
                else codec.read_history_cursor(owner, conversation_id, cursor)
            )
            found = _find(conn, owner, conversation_id)
            if before is None:
                rows = conn.execute(sql.HISTORY_LATEST, (conversation_id, limit + 1)).fetchall()
            else:
                values = (conversation_id, before, limit + 1)
                rows = conn.execute(sql.HISTORY_BEFORE, values).fetchall()
            pairs = [(row["seq"], sql.message(row)) for row in rows]
            return message_page(codec, owner, found, pairs, limit)

        return await self._run(work)

    async def rename(self, owner: str, conversation_id: str, title: str) -> Conversation:
        cleaned = checked_title(title)
        return await self._run(lambda conn: _rename(conn, owner, conversation_id, cleaned))

    async def delete(self, owner: str, conversation_id: str) -> None:
        await self._run(lambda conn: _delete(conn, owner, conversation_id))

    async def record_turn(
        self,
        owner: str,
        conversation_id: str,
        turn_key: str,
        user: MessageDraft,
        assistant: MessageDraft | None,
    ) -> RecordedTurn:
        def work(conn: sqlite3.Connection) -> RecordedTurn:
            with _transaction(conn):
                current = _find(conn, owner, conversation_id)
                stored = conn.execute(sql.TURN_MESSAGES, (conversation_id, turn_key)).fetchall()
                if stored:
                    return recorded(
                        conversation_id, [sql.message(r) for r in stored], created=False
                    )
                plan = plan_turn(current, user, assistant, utc_now())
                rows = [sql.message_values(turn_key, m) for m in plan.messages]
                conn.executemany(sql.INSERT_MESSAGE, rows)
                conn.execute(sql.UPDATE_AFTER_TURN, sql.turn_update(conversation_id, plan))
                return recorded(conversation_id, plan.messages, created=True)

        return await self._run(work)

    async def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _codec_for(self, conn: sqlite3.Connection) -> CursorCodec:
        if self._codec is None:
            row = conn.execute(sql.READ_SECRET).fetchone()
            if row is None:
                raise ConfigurationError(MISSING_TABLES)
            self._codec = CursorCodec(row["secret"])
        return self._codec

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._call, work)

    def _call(self, work: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._checkout()
        try:
            return work(conn)
        except sqlite3.OperationalError as exc:  # locked past the timeout, disk, missing file
            if str(exc).startswith("no such table"):
                raise ConfigurationError(MISSING_TABLES) from exc
            raise StoreUnavailable(
                "the SQLite conversation store is unavailable",
                store="sqlite",
                retry_after=self._busy_timeout,
            ) from exc
        finally:
            if conn.in_transaction:  # only if ROLLBACK itself failed: start the next call clean
                conn.rollback()
            with self._lock:
                self._idle.append(conn)

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self._path, timeout=self._busy_timeout, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes in WAL mode
        return conn


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")  # the write lock now, so the reads below see the latest turn
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")  # readers never wait for a writer
    with _transaction(conn):
        for statement in sql.SCHEMA:
            conn.execute(statement)
        conn.execute(sql.ADD_SECRET, (new_secret(),))


def _find(conn: sqlite3.Connection, owner: str, conversation_id: str) -> Conversation:
    row = conn.execute(sql.SELECT_CONVERSATION, (conversation_id, owner)).fetchone()
    if row is None:
        raise ConversationNotFound(conversation_id)
    return sql.conversation(row)


def _create(conn: sqlite3.Connection, owner: str, title: str | None) -> Conversation:
    now = utc_now()
    created = Conversation(id=new_id(), owner=owner, title=title, created_at=now)
    micros = to_micros(now)
    conn.execute(sql.INSERT_CONVERSATION, (created.id, owner, title, micros, micros))
    return created


def _rename(conn: sqlite3.Connection, owner: str, conversation_id: str, title: str) -> Conversation:
    row = conn.execute(sql.RENAME, (title, conversation_id, owner)).fetchone()
    if row is None:
        raise ConversationNotFound(conversation_id)
    return sql.conversation(row)


def _delete(conn: sqlite3.Connection, owner: str, conversation_id: str) -> None:
    if conn.execute(sql.DELETE, (to_micros(utc_now()), conversation_id, owner)).rowcount != 1:
        raise ConversationNotFound(conversation_id)


async def sqlite_conversation_store(
    settings: ConversationSettings,
) -> AsyncIterator[SqliteConversationStore]:
    """Container Resource: the store over `settings.sqlite_path`, its tables created if missing
    (the embedded default needs no migration step)."""
    store = SqliteConversationStore(settings.sqlite_path, busy_timeout=settings.timeout)
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()
