"""A worker told to stop (SIGTERM: arq stops taking jobs and lets the running ones finish)
waits for its chats instead of polling Redis in a loop: it polled at full CPU through the
whole grace period, and the more it polled, the likelier a cancellation met a finished send
(tests/integration/test_redis_cancellation.py)."""

from __future__ import annotations

import asyncio

from arq.worker import func

from app.infrastructure.redis_jobs.worker import ChatWorker, chat


def stopping_worker() -> ChatWorker:
    worker = ChatWorker(
        functions=[func(chat, name="chat")], queue_name="eco2:test:stop", idle_wait=60
    )
    worker.allow_pick_jobs = False  # what arq's SIGTERM handler does first
    return worker


async def test_a_stopping_worker_waits_until_a_chat_ends() -> None:
    worker = stopping_worker()
    waiting = asyncio.create_task(worker._wait_for_work())
    await asyncio.sleep(0.2)
    assert not waiting.done()  # it returned at once, and arq's loop polled again
    worker._slot_freed.set()  # a running chat ended
    await asyncio.wait_for(waiting, 30)


async def test_its_wait_ends_when_its_loop_is_cancelled() -> None:
    worker = stopping_worker()
    waiting = asyncio.create_task(worker._wait_for_work())
    await asyncio.sleep(0.2)
    waiting.cancel()  # arq, once the grace period is over
    done, _ = await asyncio.wait({waiting}, timeout=30)
    assert done and waiting.cancelled()
