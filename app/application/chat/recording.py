"""A stored conversation's turn, written by the step that ends it: before the terminal event goes
out, so the conversation's detail has both messages by the time a client sees `done`.

Exactly once per job (the turn key): a re-run of the job, a worker killed after the write, a
second delivery, all find the turn recorded and get the same messages back. A store that is
briefly unreachable is tried again by the chat's retry policy; after that the turn ends `error`
(`store_unavailable`) rather than answering something history will not show.
"""

from __future__ import annotations

from typing import Any

import structlog

from app.application.ports.conversations import ConversationStore, StoreUnavailable
from app.application.retry import RetryPolicy
from app.domain.chat import ChatRequest, ChatResult, InputRequest
from app.domain.conversations import ConversationNotFound, MessageDraft, RecordedTurn
from app.domain.events import ProgressUpdate

log = structlog.get_logger(__name__)


class TurnRecorder:
    def __init__(self, store: ConversationStore, *, retry: RetryPolicy | None = None) -> None:
        self._store = store
        self._retry = retry or RetryPolicy()

    @classmethod
    def over(
        cls, store: ConversationStore | None, retry: RetryPolicy | None = None
    ) -> TurnRecorder | None:
        """A recorder over the store, or none where the process keeps no conversations."""
        return None if store is None else cls(store, retry=retry)

    async def answered(
        self, job_id: str, request: ChatRequest, result: ChatResult
    ) -> RecordedTurn | None:
        """Both messages of an answered turn; the `persistence` the terminal event carries."""
        metadata: dict[str, Any] = {
            "sources": [s.model_dump(exclude_none=True) for s in result.sources],
            "usage": result.usage.model_dump(),
            "model": result.model,
            "provider": result.provider,
        }
        if result.failed_stages:
            metadata["failed_stages"] = result.failed_stages
        if result.grade is not None:
            metadata["grade"] = result.grade.model_dump(mode="json")
        intent = str(result.intents[0]) if result.intents else None
        assistant = MessageDraft(content=result.answer, intent=intent, metadata=metadata)
        return await self._record(job_id, request, assistant)

    async def asked(
        self, job_id: str, request: ChatRequest, asked: InputRequest
    ) -> RecordedTurn | None:
        """A turn that asked back: the question (with its options) is the assistant's message."""
        assistant = MessageDraft(
            content=asked.said,
            metadata={"needs_input": asked.model_dump()},
        )
        return await self._record(job_id, request, assistant)

    async def failed(self, job_id: str, request: ChatRequest) -> RecordedTurn | None:
        """A turn that ended `error`: the user's message, and no answer."""
        return await self._record(job_id, request, None)

    async def _record(
        self, job_id: str, request: ChatRequest, assistant: MessageDraft | None
    ) -> RecordedTurn | None:
        """None for a /v1 thread (memory only). A turn recorded before (a re-run) comes back as
        it was stored then, so what the client is told is what history shows."""
        owner = request.conversation_owner
        if owner is None:
            return None
        user = MessageDraft(content=request.message, image_url=request.image_url)
        try:  # idempotent by the turn key: safe to try again
            turn = await self._retry.run(
                lambda: self._store.record_turn(owner, request.thread_id, job_id, user, assistant),
                transient=StoreUnavailable,
                what="conversation.record",
            )
        except ConversationNotFound:
            # Deleted while the turn ran: the answer still goes out, and history has none.
            log.info("conversation.deleted_mid_turn", job_id=job_id)
            return None
        if not turn.created:
            log.info("conversation.turn_recorded_before", job_id=job_id)
        return turn


def persistence(owner: str, turn: RecordedTurn) -> dict[str, Any]:
    """What the client's `done` carries about the stored turn."""
    answer = turn.assistant_message
    return {
        "conversation_id": turn.conversation_id,
        "user_id": owner,
        "user_message": turn.user_message.id,
        "assistant_message": answer.id if answer else None,
        "assistant_message_created_at": answer.created_at.isoformat() if answer else None,
    }


def stored_ending(owner: str, turn: RecordedTurn) -> list[ProgressUpdate] | None:
    """The `answer` and `done` of a turn recorded with its answer, rebuilt from what history
    holds: for a terminal step that finds the turn stored but its ending never published (the
    worker lost Redis, or died, between the write and `done`). None for a turn with no answer,
    or one that asked back (its question is not an answer)."""
    answer = turn.assistant_message
    if answer is None or "needs_input" in answer.metadata:
        return None
    metadata = answer.metadata
    done: dict[str, Any] = {
        "failed_stages": list(metadata.get("failed_stages", [])),
        "usage": metadata.get("usage", {}),
        "intents": [answer.intent] if answer.intent else [],
        "model": metadata.get("model"),
        "provider": metadata.get("provider"),
        "persistence": persistence(owner, turn),
    }
    if "grade" in metadata:
        done["grade"] = metadata["grade"]
    text = {"text": answer.content, "sources": list(metadata.get("sources", []))}
    return [ProgressUpdate(type="answer", data=text), ProgressUpdate(type="done", data=done)]
