"""Progress on a real Redis Stream: numbering, snapshot, idempotent terminal and answer."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.domain.events import ProgressUpdate
from app.infrastructure.progress.redis_streams import (
    RedisStreamProgressNotifier,
    answer_key,
    parse_entry,
    stream_key,
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url("redis://127.0.0.1:6379/0")
    yield client
    await client.aclose()


def delta(text: str) -> ProgressUpdate:
    return ProgressUpdate(type="delta", stage="answer", data={"text": text})


async def test_events_are_numbered_and_the_answer_is_snapshotted(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis, ttl_seconds=120)
    first = await notifier.publish(
        job, ProgressUpdate(type="stage", stage="intent", status="started")
    )
    await notifier.publish(job, delta("페트병은 "))
    await notifier.publish(job, delta("헹궈서 버립니다"))
    assert first is not None and first.seq == 1
    assert (await redis.get(answer_key(job))).decode() == "페트병은 헹궈서 버립니다"
    entries = await redis.xrange(stream_key(job))
    events = [parse_entry(entry_id, fields) for entry_id, fields in entries]
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[0]["stage"] == "intent" and events[1]["data"] == {"text": "페트병은 "}
    assert 0 < await redis.ttl(stream_key(job)) <= 120


async def test_a_rerun_cannot_add_a_second_answer_or_terminal_event(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis)
    answer = ProgressUpdate(type="answer", data={"text": "final"})
    assert await notifier.publish(job, answer) is not None
    assert await notifier.publish(job, answer) is None
    assert await notifier.publish(job, ProgressUpdate(type="done")) is not None
    assert await notifier.publish(job, ProgressUpdate(type="done")) is None
    assert await notifier.publish(job, ProgressUpdate(type="error")) is None
    assert await notifier.publish(job, delta("late")) is None
    types = [parse_entry(i, f)["type"] for i, f in await redis.xrange(stream_key(job))]
    assert types == ["answer", "done"]


async def test_the_stream_is_capped(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis, maxlen=100)
    for i in range(400):
        await notifier.publish(job, delta(str(i)))
    assert await redis.xlen(stream_key(job)) < 250  # approximate trimming (MAXLEN ~)
