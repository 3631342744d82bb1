"""The conversation store: a principal's conversations and the messages of their turns."""

from __future__ import annotations

from typing import Protocol

from app.application.ports.llm import ProviderUnavailable
from app.domain.conversations import (
    Conversation,
    ConversationPage,
    MessageDraft,
    MessagePage,
    RecordedTurn,
)


class StoreUnavailable(ProviderUnavailable):
    """The conversation store cannot be reached now: nothing was written; try again after
    `retry_after` seconds."""

    def __init__(self, message: str, *, store: str, retry_after: float) -> None:
        super().__init__(message, provider=store, retry_after=retry_after)
        self.store = store


class ConversationStore(Protocol):
    """Every method is scoped to `owner`: another principal's conversation, or a deleted one,
    is ConversationNotFound. Bad input raises a ConversationInputError (InvalidTitle,
    InvalidCursor, InvalidPageSize) and writes nothing; a store that cannot be reached raises
    StoreUnavailable, having written nothing."""

    async def migrate(self) -> None:
        """Create the tables and indexes if missing (safe to run again, and concurrently)."""

    async def health(self) -> str:
        """ "ok", or what is wrong (for readiness checks; never raises)."""

    async def create(self, owner: str, title: str | None = None) -> Conversation:
        """A new, empty conversation of `owner`."""

    async def list(
        self, owner: str, limit: int = 20, cursor: str | None = None
    ) -> ConversationPage:
        """`owner`'s conversations, most recent activity first, `limit` (1-100) at a time;
        `cursor` is a page's `next_cursor` and continues after that page."""

    async def get(self, owner: str, conversation_id: str) -> Conversation:
        """One conversation."""

    async def history(
        self, owner: str, conversation_id: str, limit: int = 20, cursor: str | None = None
    ) -> MessagePage:
        """The latest `limit` messages (oldest first within the page); `cursor` is a page's
        `next_cursor` and gives the messages before that page."""

    async def rename(self, owner: str, conversation_id: str, title: str) -> Conversation:
        """Set the title (1-200 characters)."""

    async def delete(self, owner: str, conversation_id: str) -> None:
        """Soft delete: gone from lists and details; deleting again is ConversationNotFound."""

    async def record_turn(
        self,
        owner: str,
        conversation_id: str,
        turn_key: str,
        user: MessageDraft,
        assistant: MessageDraft | None,
    ) -> RecordedTurn:
        """Store a turn's messages (the user's, and the assistant's unless the turn failed) in
        one transaction, with the conversation's count, preview and last activity. Exactly
        once per `turn_key`: a later call with the same key changes nothing and returns what
        was stored then (`created` False)."""
