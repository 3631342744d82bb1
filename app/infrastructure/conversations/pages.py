"""Pages from rows read one past the page (so the store knows whether more follow), the same
for every adapter."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.conversations import Conversation, ConversationPage, Message, MessagePage
from app.infrastructure.conversations.cursors import CursorCodec


def conversation_page(
    codec: CursorCodec, owner: str, rows: Sequence[Conversation], limit: int
) -> ConversationPage:
    """`rows`: up to limit + 1 conversations, most recent activity first."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return ConversationPage(conversations=page)
    last = page[-1]
    return ConversationPage(
        conversations=page, next_cursor=codec.list_cursor(owner, last.last_activity, last.id)
    )


def message_page(
    codec: CursorCodec,
    owner: str,
    conversation: Conversation,
    rows: Sequence[tuple[int, Message]],
    limit: int,
) -> MessagePage:
    """`rows`: up to limit + 1 (seq, message) pairs, newest first; the page is oldest first."""
    newest_first = list(rows[:limit])
    messages = [message for _, message in reversed(newest_first)]
    if len(rows) <= limit or not newest_first:
        return MessagePage(conversation=conversation, messages=messages)
    oldest_seq = newest_first[-1][0]
    cursor = codec.history_cursor(owner, conversation.id, oldest_seq)
    return MessagePage(conversation=conversation, messages=messages, next_cursor=cursor)
