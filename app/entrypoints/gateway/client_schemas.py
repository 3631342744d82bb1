"""Bodies of the eco2 client's API (`/api/v1`, ../shared/CLIENT_API.md): names are the client's."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.domain.chat import ChatDraft, Location
from app.domain.conversations import Conversation, Message, MessagePage


class ChatSummary(BaseModel):
    id: str
    title: str | None
    preview: str | None = Field(description="the last message, on one line, ≤ 100 characters")
    message_count: int
    last_message_at: AwareDatetime | None
    created_at: AwareDatetime

    @classmethod
    def of(cls, conversation: Conversation) -> ChatSummary:
        return cls(
            id=conversation.id,
            title=conversation.title,
            preview=conversation.preview,
            message_count=conversation.message_count,
            last_message_at=conversation.last_message_at,
            created_at=conversation.created_at,
        )


class ChatList(BaseModel):
    chats: list[ChatSummary] = Field(description="most recent activity first")
    next_cursor: str | None = Field(description="send as `cursor` for the next page")


class NewChat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, description="1-200 characters; omit: untitled")


class ChatCreated(BaseModel):
    id: str
    title: str | None
    created_at: AwareDatetime


class MessageOut(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    created_at: AwareDatetime
    image_url: str | None = None
    intent: str | None = None
    metadata: dict[str, Any] | None = Field(default=None, description="sources, usage, model")

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        return cls(
            id=message.id,
            role=message.role,
            content=message.content,
            created_at=message.created_at,
            image_url=message.image_url,
            intent=message.intent,
            metadata=message.metadata or None,
        )


class ChatDetail(BaseModel):
    id: str
    title: str | None
    messages: list[MessageOut] = Field(description="oldest first within the page")
    has_more: bool
    next_cursor: str | None = Field(description="send as `cursor` for the messages before these")
    created_at: AwareDatetime

    @classmethod
    def of(cls, page: MessagePage) -> ChatDetail:
        return cls(
            id=page.conversation.id,
            title=page.conversation.title,
            messages=[MessageOut.of(m) for m in page.messages],
            has_more=page.has_more,
            next_cursor=page.next_cursor,
            created_at=page.conversation.created_at,
        )


class Rename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="1-200 characters")


class SendMessage(BaseModel):
    """A message: the same rules as `/v1` (ChatDraft), in the client's field names."""

    model_config = ConfigDict(extra="forbid")

    message: str
    image_url: str | None = None
    user_location: Location | None = None
    model: str | None = None

    def draft(self) -> ChatDraft:
        return ChatDraft(
            message=self.message,
            image_url=self.image_url,
            location=self.user_location,
            model=self.model,
        )


class MessageQueued(BaseModel):
    job_id: str
    stream_url: str = Field(description="/api/v1/chat/{job_id}/events")
    status: Literal["queued"] = "queued"


class InputSent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["location", "confirmation", "cancel"]
    data: dict[str, Any] | None = None


class InputReceived(BaseModel):
    status: Literal["received"] = "received"
    job_id: str = Field(description="the job that carries the answered turn on")
