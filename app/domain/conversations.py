"""Conversations: a principal's threads and their messages, as the store keeps them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.domain.errors import DomainError

TITLE_MAX = 200
PREVIEW_MAX = 100
PAGE_MAX = 100
Role = Literal["user", "assistant"]


class ConversationNotFound(DomainError):
    """No such conversation for this principal: unknown, another principal's, or deleted."""


class ConversationInputError(DomainError, ValueError):
    """A value the store refuses before touching anything (the gateway's 422)."""


class InvalidTitle(ConversationInputError):
    """A title that is empty (or only blanks) or longer than TITLE_MAX characters."""


class InvalidCursor(ConversationInputError):
    """A cursor the store never issued (for this principal and this listing)."""


class InvalidPageSize(ConversationInputError):
    """A page size outside 1..PAGE_MAX."""


class Conversation(BaseModel):
    """A thread owned by one principal, with what its list entry shows."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner: str
    title: str | None = Field(default=None, max_length=TITLE_MAX)
    created_at: AwareDatetime
    last_message_at: AwareDatetime | None = None
    message_count: int = Field(default=0, ge=0)
    preview: str | None = Field(default=None, max_length=PREVIEW_MAX)
    deleted: bool = False

    @property
    def last_activity(self) -> datetime:
        """What lists sort by: the last message, or the creation of an empty conversation."""
        if self.last_message_at is None:
            return self.created_at
        return max(self.created_at, self.last_message_at)


class MessageDraft(BaseModel):
    """One message of a turn as the caller hands it over; the store gives it id and time."""

    model_config = ConfigDict(frozen=True)

    content: str
    image_url: str | None = None
    intent: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)  # sources, usage, model
    created_at: AwareDatetime | None = None  # None: when the store writes it


class Message(BaseModel):
    """A stored message."""

    model_config = ConfigDict(frozen=True)

    id: str
    conversation_id: str
    role: Role
    content: str
    image_url: str | None = None
    intent: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: AwareDatetime


class RecordedTurn(BaseModel):
    """What a turn left in the store; `created` is False when the turn key was recorded before
    (and these are the messages stored then)."""

    model_config = ConfigDict(frozen=True)

    conversation_id: str
    user_message: Message
    assistant_message: Message | None
    created: bool


class ConversationPage(BaseModel):
    """Conversations, most recent activity first; `next_cursor` asks for the older ones."""

    model_config = ConfigDict(frozen=True)

    conversations: list[Conversation]
    next_cursor: str | None = None


class MessagePage(BaseModel):
    """A conversation and one page of its messages, oldest first within the page;
    `next_cursor` walks back in time."""

    model_config = ConfigDict(frozen=True)

    conversation: Conversation
    messages: list[Message]
    next_cursor: str | None = None

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def checked_title(title: str) -> str:
    """The title to store (surrounding blanks removed); InvalidTitle when it is empty or
    longer than TITLE_MAX characters."""
    cleaned = title.strip()
    if not cleaned:
        raise InvalidTitle("the title is empty")
    if len(cleaned) > TITLE_MAX:
        raise InvalidTitle(f"the title is longer than {TITLE_MAX} characters")
    return cleaned


def checked_optional_title(title: str | None) -> str | None:
    """None (untitled) or a checked title."""
    return None if title is None else checked_title(title)


def checked_page_size(limit: int) -> int:
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidPageSize(f"limit must be between 1 and {PAGE_MAX}")
    return limit


def preview_of(content: str) -> str | None:
    """A list entry's preview: the message on one line, cut to PREVIEW_MAX characters."""
    line = " ".join(content.split())
    if len(line) <= PREVIEW_MAX:
        return line or None
    return line[: PREVIEW_MAX - 1].rstrip() + "…"


def utc_now() -> datetime:
    return datetime.now(UTC)
