"""Conversations in PostgreSQL (what production uses): tables made by `python -m app migrate`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

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
from app.infrastructure.conversations import postgres_sql as sql
from app.infrastructure.conversations.cursors import CursorCodec, new_secret
from app.infrastructure.conversations.pages import conversation_page, message_page
from app.infrastructure.conversations.turns import new_id, plan_turn, recorded
from app.settings import ConversationSettings, PostgresSettings

if TYPE_CHECKING:
    from psycopg import AsyncCursor
    from psycopg_pool import AsyncConnectionPool

    Cursor = AsyncCursor[dict[str, Any]]


class PostgresConversationStore(ConversationStore):
    """The ConversationStore over a pool of its own. A turn locks its conversation's row
    (SELECT … FOR UPDATE), so concurrent recordings of one turn key write it once."""

    def __init__(self, pool: AsyncConnectionPool[Any], *, timeout: float = 5.0) -> None:
        self._pool = pool
        self._timeout = timeout
        self._codec: CursorCodec | None = None

    async def migrate(self) -> None:
        async with self._cursor(transaction=True) as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(%s)", (sql.MIGRATION_LOCK,))
            for statement in sql.SCHEMA:
                await cur.execute(statement)
            await cur.execute(sql.ADD_SECRET, (new_secret(),))

    async def health(self) -> str:
        try:
            async with self._cursor() as cur:
                await cur.execute("SELECT 1")
        except StoreUnavailable as exc:
            return f"unavailable ({type(exc.__cause__).__name__})"
        return "ok"

    async def create(self, owner: str, title: str | None = None) -> Conversation:
        cleaned = checked_optional_title(title)
        now = utc_now()
        created = Conversation(id=new_id(), owner=owner, title=cleaned, created_at=now)
        async with self._cursor() as cur:
            await cur.execute(sql.INSERT_CONVERSATION, (created.id, owner, cleaned, now, now))
        return created

    async def list(
        self, owner: str, limit: int = 20, cursor: str | None = None
    ) -> ConversationPage:
        checked_page_size(limit)
        async with self._cursor() as cur:
            codec = await self._codec_for(cur)
            if cursor is None:
                await cur.execute(sql.LIST_FIRST, (owner, limit + 1))
            else:
                activity, after = codec.read_list_cursor(owner, cursor)
                await cur.execute(sql.LIST_AFTER, (owner, activity, after, limit + 1))
            rows = [sql.conversation(row) for row in await cur.fetchall()]
        return conversation_page(codec, owner, rows, limit)

    async def get(self, owner: str, conversation_id: str) -> Conversation:
        async with self._cursor() as cur:
            return await _find(cur, sql.SELECT_CONVERSATION, owner, conversation_id)

    async def history(
        self, owner: str, conversation_id: str, limit: int = 20, cursor: str | None = None
    ) -> MessagePage:
        checked_page_size(limit)
        async with self._cursor() as cur:
            codec = await self._codec_for(cur)
            before = None
            if cursor is not None:
                before = codec.read_history_cursor(owner, conversation_id, cursor)
            found = await _find(cur, sql.SELECT_CONVERSATION, owner, conversation_id)
            if before is None:
                await cur.execute(sql.HISTORY_LATEST, (conversation_id, limit + 1))
            else:
                await cur.execute(sql.HISTORY_BEFORE, (conversation_id, before, limit + 1))
            pairs = [(row["seq"], sql.message(row)) for row in await cur.fetchall()]
        return message_page(codec, owner, found, pairs, limit)

    async def rename(self, owner: str, conversation_id: str, title: str) -> Conversation:
        cleaned = checked_title(title)
        async with self._cursor() as cur:
            await cur.execute(sql.RENAME, (cleaned, conversation_id, owner))
            row = await cur.fetchone()
        if row is None:
            raise ConversationNotFound(conversation_id)
        return sql.conversation(row)

    async def delete(self, owner: str, conversation_id: str) -> None:
        async with self._cursor() as cur:
            await cur.execute(sql.DELETE, (utc_now(), conversation_id, owner))
            if cur.rowcount != 1:
                raise ConversationNotFound(conversation_id)

    async def record_turn(
        self,
        owner: str,
        conversation_id: str,
        turn_key: str,
        user: MessageDraft,
        assistant: MessageDraft | None,
    ) -> RecordedTurn:
        async with self._cursor(transaction=True) as cur:
            current = await _find(cur, sql.LOCK_CONVERSATION, owner, conversation_id)
            await cur.execute(sql.TURN_MESSAGES, (conversation_id, turn_key))
            stored = [sql.message(row) for row in await cur.fetchall()]
            if stored:
                return recorded(conversation_id, stored, created=False)
            plan = plan_turn(current, user, assistant, utc_now())
            await cur.executemany(
                sql.INSERT_MESSAGE, [sql.message_values(turn_key, m) for m in plan.messages]
            )
            await cur.execute(sql.UPDATE_AFTER_TURN, sql.turn_update(conversation_id, plan))
        return recorded(conversation_id, plan.messages, created=True)

    async def _codec_for(self, cur: Cursor) -> CursorCodec:
        if self._codec is None:
            await cur.execute(sql.READ_SECRET)
            row = await cur.fetchone()
            if row is None:
                raise ConfigurationError(MISSING_TABLES)
            self._codec = CursorCodec(row["secret"])
        return self._codec

    @asynccontextmanager
    async def _cursor(self, *, transaction: bool = False) -> AsyncIterator[Cursor]:
        """A pooled connection's cursor (in one transaction if asked); PostgreSQL's failures
        become StoreUnavailable or a ConfigurationError that names the fix."""
        from psycopg import OperationalError
        from psycopg.errors import UndefinedTable
        from psycopg.rows import dict_row

        try:
            async with (
                self._pool.connection(timeout=self._timeout) as conn,
                conn.cursor(row_factory=dict_row) as cur,
            ):
                if not transaction:
                    yield cur
                    return
                async with conn.transaction():
                    yield cur
        except UndefinedTable as exc:
            raise ConfigurationError(MISSING_TABLES) from exc
        except OperationalError as exc:  # down, unreachable, pool exhausted (PoolTimeout)
            raise StoreUnavailable(
                "the PostgreSQL conversation store is unavailable",
                store="postgres",
                retry_after=self._timeout,
            ) from exc


async def _find(cur: Cursor, query: str, owner: str, conversation_id: str) -> Conversation:
    await cur.execute(query, (conversation_id, owner))
    row = await cur.fetchone()
    if row is None:
        raise ConversationNotFound(conversation_id)
    return sql.conversation(row)


async def postgres_conversation_store(
    settings: ConversationSettings, postgres: PostgresSettings
) -> AsyncIterator[PostgresConversationStore]:
    """Container Resource: a pool of its own. It opens without waiting, so a process starts
    while PostgreSQL is down and its calls answer StoreUnavailable until it is back."""
    from psycopg_pool import AsyncConnectionPool

    if postgres.url is None:
        raise ConfigurationError("conversations.backend is 'postgres' but POSTGRES_URL is not set")
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        conninfo=postgres.url.get_secret_value(),
        min_size=1,
        max_size=settings.postgres_pool_size,
        kwargs={"autocommit": True, "connect_timeout": max(1, round(settings.timeout))},
        # A connection the server dropped (a restart, a failover) is found at checkout and
        # replaced, rather than failing the first call of each pooled one after an outage.
        check=AsyncConnectionPool.check_connection,
        open=False,
    )
    await pool.open(wait=False)
    try:
        yield PostgresConversationStore(pool, timeout=settings.timeout)
    finally:
        await pool.close()
