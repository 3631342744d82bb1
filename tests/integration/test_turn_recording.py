"""A stored conversation's turn through the real graph (offline LLM): both messages written once,
before the terminal event, with the persistence the event carries; a question back stored as the
assistant's message; an error turn keeps the user's message only; a `/v1` thread writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.application.chat.recording import TurnRecorder
from app.application.ports.conversations import ConversationStore, StoreUnavailable
from app.application.retry import RetryPolicy
from app.domain.chat import ChatRequest
from app.domain.conversations import Conversation, MessageDraft, RecordedTurn
from app.domain.events import ProgressEvent
from tests.support.conversation_stores import sqlite_backend
from tests.support.graph_kit import chat_kit

OWNER = "guest-" + "a" * 32
FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"
BULK_WASTE = {
    "weather": {"enabled": False},
    "bulk_waste": {"enabled": True, "path": str(FIXTURES / "FIXTURE_bulky_waste_fees.csv")},
}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ConversationStore]:
    async with sqlite_backend(tmp_path) as backend, backend.replica() as opened:
        yield opened


def of_type(events: list[ProgressEvent], kind: str) -> list[ProgressEvent]:
    return [e for e in events if e.type == kind]


async def ask(store: ConversationStore, chat: Conversation, *turns: tuple[str, str]) -> Any:
    """Each (message, job id) in turn on one chat runtime (its memory is the conversation's)."""
    async with chat_kit(conversations=store, services=BULK_WASTE) as (service, notifier, _):
        for message, job in turns:
            request = ChatRequest(message=message, thread_id=chat.id, conversation_owner=OWNER)
            result = await service.run(request, job_id=job)
        return result, notifier.events[job]


async def test_an_answered_turn_is_stored_once_before_done(store: ConversationStore) -> None:
    chat = await store.create(OWNER)
    result, events = await ask(store, chat, ("페트병 어떻게 버려요?", "job-1"))

    page = await store.history(OWNER, chat.id)
    user, answer = page.messages
    assert (user.role, user.content) == ("user", "페트병 어떻게 버려요?")
    assert (answer.role, answer.content, answer.intent) == ("assistant", result.answer, "waste")
    assert answer.metadata["sources"] and answer.metadata["usage"]["calls"] == result.usage.calls
    done = of_type(events, "done")[0].data
    assert done["persistence"] == {
        "conversation_id": chat.id,
        "user_id": OWNER,
        "user_message": user.id,
        "assistant_message": answer.id,
        "assistant_message_created_at": answer.created_at.isoformat(),
    }
    assert done["intents"] == ["waste"]

    # The same job again (a re-run after a crash): nothing new; `done` names the same messages.
    _, again = await ask(store, chat, ("페트병 어떻게 버려요?", "job-1"))
    assert (await store.get(OWNER, chat.id)).message_count == 2
    assert of_type(again, "done")[0].data["persistence"] == done["persistence"]


async def test_a_question_back_is_stored_as_the_answer(store: ConversationStore) -> None:
    chat = await store.create(OWNER)
    result, events = await ask(store, chat, ("소파 버리는 비용 얼마야?", "job-2"))

    assert result.needs_input is not None
    asked = of_type(events, "needs_input")[0].data
    user, question = (await store.history(OWNER, chat.id)).messages
    assert user.content == "소파 버리는 비용 얼마야?"
    assert question.content.startswith(result.needs_input.question)
    assert "마포구" in question.content  # its options are part of it
    assert asked["persistence"]["assistant_message"] == question.id


async def test_the_next_message_answers_the_question_and_both_turns_are_kept(
    store: ConversationStore,
) -> None:
    chat = await store.create(OWNER)
    result, _ = await ask(store, chat, ("소파 버리는 비용 얼마야?", "job-5"), ("마포구", "job-6"))

    assert result.needs_input is None and "11,111원" in result.answer
    contents = [(m.role, m.content) for m in (await store.history(OWNER, chat.id)).messages]
    assert [role for role, _ in contents] == ["user", "assistant", "user", "assistant"]
    assert contents[2] == ("user", "마포구") and contents[3][1] == result.answer


async def test_a_conversation_deleted_mid_turn_still_gets_its_answer(
    store: ConversationStore,
) -> None:
    chat = await store.create(OWNER)
    await store.delete(OWNER, chat.id)
    result, events = await ask(store, chat, ("페트병 어떻게 버려요?", "job-7"))
    assert result.answer and "persistence" not in of_type(events, "done")[0].data


async def test_a_v1_thread_writes_nothing(store: ConversationStore) -> None:
    chat = await store.create(OWNER)
    request = ChatRequest(message="페트병 어떻게 버려요?", thread_id=chat.id)
    async with chat_kit(conversations=store) as (service, notifier, _):
        await service.run(request, job_id="job-3")
    assert (await store.get(OWNER, chat.id)).message_count == 0
    assert "persistence" not in of_type(notifier.events["job-3"], "done")[0].data


class DownStore:
    """A store whose every write fails as an unreachable one does (the real adapters' error)."""

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self.tries = 0

    async def record_turn(
        self,
        owner: str,
        conversation_id: str,
        turn_key: str,
        user: MessageDraft,
        assistant: MessageDraft | None,
    ) -> RecordedTurn:
        self.tries += 1
        raise StoreUnavailable("down", store="test", retry_after=1)


async def test_a_store_that_stays_down_ends_the_turn_with_an_error(
    store: ConversationStore,
) -> None:
    chat = await store.create(OWNER)
    down = DownStore(store)
    request = ChatRequest(
        message="페트병 어떻게 버려요?", thread_id=chat.id, conversation_owner=OWNER
    )

    async def no_wait(_: float) -> None:
        return None

    retry = RetryPolicy(attempts=3, sleep=no_wait)
    recorder = TurnRecorder(down, retry=retry)  # type: ignore[arg-type]
    async with chat_kit(recorder=recorder) as (service, notifier, _):
        with pytest.raises(StoreUnavailable):
            await service.run(request, job_id="job-4")
    assert down.tries == 3
    assert not of_type(notifier.events["job-4"], "done")
    (error,) = of_type(notifier.events["job-4"], "error")
    assert error.data["kind"] == "store_unavailable"
    assert "persistence" not in error.data
