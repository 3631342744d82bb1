"""A job arq's own steps fail on ends once, not each time its lease lapses (issue 20)."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from arq.connections import ArqRedis
from arq.worker import func

from app.application.jobs import ChatJobRunner
from app.domain.chat import ChatRequest, ChatResult
from app.infrastructure.redis_jobs import keys, serialization
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier, read_events
from app.infrastructure.redis_jobs.worker import PUBLISHER, RUNNER, ChatWorker, chat
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # every test here reads or writes the Redis at TEST_REDIS_URL


class NeverRuns:
    """The chats: a job arq fails on before it runs never reaches them."""

    async def run(self, request: ChatRequest, job_id: str | None = None, **_: Any) -> ChatResult:
        raise AssertionError("the job ran")


@pytest.fixture
async def pool() -> AsyncIterator[ArqRedis]:
    redis = ArqRedis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()


def worker_on(pool: ArqRedis, **options: Any) -> tuple[str, ChatWorker]:
    """A worker of a queue of its own (not started: the test calls its steps)."""
    queue = f"eco2:test:{uuid.uuid4().hex[:8]}"
    worker = ChatWorker(
        functions=[func(chat, name="chat")],
        queue_name=queue,
        redis_pool=pool,
        job_serializer=serialization.dumps,
        **options,
    )
    return queue, worker


async def test_a_job_arq_fails_on_before_it_runs_ends_with_one_error(pool: ArqRedis) -> None:
    # arq's plain JSON reader (no envelope check): its max-tries check then does arithmetic
    # on the planted string and raises inside arq, on every try.
    queue, worker = worker_on(pool, job_deserializer=json.loads)
    publisher = RedisStreamProgressNotifier(pool)
    worker.ctx[PUBLISHER] = publisher
    worker.ctx[RUNNER] = ChatJobRunner(NeverRuns(), publisher)  # the queue's ending goes here
    job_id = uuid.uuid4().hex
    planted = {"t": 1, "f": "chat", "a": [{"message": "캔?"}], "k": {}, "et": "soon"}
    await pool.set(keys.arq_job_key(job_id), serialization.dumps(planted))
    await pool.zadd(queue, {job_id: int(time.time() * 1000)})
    await worker.run_job(job_id, int(time.time() * 1000))
    events = await read_events(pool, job_id)
    assert [(e.type, e.data["kind"]) for e in events] == [("error", "failed")]
    assert await pool.exists(keys.arq_job_key(job_id)) == 0  # nothing left to run again
    assert await pool.zscore(queue, job_id) is None


async def test_a_worker_starved_for_two_beats_still_reads_as_running(pool: ArqRedis) -> None:
    # Under load 12-16 a worker's poll took longer than arq's one second of slack and the
    # gateway answered 503 no_worker while the worker was running chats (issue 20).
    queue, worker = worker_on(pool, health_check_interval=1)
    await worker.record_health()
    for key in (keys.queue_health_key(queue), keys.worker_key(queue, os.getpid())):
        lives_ms = await pool.pttl(key)
        assert lives_ms > 2 * 1000 + 500, (key, lives_ms)  # two missed beats and some
        await pool.delete(key)
