"""The PostgreSQL tables and the statements over them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.domain.conversations import Conversation, Message
from app.infrastructure.conversations.turns import TurnPlan

# Taken for the migration's transaction, so replicas starting together create the tables once.
MIGRATION_LOCK = 0x6563_6F32_636F_6E76  # "eco2conv"
SCHEMA = (
    # "C" collation: ids compare bytewise, the same in ORDER BY, keyset and the index.
    """CREATE TABLE IF NOT EXISTS eco2_conversations (
        id              text COLLATE "C" PRIMARY KEY,
        owner           text NOT NULL,
        title           text,
        created_at      timestamptz NOT NULL,
        last_message_at timestamptz,
        activity_at     timestamptz NOT NULL,
        message_count   integer NOT NULL DEFAULT 0,
        preview         text,
        deleted_at      timestamptz
    )""",
    """CREATE INDEX IF NOT EXISTS eco2_conversations_by_activity
        ON eco2_conversations (owner, activity_at DESC, id DESC) WHERE deleted_at IS NULL""",
    """CREATE TABLE IF NOT EXISTS eco2_messages (
        seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id              text NOT NULL UNIQUE,
        conversation_id text COLLATE "C" NOT NULL REFERENCES eco2_conversations (id),
        turn_key        text NOT NULL,
        role            text NOT NULL CHECK (role IN ('user', 'assistant')),
        content         text NOT NULL,
        image_url       text,
        intent          text,
        metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
        created_at      timestamptz NOT NULL
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS eco2_messages_turn
        ON eco2_messages (conversation_id, turn_key, role)""",
    """CREATE INDEX IF NOT EXISTS eco2_messages_history ON eco2_messages (conversation_id, seq)""",
    """CREATE TABLE IF NOT EXISTS eco2_conversation_secrets (
        name   text PRIMARY KEY,
        secret text NOT NULL
    )""",
)
CONVERSATION_COLUMNS = (
    "id, owner, title, created_at, last_message_at, message_count, preview, deleted_at"
)
MESSAGE_COLUMNS = "seq, id, conversation_id, role, content, image_url, intent, metadata, created_at"
SELECT_CONVERSATION = (
    f"SELECT {CONVERSATION_COLUMNS} FROM eco2_conversations "
    "WHERE id = %s AND owner = %s AND deleted_at IS NULL"
)
LOCK_CONVERSATION = f"{SELECT_CONVERSATION} FOR UPDATE"
LIST_FIRST = (
    f"SELECT {CONVERSATION_COLUMNS} FROM eco2_conversations "
    "WHERE owner = %s AND deleted_at IS NULL ORDER BY activity_at DESC, id DESC LIMIT %s"
)
LIST_AFTER = (
    f"SELECT {CONVERSATION_COLUMNS} FROM eco2_conversations "
    "WHERE owner = %s AND deleted_at IS NULL AND (activity_at, id) < (%s, %s) "
    "ORDER BY activity_at DESC, id DESC LIMIT %s"
)
HISTORY_LATEST = (
    f"SELECT {MESSAGE_COLUMNS} FROM eco2_messages WHERE conversation_id = %s "
    "ORDER BY seq DESC LIMIT %s"
)
HISTORY_BEFORE = (
    f"SELECT {MESSAGE_COLUMNS} FROM eco2_messages WHERE conversation_id = %s AND seq < %s "
    "ORDER BY seq DESC LIMIT %s"
)
TURN_MESSAGES = (
    f"SELECT {MESSAGE_COLUMNS} FROM eco2_messages WHERE conversation_id = %s AND turn_key = %s "
    "ORDER BY seq"
)
INSERT_CONVERSATION = (
    "INSERT INTO eco2_conversations (id, owner, title, created_at, activity_at) "
    "VALUES (%s, %s, %s, %s, %s)"
)
INSERT_MESSAGE = (
    "INSERT INTO eco2_messages (id, conversation_id, turn_key, role, content, image_url, "
    "intent, metadata, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s)"
)
UPDATE_AFTER_TURN = (
    "UPDATE eco2_conversations SET message_count = %s, preview = %s, last_message_at = %s, "
    "activity_at = GREATEST(created_at, %s) WHERE id = %s"
)
RENAME = (
    "UPDATE eco2_conversations SET title = %s "
    "WHERE id = %s AND owner = %s AND deleted_at IS NULL "
    f"RETURNING {CONVERSATION_COLUMNS}"
)
DELETE = (
    "UPDATE eco2_conversations SET deleted_at = %s "
    "WHERE id = %s AND owner = %s AND deleted_at IS NULL"
)
ADD_SECRET = (
    "INSERT INTO eco2_conversation_secrets (name, secret) VALUES ('cursor', %s) "
    "ON CONFLICT (name) DO NOTHING"
)
READ_SECRET = "SELECT secret FROM eco2_conversation_secrets WHERE name = 'cursor'"


def conversation(row: dict[str, Any]) -> Conversation:
    last: datetime | None = row["last_message_at"]
    return Conversation(
        id=row["id"],
        owner=row["owner"],
        title=row["title"],
        created_at=row["created_at"].astimezone(UTC),
        last_message_at=None if last is None else last.astimezone(UTC),
        message_count=row["message_count"],
        preview=row["preview"],
        deleted=row["deleted_at"] is not None,
    )


def message(row: dict[str, Any]) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        image_url=row["image_url"],
        intent=row["intent"],
        metadata=row["metadata"],
        created_at=row["created_at"].astimezone(UTC),
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
        item.created_at,
    )


def turn_update(conversation_id: str, plan: TurnPlan) -> tuple[Any, ...]:
    last = plan.last_message_at
    return (plan.message_count, plan.preview, last, last, conversation_id)
