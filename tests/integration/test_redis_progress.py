"""Progress on a real Redis Stream: numbering, attempts, idempotent terminal and answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from arq.connections import ArqRedis
from redis.asyncio import Redis

from app.domain.chat import ChatRequest
from app.domain.errors import InputExpired
from app.domain.events import ProgressUpdate
from app.domain.jobs import JobState, fold_events
from app.infrastructure.redis_jobs.hub import StreamHub
from app.infrastructure.redis_jobs.keys import meta_key, stream_key
from app.infrastructure.redis_jobs.liveness import Reaper
from app.infrastructure.redis_jobs.publisher import (
    CoalescingProgressNotifier,
    RedisStreamProgressNotifier,
    entry_events,
    read_events,
)
from app.infrastructure.redis_jobs.queue import ArqChatJobs
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # every test here reads or writes the Redis at TEST_REDIS_URL


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def delta(text: str) -> ProgressUpdate:
    return ProgressUpdate(type="delta", stage="answer", data={"text": text})


async def test_events_are_numbered_and_read_back_in_order(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis, ttl_seconds=120)
    first = await notifier.publish(
        job, ProgressUpdate(type="stage", stage="intent", status="started")
    )
    await notifier.publish(job, delta("페트병은 "))
    await notifier.publish(job, delta("헹궈서 버립니다"))
    assert first is not None and first.seq == 1 and first.id is not None
    events = await read_events(redis, job)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].id == first.id and events[0].stage == "intent"
    assert events[1].data == {"text": "페트병은 "}
    status = fold_events(job, events)
    assert status.state is JobState.RUNNING and status.answer == "페트병은 헹궈서 버립니다"
    assert 0 < await redis.ttl(stream_key(job)) <= 120


async def test_a_new_attempt_voids_the_partial_text_of_the_dead_one(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis)
    await notifier.publish(job, delta("half an ans"))
    rerun = ProgressUpdate(type="stage", stage="attempt", status="started", data={"attempt": 2})
    announced = await notifier.publish_attempt(job, rerun, attempt=2)
    later = await notifier.publish(job, delta("the whole answer"))
    assert announced is not None and announced.attempt == 2
    assert later is not None and later.attempt == 2
    events = await read_events(redis, job)
    assert [e.attempt for e in events] == [1, 2, 2]
    assert fold_events(job, events).answer == "the whole answer"


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
    types = [e.type for i, f in await redis.xrange(stream_key(job)) for e in entry_events(i, f)]
    assert types == ["answer", "done"]


async def test_the_stream_is_capped(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis, maxlen=100)
    for i in range(400):
        await notifier.publish(job, delta(str(i)))
    assert await redis.xlen(stream_key(job)) < 250  # approximate trimming (MAXLEN ~)


async def test_coalesced_events_keep_their_order_and_text_in_fewer_entries(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = CoalescingProgressNotifier(RedisStreamProgressNotifier(redis), window_ms=1000)
    started = ProgressUpdate(type="stage", stage="answer", status="started")
    assert await notifier.publish(job, started) is None  # buffered, not yet written
    for word in ("라벨을 ", "떼고 ", "헹굽니다."):
        await notifier.publish(job, delta(word))
    assert await read_events(redis, job) == []
    # The answer waits for the ending that follows it: one step, one entry for all of them.
    assert await notifier.publish(job, ProgressUpdate(type="answer", data={"text": "x"})) is None
    assert await read_events(redis, job) == []
    done = await notifier.publish(job, ProgressUpdate(type="done"))
    events = await read_events(redis, job)
    assert done is not None and done.seq == 4  # the buffer went out first, in order
    assert [(e.type, e.data) for e in events] == [
        ("stage", {}),
        ("delta", {"text": "라벨을 떼고 헹굽니다."}),
        ("answer", {"text": "x"}),
        ("done", {}),
    ]
    assert await redis.xlen(stream_key(job)) == 1


async def test_a_quiet_buffer_flushes_on_its_own(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = CoalescingProgressNotifier(RedisStreamProgressNotifier(redis), window_ms=10)
    await notifier.publish(job, delta("on its own"))
    for _ in range(200):
        if await read_events(redis, job):
            break
        await asyncio.sleep(0.01)
    assert [e.data["text"] for e in await read_events(redis, job)] == ["on its own"]


async def test_entries_that_are_not_events_are_skipped(redis: Redis) -> None:
    """Planted junk in a chat's stream (issue 20): readers skip it instead of failing."""
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis)
    await notifier.publish(job, delta("before"))
    await redis.xadd(stream_key(job), {"junk": "x"})
    await redis.xadd(stream_key(job), {"seq": "9", "job_id": "another", "type": "done", "ts": "1"})
    await redis.xadd(stream_key(job), {"seq": "x", "job_id": job, "type": "done", "ts": "1"})
    await redis.xadd(stream_key(job), {"seq": "3", "job_id": job, "type": "nope", "ts": "1"})
    await notifier.publish(job, delta("after"))
    events = await read_events(redis, job)
    assert [e.data["text"] for e in events] == ["before", "after"]


