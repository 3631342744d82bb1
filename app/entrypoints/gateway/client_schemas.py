"""Bodies of the eco2 client's API (`/api/v1`, ../shared/CLIENT_API.md): names are the client's."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.domain.chat import IMAGE_URL, MAX_MESSAGE_CHARS, NOT_BLANK, ChatDraft, Location
from app.domain.conversations import Conversation, Message, MessagePage


class ChatSummary(BaseModel):
    id: str = Field(description="the conversation's id")
    title: str | None = Field(description="its title, or null while untitled")
    preview: str | None = Field(description="the last message, on one line, ≤ 100 characters")
    message_count: int = Field(description="messages in it (user and assistant)")
    last_message_at: AwareDatetime | None = Field(description="its last message's time")
    created_at: AwareDatetime = Field(description="when it was created")

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


# A title the store keeps: 1-200 characters with one that is neither a space nor a control
# character (the store trims the ends), said in the schema so a schema-valid title is accepted.
TITLE = r"^[\s\S]*[^\s\x00-\x1f\x7f][\s\S]*$"


class NewChat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=TITLE,
        description="1-200 characters, not only spaces; omit: untitled",
    )


class ChatCreated(BaseModel):
    id: str = Field(description="the new conversation's id")
    title: str | None = Field(description="its title, or null")
    created_at: AwareDatetime = Field(description="when it was created")


class MessageOut(BaseModel):
    id: str = Field(description="the message's id (`persistence` names it)")
    role: Literal["user", "assistant"] = Field(description="who wrote it")
    content: str = Field(description="its text")
    created_at: AwareDatetime = Field(description="when it was stored")
    image_url: str | None = Field(default=None, description="the photo sent with it")
    intent: str | None = Field(default=None, description="what the answer was about")
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
    id: str = Field(description="the conversation's id")
    title: str | None = Field(description="its title, or null while untitled")
    messages: list[MessageOut] = Field(description="oldest first within the page")
    has_more: bool = Field(description="whether older messages are left")
    next_cursor: str | None = Field(description="send as `cursor` for the messages before these")
    created_at: AwareDatetime = Field(description="when it was created")

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

    title: str = Field(
        min_length=1, max_length=200, pattern=TITLE, description="1-200 characters, not only spaces"
    )


class SendMessage(BaseModel):
    """A message: the same rules as `/v1` (ChatDraft), in the client's field names."""

    model_config = ConfigDict(extra="forbid")

    # The same rules as ChatDraft's, so the document promises what `draft` accepts.
    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        pattern=NOT_BLANK,
        description="the question, in Korean or English (not blank, no control characters)",
    )
    image_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        pattern=IMAGE_URL,
        description="https, data:image/...;base64, or upload:<name>",
    )
    user_location: Location | None = Field(
        default=None, description="where the person is (WGS84), for places nearby"
    )
    model: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:/-]+$",
        description="the model to answer with (e.g. gpt-5.2); one this deployment cannot "
        "serve is answered by the default, and `done` says which answered",
    )

    def draft(self) -> ChatDraft:
        return ChatDraft(
            message=self.message,
            image_url=self.image_url,
            location=self.user_location,
            model=self.model,
        )


class MessageQueued(BaseModel):
    job_id: str = Field(description="the turn's job: its stream is at `stream_url`")
    stream_url: str = Field(description="/api/v1/chat/{job_id}/events")
    status: Literal["queued"] = Field(default="queued", description="always `queued`")


class InputSent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["location", "confirmation", "cancel"] = Field(
        description="a place (`location`), a yes (`confirmation`), or `cancel` the turn"
    )
    data: dict[str, Any] | None = Field(
        default=None, description='the answer: `{"district": "마포구"}`, or `{"value": ...}`'
    )


class InputReceived(BaseModel):
    status: Literal["received"] = Field(default="received", description="always `received`")
    job_id: str = Field(description="the job that carries the answered turn on")
