"""A worker whose queue holds only chats that are running already (its own, or claimed by
another worker) waits for a wake-up instead of polling Redis again at once. arq keeps a job in
its queue until the job ends, so each poll found it, started nothing, and polled again:
thousands of polls a second for as long as a chat ran (`bench/perf.py --only quiet`; a poll is
a ZRANGEBYSCORE, and a WATCH, EXISTS and ZSCORE more for another worker's job)."""

from __future__ import annotations

import asyncio
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.worker import func

from app.application.jobs import ChatJobRunner
from app.domain.chat import ChatRequest, ChatResult
from app.infrastructure.redis_jobs import keys, serialization
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier
from app.infrastructure.redis_jobs.worker import PUBLISHER, RUNNER, ChatWorker, chat
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # every test here reads or writes the Redis at TEST_REDIS_URL

WATCHED_S = 0.5  # a spinning worker polled hundreds of times in this long


class HeldChats:
    """Chats that run until the test lets them end (publishing nothing: the worker's finish
    step gives the stream its terminal event)."""

    def __init__(self) -> None:
        self.running = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, request: ChatRequest, job_id: str | None = None, **_: Any) -> ChatResult:
        self.running.set()
        await self.release.wait()
        return ChatResult(thread_id=request.thread_id, answer="캔류로 분리배출합니다.", intents=[])


class CountingWorker(ChatWorker):
    """The worker, counting its polls of the queue (arq calls `start_jobs` once per poll)."""

    polls = 0

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        self.polls += 1
        await super().start_jobs(job_ids)


def arq_redis() -> ArqRedis:
    redis = ArqRedis.from_url(REDIS_URL)
    redis.job_serializer = serialization.dumps  # what our submissions and workers read
    return redis


@pytest.fixture
async def pool() -> AsyncIterator[ArqRedis]:
    redis = arq_redis()
    yield redis
    await redis.aclose()


async def enqueue(pool: ArqRedis, queue: str) -> str:
    job_id = uuid.uuid4().hex
    payload = {"message": "캔 어떻게 버려?", "thread_id": f"t-{job_id}"}
    assert await pool.enqueue_job(chat.__name__, payload, _job_id=job_id, _queue_name=queue)
    return job_id


async def polls_while_watched(worker: CountingWorker) -> int:
    before = worker.polls
    await asyncio.sleep(WATCHED_S)
    return worker.polls - before


async def stop(worker: ChatWorker, running: asyncio.Task[None]) -> None:
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    with warnings.catch_warnings():  # arq 0.28 closes its pool with redis-py's old close()
        warnings.simplefilter("ignore", DeprecationWarning)
        await worker.close()


def worker_on(pool: ArqRedis, chats: HeldChats) -> tuple[str, CountingWorker]:
    queue = f"eco2:test:{uuid.uuid4().hex[:8]}"
    # idle_wait long: a worker that waits makes no poll while the test watches it.
    worker = CountingWorker(
        functions=[func(chat, name=chat.__name__)],
        queue_name=queue,
        redis_pool=arq_redis(),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
        idle_wait=60,
    )
    publisher = RedisStreamProgressNotifier(worker.pool)
    worker.ctx[PUBLISHER] = publisher
    worker.ctx[RUNNER] = ChatJobRunner(chats, publisher)
    return queue, worker


async def test_a_worker_running_a_chat_does_not_poll_in_a_loop(pool: ArqRedis) -> None:
    chats = HeldChats()
    queue, worker = worker_on(pool, chats)
    job_id = await enqueue(pool, queue)
    running = asyncio.create_task(worker.main())
    try:
        await asyncio.wait_for(chats.running.wait(), 60)
        assert await pool.zscore(queue, job_id) is not None  # arq keeps it queued meanwhile
        assert await polls_while_watched(worker) <= 1
        chats.release.set()
        deadline = time.monotonic() + 60
        while await pool.zscore(queue, job_id) is not None:  # arq's finish step removes it
            assert time.monotonic() < deadline, "the chat did not end"
            await asyncio.sleep(0.05)
    finally:
        await stop(worker, running)


async def test_a_worker_beside_another_worker_s_chat_does_not_poll_in_a_loop(
    pool: ArqRedis,
) -> None:
    chats = HeldChats()
    queue, worker = worker_on(pool, chats)
    job_id = await enqueue(pool, queue)
    # Another worker's claim, as arq writes it: this worker must not start the chat.
    await pool.set(keys.arq_in_progress_key(job_id), b"1", px=120_000)
    running = asyncio.create_task(worker.main())
    try:
        deadline = time.monotonic() + 60
        while worker.polls == 0:  # its first poll found the job, and left it
            assert time.monotonic() < deadline, "the worker did not poll"
            await asyncio.sleep(0.01)
        assert await polls_while_watched(worker) <= 1
        assert not chats.running.is_set()
    finally:
        await stop(worker, running)
        await pool.delete(keys.arq_in_progress_key(job_id), keys.arq_job_key(job_id), queue)