async def test_a_meta_of_the_wrong_type_is_rebuilt_and_an_ended_job_stays_ended(
    redis: Redis,
) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis)
    await notifier.publish(job, delta("text"))
    await notifier.publish(job, ProgressUpdate(type="done"))
    await redis.delete(meta_key(job))
    await redis.set(meta_key(job), "not a hash")
    assert await notifier.terminal(job) is None  # unreadable: as if absent, no WRONGTYPE
    # What a worker's finish step publishes after every job: dropped, the job had ended.
    assert await notifier.publish(job, ProgressUpdate(type="error")) is None
    assert [e.type for e in await read_events(redis, job)] == ["delta", "done"]
    assert await notifier.terminal(job) == "done"

    running = f"job-{uuid.uuid4().hex[:8]}"
    await notifier.publish(running, delta("a"))
    await redis.delete(meta_key(running))
    await redis.set(meta_key(running), "not a hash")
    later = await notifier.publish(running, delta("b"))
    assert later is not None and later.seq == 2  # seq goes on from the stream


async def test_a_batch_is_one_entry_whose_events_keep_their_ids_and_numbers(redis: Redis) -> None:
    """One stream entry per batch (issue 22): one XADD instead of one per event."""
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis)
    await notifier.publish(job, ProgressUpdate(type="queued"))
    batch = [
        ProgressUpdate(type="stage", stage="intent", status="started"),
        ProgressUpdate(type="stage", stage="intent", status="completed", data={"n": [1, "둘"]}),
        ProgressUpdate(type="answer", data={"text": "x"}),
        ProgressUpdate(type="answer", data={"text": "a second answer: dropped"}),
        ProgressUpdate(type="done"),
        ProgressUpdate(type="delta", stage="answer", data={"text": "after the end: dropped"}),
    ]
    last = await notifier.publish_batch(job, batch)
    assert last is None  # the batch's last event was dropped (after the terminal event)
    assert await redis.xlen(stream_key(job)) == 2
    events = await read_events(redis, job)
    entry = events[1].id
    assert [(e.id, e.seq, e.type) for e in events] == [
        (events[0].id, 1, "queued"),
        (entry, 2, "stage"),
        (f"{entry}.1", 3, "stage"),
        (f"{entry}.2", 4, "answer"),
        (f"{entry}.3", 5, "done"),
    ]
    assert events[2].data == {"n": [1, "둘"]} and events[2].status == "completed"
    assert await notifier.terminal(job) == "done"
    # A meta rebuilt from the stream (planted as another type) goes on after the batch's last.
    running = f"job-{uuid.uuid4().hex[:8]}"
    await notifier.publish_batch(running, batch[:2])
    await redis.delete(meta_key(running))
    await redis.set(meta_key(running), "not a hash")
    later = await notifier.publish(running, delta("c"))
    assert later is not None and later.seq == 3


