"""The job policy's terminal step for turns the queue ends by itself (tries used up, a timeout, a
cancellation): on real Redis and a real SQLite conversation store, no process killed. The e2e
versions (tests/e2e/test_conversation_faults.py) get there by killing workers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app.application.chat.recording import TurnRecorder
from app.application.jobs import ChatJobRunner
from app.application.ports.conversations import ConversationStore
from app.application.retry import RetryPolicy
from app.domain.chat import ChatRequest, ChatResult, Intent
from app.domain.conversations import MessageDraft
from app.domain.events import ErrorKind, ProgressEvent, failure
from app.domain.llm import TokenUsage
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier, read_events
from tests.support.conversation_stores import sqlite_backend
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # every test here reads or writes the Redis at TEST_REDIS_URL

OWNER = "guest-queue-endings"
TIMEOUT = failure(ErrorKind.TIMEOUT, "the chat took too long")


class UnusedTurns:
    """The runner's chat service, which these tests never reach: the queue ended the job."""

    async def run(
        self,
        request: ChatRequest,
        job_id: str | None = None,
        *,
        settle: Callable[[TokenUsage], Awaitable[None]] | None = None,
    ) -> ChatResult:
        raise AssertionError("the queue's terminal step runs no turn")


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ConversationStore]:
    async with sqlite_backend(tmp_path) as backend, backend.replica() as opened:
        yield opened


@pytest.fixture
def runner(redis: Redis, store: ConversationStore) -> ChatJobRunner:
    publisher = RedisStreamProgressNotifier(redis, ttl_seconds=60)
    recorder = TurnRecorder(store, retry=RetryPolicy(attempts=1))
    return ChatJobRunner(UnusedTurns(), publisher, recorder=recorder)


async def payload(store: ConversationStore, owner: str | None = OWNER) -> dict[str, Any]:
    conversation = await store.create(OWNER)
    request = ChatRequest(
        message="페트병 어떻게 버려요?", thread_id=conversation.id, conversation_owner=owner
    )
    return request.model_dump(mode="json")


async def terminal_events(redis: Redis, job_id: str) -> list[ProgressEvent]:
    return [e for e in await read_events(redis, job_id) if e.type in ("done", "error")]


async def test_a_turn_the_queue_ends_keeps_the_user_message_once(
    runner: ChatJobRunner, store: ConversationStore, redis: Redis
) -> None:
    job_id, sent = uuid.uuid4().hex, await payload(store)
    ended = await runner.ended_by_queue(job_id, sent, TIMEOUT)
    again = await runner.ended_by_queue(job_id, sent, TIMEOUT)  # a second finish step
    history = await store.history(OWNER, sent["thread_id"])
    assert ended is not None and ended.type == "error" and again is None
    assert [(m.role, m.content) for m in history.messages] == [("user", sent["message"])]
    persistence = ended.data["persistence"]
    assert persistence["user_message"] == history.messages[0].id
    assert persistence["assistant_message"] is None
    assert ended.data["kind"] == "timeout"
    assert len(await terminal_events(redis, job_id)) == 1


async def test_a_turn_recorded_with_its_answer_ends_done_from_the_store(
    runner: ChatJobRunner, store: ConversationStore, redis: Redis
) -> None:
    job_id, sent = uuid.uuid4().hex, await payload(store)
    answer = MessageDraft(
        content="라벨을 떼고 버리세요.",
        intent=str(Intent.WASTE),
        metadata={"sources": [], "usage": {"input_tokens": 3}, "model": "m"},
    )
    stored = await store.record_turn(
        OWNER, sent["thread_id"], job_id, MessageDraft(content=sent["message"]), answer
    )
    ended = await runner.ended_by_queue(job_id, sent, TIMEOUT)
    events = await read_events(redis, job_id)
    history = await store.history(OWNER, sent["thread_id"])
    assert ended is not None and ended.type == "done"
    assert [e.type for e in events] == ["answer", "done"]
    assert events[0].data["text"] == "라벨을 떼고 버리세요."
    assert stored.assistant_message is not None
    assert ended.data["persistence"]["assistant_message"] == stored.assistant_message.id
    assert ended.data["model"] == "m" and ended.data["intents"] == [str(Intent.WASTE)]
    assert len(history.messages) == 2  # nothing added


async def test_a_v1_turn_or_an_ended_one_writes_nothing(
    runner: ChatJobRunner, store: ConversationStore, redis: Redis
) -> None:
    v1_job, v1 = uuid.uuid4().hex, await payload(store, owner=None)
    ended = await runner.ended_by_queue(v1_job, v1, TIMEOUT)
    done_job, sent = uuid.uuid4().hex, await payload(store)
    publisher = RedisStreamProgressNotifier(redis, ttl_seconds=60)
    await publisher.publish(done_job, failure(ErrorKind.CANCELLED, "cancelled"))
    after_end = await runner.ended_by_queue(done_job, sent, TIMEOUT)
    unreadable = await runner.ended_by_queue(uuid.uuid4().hex, {"nonsense": 1}, TIMEOUT)
    assert ended is not None and "persistence" not in ended.data
    assert after_end is None and unreadable is not None
    for thread in (v1["thread_id"], sent["thread_id"]):
        assert (await store.history(OWNER, thread)).messages == []
