"""The stream hub against hostile resume points and refused reads, on a real Redis: a bad
request ends with an error of its own and every other follower reads on to its terminal event.

Deadlines are generous bounds for a loaded machine, never measurements: a follower that stalls
fails the test by its deadline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from app.domain.errors import UnknownEventId
from app.domain.events import ProgressEvent, ProgressUpdate
from app.infrastructure.redis_jobs import keys
from app.infrastructure.redis_jobs.hub import StreamHub, UnreadableStream
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier, read_events
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # every test here reads or writes the Redis at TEST_REDIS_URL

DEADLINE = 60.0
QUEUED = ProgressUpdate(type="queued", data={"ahead": 0})
DONE = ProgressUpdate(type="done", data={"answer": "ok"})
HOSTILE = [
    "18446744073709551616-0",  # 2^64: matches the documented pattern, Redis refuses it
    "99999999999999999999-99999999999999999999",
    "0-18446744073709551616",
]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=8, timeout=20)
    client = Redis(connection_pool=pool)
    yield client
    await client.aclose()
    await pool.aclose()


@pytest.fixture
async def hub(redis: Redis) -> AsyncIterator[StreamHub]:
    hub = StreamHub(redis, block_ms=200, poll_seconds=0.2, open_wait=60)
    yield hub
    await hub.aclose()


@pytest.fixture
def publisher(redis: Redis) -> RedisStreamProgressNotifier:
    return RedisStreamProgressNotifier(redis, ttl_seconds=300)


async def started(
    hub: StreamHub, publisher: RedisStreamProgressNotifier, jobs: list[str]
) -> list[tuple[asyncio.Task[list[ProgressEvent]], asyncio.Event]]:
    """A follower per job, each past its backlog (its `queued` event) and reading live."""
    followers = []
    for job in jobs:
        await publisher.publish(job, QUEUED)
        live = asyncio.Event()
        followers.append((asyncio.create_task(_collect(hub, job, live)), live))
    for _, live in followers:
        await asyncio.wait_for(live.wait(), DEADLINE)
    return followers


async def _collect(hub: StreamHub, job: str, live: asyncio.Event) -> list[ProgressEvent]:
    events = []
    async for event in hub.follow(job):
        events.append(event)
        live.set()
    return events


def jobs(n: int) -> list[str]:
    return [uuid.uuid4().hex for _ in range(n)]


async def test_a_hostile_resume_point_is_refused_and_every_other_follower_ends(
    hub: StreamHub, publisher: RedisStreamProgressNotifier
) -> None:
    followed, fresh = jobs(20), jobs(1)[0]
    followers = await started(hub, publisher, followed)
    await publisher.publish(fresh, QUEUED)
    for job in (followed[0], fresh):  # a followed job and one the hub does not read yet
        for hostile in HOSTILE:
            with pytest.raises(UnknownEventId):
                await anext(hub.follow(job, hostile))
            with pytest.raises(UnknownEventId):
                await hub.check(job, hostile)
    for job in followed:
        await publisher.publish(job, DONE)
    results = await asyncio.wait_for(asyncio.gather(*(t for t, _ in followers)), DEADLINE)
    assert [[e.type for e in events] for events in results] == [["queued", "done"]] * 20


async def test_an_id_past_the_end_of_a_running_job_is_refused_and_stalls_no_one(
    hub: StreamHub, publisher: RedisStreamProgressNotifier
) -> None:
    (job,) = jobs(1)
    queued = await publisher.publish(job, QUEUED)
    assert queued is not None and queued.id is not None
    ms = int(queued.id.split("-")[0])
    future = f"{ms + 86_400_000}-0"
    # The hostile reader comes first, so its id is the one the hub would read from.
    with pytest.raises(UnknownEventId):
        await anext(hub.follow(job, future))
    with pytest.raises(UnknownEventId):
        await hub.check(job, future)
    live = asyncio.Event()
    follower = asyncio.create_task(_collect(hub, job, live))
    await asyncio.wait_for(live.wait(), DEADLINE)
    await publisher.publish(job, ProgressUpdate(type="stage", stage="intent", status="started"))
    await publisher.publish(job, DONE)
    events = await asyncio.wait_for(follower, DEADLINE)
    assert [e.type for e in events] == ["queued", "stage", "done"]


async def test_a_resume_at_or_past_the_terminal_event_ends_at_once(
    hub: StreamHub, publisher: RedisStreamProgressNotifier
) -> None:
    (job,) = jobs(1)
    await publisher.publish(job, QUEUED)
    stage = await publisher.publish(job, ProgressUpdate(type="stage", stage="intent"))
    done = await publisher.publish(job, DONE)
    assert stage is not None and stage.id and done is not None and done.id
    ms, seq = (int(p) for p in done.id.split("-"))
    past = [done.id, f"{ms}-{seq + 1}", f"{ms + 60_000}-0", "18446744073709551615-0"]
    for after in past:
        assert await hub.check(job, after)
        events = await asyncio.wait_for(_all(hub, job, after), DEADLINE)
        assert events == [], after
    before_done = await asyncio.wait_for(_all(hub, job, stage.id), DEADLINE)
    assert [e.type for e in before_done] == ["done"]
    assert hub.followed == 0


async def test_a_resume_at_or_past_a_batched_terminal_event_ends_at_once(
    hub: StreamHub, publisher: RedisStreamProgressNotifier
) -> None:
    # The terminal event shares its entry with the events before it: its id is "<entry>.<k>".
    (job,) = jobs(1)
    await publisher.publish(job, QUEUED)
    stage = ProgressUpdate(type="stage", stage="intent")
    done = await publisher.publish_batch(job, [stage, stage, DONE])
    assert done is not None and done.id and "." in done.id
    entry, _, k = done.id.partition(".")
    ms, seq = (int(p) for p in entry.split("-"))
    past = [done.id, f"{entry}.{int(k) + 1}", f"{ms}-{seq + 1}", f"{ms + 60_000}-0"]
    for after in past:
        assert await hub.check(job, after)
        events = await asyncio.wait_for(_all(hub, job, after), DEADLINE)
        assert events == [], after
    rest = await asyncio.wait_for(_all(hub, job, f"{entry}.{int(k) - 1}"), DEADLINE)
    assert [(e.type, e.id) for e in rest] == [("done", done.id)]
    assert hub.followed == 0


async def _all(hub: StreamHub, job: str, after: str | None = None) -> list[ProgressEvent]:
    return [event async for event in hub.follow(job, after)]


async def test_check_says_whether_the_job_exists_and_the_id_is_its_own(
    hub: StreamHub, publisher: RedisStreamProgressNotifier
) -> None:
    job, unknown = jobs(2)
    queued = await publisher.publish(job, QUEUED)
    assert queued is not None and queued.id
    assert await hub.check(job, None) and await hub.check(job, queued.id)
    assert await hub.check(job, "0-0")  # before the first event: from the start
    assert not await hub.check(unknown, None)
    with pytest.raises(UnknownEventId):
        await hub.check(job, "not-an-id")


async def test_a_stream_key_of_another_type_ends_only_its_own_followers(
    hub: StreamHub, publisher: RedisStreamProgressNotifier, redis: Redis
) -> None:
    spoiled, *others = jobs(5)
    followers = await started(hub, publisher, [spoiled, *others])
    # Replaced under the hub's read: XREAD over every followed stream is refused (WRONGTYPE).
    await redis.delete(keys.stream_key(spoiled))
    await redis.set(keys.stream_key(spoiled), "not a stream", ex=60)
    with pytest.raises(UnreadableStream):
        await asyncio.wait_for(followers[0][0], DEADLINE)
    for job in others:
        await publisher.publish(job, DONE)
    results = await asyncio.wait_for(asyncio.gather(*(t for t, _ in followers[1:])), DEADLINE)
    assert [[e.type for e in events] for events in results] == [["queued", "done"]] * 4


async def test_a_batch_entry_is_followed_and_resumed_event_by_event(
    hub: StreamHub, publisher: RedisStreamProgressNotifier, redis: Redis
) -> None:
    """Several events in one stream entry (issue 22): each has its own id (`E`, `E.1`, ...),
    a live follower gets every one in order, and a resume inside the entry misses nothing
    and repeats nothing."""
    (job,) = jobs(1)
    ((follower, _),) = await started(hub, publisher, [job])
    batch = [
        ProgressUpdate(type="stage", stage="intent", status="started"),
        ProgressUpdate(type="stage", stage="intent", status="completed"),
        ProgressUpdate(type="delta", stage="answer", data={"text": "헹궈서 "}),
    ]
    last = await publisher.publish_batch(job, batch)
    assert last is not None and last.id is not None and last.id.endswith(".2")
    entry = last.id.partition(".")[0]
    stored = await read_events(redis, job)
    assert [e.id for e in stored[1:]] == [entry, f"{entry}.1", f"{entry}.2"]
    assert [e.seq for e in stored] == [1, 2, 3, 4]
    resumed = [asyncio.create_task(_all(hub, job, after)) for after in (entry, f"{entry}.1")]
    for after in (entry, f"{entry}.1", f"{entry}.2"):
        assert await hub.check(job, after)
    await publisher.publish(job, DONE)
    results = await asyncio.wait_for(asyncio.gather(follower, *resumed), DEADLINE)
    assert [e.id for e in results[0]][1:4] == [entry, f"{entry}.1", f"{entry}.2"]
    assert [e.seq for e in results[0]] == [1, 2, 3, 4, 5]
    assert [e.seq for e in results[1]] == [3, 4, 5]
    assert [e.seq for e in results[2]] == [4, 5]
    after_batch = await asyncio.wait_for(_all(hub, job, f"{entry}.2"), DEADLINE)
    assert [e.type for e in after_batch] == ["done"]
    assert await asyncio.wait_for(_all(hub, job, after_batch[0].id), DEADLINE) == []


async def test_an_id_past_a_batch_of_a_running_job_is_refused(
    hub: StreamHub, publisher: RedisStreamProgressNotifier
) -> None:
    (job,) = jobs(1)
    await publisher.publish(job, QUEUED)
    pair = [ProgressUpdate(type="stage", stage="intent", status="started")] * 2
    last = await publisher.publish_batch(job, pair)
    assert last is not None and last.id is not None
    entry = last.id.partition(".")[0]
    for past in (f"{entry}.2", f"{entry}.9"):
        with pytest.raises(UnknownEventId):
            await hub.check(job, past)
        with pytest.raises(UnknownEventId):
            await anext(hub.follow(job, past))
    assert await hub.check(job, f"{entry}.1")
