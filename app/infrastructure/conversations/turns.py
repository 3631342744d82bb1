"""What recording a turn writes, the same for every adapter: the messages with their ids and
times, and the conversation's new count, preview and last activity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.domain.conversations import (
    Conversation,
    Message,
    MessageDraft,
    RecordedTurn,
    Role,
    preview_of,
)


@dataclass(frozen=True)
class TurnPlan:
    messages: list[Message]  # the user's first
    message_count: int
    preview: str | None
    last_message_at: datetime


def new_id() -> str:
    return str(uuid.uuid4())


def plan_turn(
    conversation: Conversation,
    user: MessageDraft,
    assistant: MessageDraft | None,
    now: datetime,
) -> TurnPlan:
    drafts: list[tuple[Role, MessageDraft]] = [("user", user)]
    if assistant is not None:
        drafts.append(("assistant", assistant))
    messages = [_message(conversation.id, role, draft, now) for role, draft in drafts]
    last = messages[-1]
    moments = [m.created_at for m in messages]
    if conversation.last_message_at is not None:
        moments.append(conversation.last_message_at)
    return TurnPlan(
        messages=messages,
        message_count=conversation.message_count + len(messages),
        preview=preview_of(last.content),
        last_message_at=max(moments),
    )


def recorded(conversation_id: str, messages: Sequence[Message], *, created: bool) -> RecordedTurn:
    """The turn from its stored messages (a turn always has its user message)."""
    by_role = {m.role: m for m in messages}
    return RecordedTurn(
        conversation_id=conversation_id,
        user_message=by_role["user"],
        assistant_message=by_role.get("assistant"),
        created=created,
    )


def _message(conversation_id: str, role: Role, draft: MessageDraft, now: datetime) -> Message:
    return Message(
        id=new_id(),
        conversation_id=conversation_id,
        role=role,
        content=draft.content,
        image_url=draft.image_url,
        intent=draft.intent,
        metadata=draft.metadata,
        created_at=(draft.created_at or now).astimezone(UTC),
    )
