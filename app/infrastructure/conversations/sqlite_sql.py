"""The SQLite tables and the statements over them (times as integer microseconds, UTC)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from app.domain.conversations import Conversation, Message
from app.infrastructure.conversations.cursors import from_micros, to_micros
from app.infrastructure.conversations.turns import TurnPlan

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS eco2_conversations (
        id              TEXT PRIMARY KEY,
        owner           TEXT NOT NULL,
        title           TEXT,
        created_at      INTEGER NOT NULL,
        last_message_at INTEGER,
        activity_at     INTEGER NOT NULL,
        message_count   INTEGER NOT NULL DEFAULT 0,
        preview         TEXT,
        deleted_at      INTEGER
    )""",
    """CREATE INDEX IF NOT EXISTS eco2_conversations_by_activity
        ON eco2_conversations (owner, activity_at DESC, id DESC) WHERE deleted_at IS NULL""",
    """CREATE TABLE IF NOT EXISTS eco2_messages (
        seq             INTEGER PRIMARY KEY,
        id              TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL REFERENCES eco2_conversations (id),
        turn_key        TEXT NOT NULL,
        role            TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
        content         TEXT NOT NULL,
        image_url       TEXT,
        intent          TEXT,
        metadata        TEXT NOT NULL DEFAULT '{}',
        created_at      INTEGER NOT NULL
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS eco2_messages_turn
        ON eco2_messages (conversation_id, turn_key, role)""",
    """CREATE INDEX IF NOT EXISTS eco2_messages_history ON eco2_messages (conversation_id, seq)""",
    """CREATE TABLE IF NOT EXISTS eco2_conversation_secrets (
        name   TEXT PRIMARY KEY,
        secret TEXT NOT NULL
    )""",
)
CONVERSATION_COLUMNS = (
    "id, owner, title, created_at, last_message_at, message_count, preview, deleted_at"
)
MESSAGE_COLUMNS = "seq, id, conversation_id, role, content, image_url, intent, metadata, created_at"
SELECT_CONVERSATION = (
    f"SELECT {CONVERSATION_COLUMNS} FROM eco2_conversations "
    "WHERE id = ? AND owner = ? AND deleted_at IS NULL"
)
LIST_FIRST = (
    f"SELECT {CONVERSATION_COLUMNS} FROM eco2_conversations "
    "WHERE owner = ? AND deleted_at IS NULL ORDER BY activity_at DESC, id DESC LIMIT ?"
)
LIST_AFTER = (
    f"SELECT {CONVERSATION_COLUMNS} FROM eco2_conversations "
    "WHERE owner = ? AND deleted_at IS NULL AND (activity_at, id) < (?, ?) "
    "ORDER BY activity_at DESC, id DESC LIMIT ?"
)
HISTORY_LATEST = (
    f"SELECT {MESSAGE_COLUMNS} FROM eco2_messages WHERE conversation_id = ? "
    "ORDER BY seq DESC LIMIT ?"
)
HISTORY_BEFORE = (
    f"SELECT {MESSAGE_COLUMNS} FROM eco2_messages WHERE conversation_id = ? AND seq < ? "
    "ORDER BY seq DESC LIMIT ?"
)
TURN_MESSAGES = (
    f"SELECT {MESSAGE_COLUMNS} FROM eco2_messages WHERE conversation_id = ? AND turn_key = ? "
    "ORDER BY seq"
)
INSERT_CONVERSATION = (
    "INSERT INTO eco2_conversations (id, owner, title, created_at, activity_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
INSERT_MESSAGE = (
    "INSERT INTO eco2_messages (id, conversation_id, turn_key, role, content, image_url, "
    "intent, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
UPDATE_AFTER_TURN = (
    "UPDATE eco2_conversations SET message_count = ?, preview = ?, last_message_at = ?, "
    "activity_at = MAX(created_at, ?) WHERE id = ?"
)
RENAME = (
    "UPDATE eco2_conversations SET title = ? WHERE id = ? AND owner = ? AND deleted_at IS NULL "
    f"RETURNING {CONVERSATION_COLUMNS}"
)
DELETE = (
    "UPDATE eco2_conversations SET deleted_at = ? WHERE id = ? AND owner = ? AND deleted_at IS NULL"
)
ADD_SECRET = "INSERT OR IGNORE INTO eco2_conversation_secrets (name, secret) VALUES ('cursor', ?)"
READ_SECRET = "SELECT secret FROM eco2_conversation_secrets WHERE name = 'cursor'"


def conversation(row: sqlite3.Row) -> Conversation:
    last = row["last_message_at"]
    return Conversation(
        id=row["id"],
        owner=row["owner"],
        title=row["title"],
        created_at=from_micros(row["created_at"]),
        last_message_at=None if last is None else from_micros(last),
        message_count=row["message_count"],
        preview=row["preview"],
        deleted=row["deleted_at"] is not None,
    )


def message(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        image_url=row["image_url"],
        intent=row["intent"],
        metadata=json.loads(row["metadata"]),
        created_at=from_micros(row["created_at"]),
    )


def message_values(turn_key: str, item: Message) -> tuple[Any, ...]:
    return (
        item.id,
        item.conversation_id,
        turn_key,
        item.role,
        item.content,
        item.image_url,
        item.intent,
        json.dumps(item.metadata, ensure_ascii=False),
        to_micros(item.created_at),
    )


def turn_update(conversation_id: str, plan: TurnPlan) -> tuple[Any, ...]:
    last = to_micros(plan.last_message_at)
    return (plan.message_count, plan.preview, last, last, conversation_id)