async def test_a_batch_entry_that_does_not_parse_is_skipped_whole(redis: Redis) -> None:
    job = f"job-{uuid.uuid4().hex[:8]}"
    notifier = RedisStreamProgressNotifier(redis)
    await notifier.publish(job, delta("before"))
    common = {"seq": "2", "job_id": job, "type": "delta", "ts": "1", "n": "2"}
    for junk in (
        "not json",
        "[]",
        '{"a": 1}',
        '[["delta"]]',
        "[" + '["delta","","",{}],' * 64 + "1]",
    ):
        await redis.xadd(stream_key(job), {**common, "events": junk})
    await notifier.publish(job, delta("after"))
    assert [e.data["text"] for e in await read_events(redis, job)] == ["before", "after"]


def chat_jobs(arq: ArqRedis, ttl: int = 3600) -> tuple[ArqChatJobs, RedisStreamProgressNotifier]:
    publisher = RedisStreamProgressNotifier(arq, ttl_seconds=ttl)
    jobs = ArqChatJobs(
        arq,
        publisher,
        StreamHub(arq),
        Reaper(arq, publisher, grace_seconds=30),
        queue_name=f"eco2:test:{uuid.uuid4().hex[:8]}",
        require_worker=False,
    )
    return jobs, publisher


async def test_a_chat_that_ends_soon_after_its_submission_keeps_its_ttl_without_a_refresh(
    redis: Redis,
) -> None:
    """A submission's keys live ttl and a quarter more, so a prompt ending needs no EXPIRE
    (issue 22); an ending after that quarter sets ttl again. Either way they live ttl or more
    after the terminal event, which resumes and status need."""
    ttl, grace = 400, 100
    arq = ArqRedis.from_url(REDIS_URL)
    jobs, publisher = chat_jobs(arq, ttl)
    try:
        prompt, late = [
            await jobs.submit(ChatRequest(message="캔?", thread_id=uuid.uuid4().hex))
            for _ in range(2)
        ]
        # `late` was submitted more than a quarter of the ttl ago.
        since = int(await redis.hget(meta_key(late.job_id), "since") or 0)
        await redis.hset(meta_key(late.job_id), "since", str(since - grace * 1000 - 1))
        for ticket in (prompt, late):
            assert ttl < await redis.ttl(stream_key(ticket.job_id)) <= ttl + grace
            await publisher.publish(ticket.job_id, ProgressUpdate(type="done"))
        for key in (stream_key, meta_key):
            assert ttl < await redis.ttl(key(prompt.job_id)) <= ttl + grace
            assert ttl - 60 < await redis.ttl(key(late.job_id)) <= ttl
    finally:
        await arq.aclose()


async def test_a_question_past_its_time_takes_no_answer_before_any_sweep(redis: Redis) -> None:
    """Submissions do not sweep expired questions first (issue 22): the submission step
    itself refuses to take an answer for one, and a plain message waits its turn."""
    arq = ArqRedis.from_url(REDIS_URL)
    jobs, publisher = chat_jobs(arq)
    try:
        thread = uuid.uuid4().hex
        paused = await jobs.submit(ChatRequest(message="소파 비용?", thread_id=thread))
        asked = {"question": "어느 구예요?", "expires_at": time.time() - 1}
        await publisher.publish(paused.job_id, ProgressUpdate(type="needs_input", data=asked))
        message = await jobs.submit(ChatRequest(message="마포구", thread_id=thread))
        assert message.turns_ahead == 1  # behind the expired question, not its answer
        assert [e.type for e in await read_events(redis, paused.job_id)][-1] == "needs_input"
        with pytest.raises(InputExpired):
            await jobs.submit(
                ChatRequest(message="마포구", thread_id=thread, answers_question=True),
                answering=paused.job_id,
            )
        ended = await read_events(redis, paused.job_id)
        assert (ended[-1].type, ended[-1].data["kind"]) == ("error", "input_expired")
        assert await redis.zscore(jobs._queue, message.job_id) is not None  # its turn now
    finally:
        await arq.aclose()
