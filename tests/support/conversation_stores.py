"""The conversation store's adapters as the contract tests (and the bench) open them: SQLite in a
temporary file, PostgreSQL in a schema of its own on TEST_POSTGRES_URL."""

from __future__ import annotations

import socket
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import SecretStr

from app.application.ports.conversations import ConversationStore, StoreUnavailable
from app.domain.conversations import MessageDraft
from app.infrastructure.conversations.postgres_store import postgres_conversation_store
from app.infrastructure.conversations.sqlite_store import (
    SqliteConversationStore,
    sqlite_conversation_store,
)
from app.settings import ConversationSettings, PostgresSettings
from tests.support.services import POSTGRES_URL, postgres_reason

__all__ = ["postgres_reason"]  # where the store tests have always imported it from

FAILING_CONTENT = "BOOM"  # an insert of this content fails mid-turn once `sabotage` ran

SQLITE_SABOTAGE = f"""CREATE TRIGGER IF NOT EXISTS boom BEFORE INSERT ON eco2_messages
    WHEN NEW.content = '{FAILING_CONTENT}' BEGIN SELECT RAISE(ABORT, 'boom'); END"""
# SQLSTATE 57P01 (admin_shutdown): the server going away between the turn's two inserts.
POSTGRES_SABOTAGE = (
    f"""CREATE OR REPLACE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.content = '{FAILING_CONTENT}' THEN
            RAISE EXCEPTION 'terminating connection' USING ERRCODE = '57P01';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER boom BEFORE INSERT ON eco2_messages
    FOR EACH ROW EXECUTE FUNCTION boom()""",
)


def later() -> datetime:
    """A moment after every conversation's creation, for turns that say when they happened."""
    return datetime.now(UTC) + timedelta(days=1)


def draft(content: str, at: datetime | None = None, **extra: Any) -> MessageDraft:
    return MessageDraft(content=content, created_at=at, **extra)


async def turn(
    store: ConversationStore, owner: str, conversation_id: str, key: str, at: datetime
) -> None:
    """A question and its answer a second later, both at the time given."""
    answer = draft(f"a {key}", at + timedelta(seconds=1))
    await store.record_turn(owner, conversation_id, key, draft(f"q {key}", at), answer)


@dataclass
class Backend:
    """One adapter over one fresh database: `replica()` opens a second store on the same data
    (another process, as far as the store can tell)."""

    name: str
    settings: ConversationSettings
    postgres: PostgresSettings
    failure: tuple[type[BaseException], ...]  # what a sabotaged turn raises

    def replica(self) -> AbstractAsyncContextManager[Any]:
        if self.name == "sqlite":
            return asynccontextmanager(sqlite_conversation_store)(self.settings)
        return _migrated_postgres(self.settings, self.postgres)

    def unmigrated(self) -> AbstractAsyncContextManager[Any]:
        """A store over the same database that did not make its tables (PostgreSQL's never
        does on open)."""
        if self.name == "sqlite":
            return _unmigrated_sqlite(self.settings.sqlite_path)
        return asynccontextmanager(postgres_conversation_store)(self.settings, self.postgres)

    def sabotage(self) -> None:
        if self.name == "sqlite":
            with sqlite3.connect(self.settings.sqlite_path) as conn:
                conn.execute(SQLITE_SABOTAGE)
            return
        import psycopg

        assert self.postgres.url is not None
        with psycopg.connect(self.postgres.url.get_secret_value(), autocommit=True) as conn:
            for statement in POSTGRES_SABOTAGE:
                conn.execute(statement)


@asynccontextmanager
async def _unmigrated_sqlite(path: Path) -> AsyncIterator[Any]:
    store = SqliteConversationStore(path)
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def _migrated_postgres(
    settings: ConversationSettings, postgres: PostgresSettings
) -> AsyncIterator[Any]:
    async with asynccontextmanager(postgres_conversation_store)(settings, postgres) as store:
        await store.migrate()
        yield store


@asynccontextmanager
async def sqlite_backend(directory: Path) -> AsyncIterator[Backend]:
    settings = ConversationSettings(sqlite_path=directory / "conversations.sqlite3")
    yield Backend("sqlite", settings, PostgresSettings(), (sqlite3.IntegrityError,))


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections see a fresh schema first on their search_path (dropped after)."""
    import psycopg

    schema = f"conv_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@asynccontextmanager
async def postgres_backend() -> AsyncIterator[Backend]:
    with postgres_schema() as url:
        settings = ConversationSettings(backend="postgres")
        postgres = PostgresSettings(url=SecretStr(url))
        yield Backend("postgres", settings, postgres, (StoreUnavailable,))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def unreachable_postgres(wait: float) -> AsyncIterator[Any]:
    """A store pointed at a port nothing listens on (PostgreSQL down, as the store sees it)."""
    url = SecretStr(f"postgresql://eco2@127.0.0.1:{closed_port()}/eco2")
    settings = ConversationSettings(backend="postgres", timeout=wait)
    opened = asynccontextmanager(postgres_conversation_store)(settings, PostgresSettings(url=url))
    async with opened as store:
        yield store
