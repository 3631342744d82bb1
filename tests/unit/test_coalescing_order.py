"""A job's buffered events reach Redis in the order they were published, whatever each send
waits for. A timer's flush still waiting for Redis while the next batch went out on another
connection put a turn's photo and lookup stages after its answer, and once after its `done`,
where the publish step drops them: the chat page showed the turn without them (docs/faults.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.domain.events import ProgressEvent, ProgressUpdate
from app.infrastructure.redis_jobs.publisher import CoalescingProgressNotifier


class SlowFirstSend:
    """The inner notifier: records each send as it starts and ends; the first waits."""

    def __init__(self) -> None:
        self.log: list[tuple[str, list[str]]] = []
        self.first_started = asyncio.Event()
        self.release = asyncio.Event()

    async def _send(self, updates: list[ProgressUpdate]) -> None:
        names = [u.stage or u.type for u in updates]
        self.log.append(("start", names))
        if not self.first_started.is_set():
            self.first_started.set()
            await self.release.wait()
        self.log.append(("end", names))

    async def publish_many(self, job_id: str, updates: list[ProgressUpdate]) -> None:
        await self._send(updates)

    async def publish_batch(
        self, job_id: str, updates: list[ProgressUpdate], **_: Any
    ) -> ProgressEvent | None:
        await self._send(updates)
        return None


def stage(name: str) -> ProgressUpdate:
    return ProgressUpdate(type="stage", stage=name, status="completed")


async def test_a_send_waits_for_the_one_before_it() -> None:
    inner = SlowFirstSend()
    notifier = CoalescingProgressNotifier(inner, window_ms=1)  # type: ignore[arg-type]
    await notifier.publish("job", stage("vision"))
    await asyncio.wait_for(inner.first_started.wait(), 30)  # the timer's flush, held up
    await notifier.publish("job", stage("answer"))
    done = asyncio.create_task(notifier.publish("job", ProgressUpdate(type="done")))
    await asyncio.sleep(0.05)
    assert inner.log == [("start", ["vision"])]  # the `done` batch waits its turn
    inner.release.set()
    await asyncio.wait_for(done, 30)
    assert inner.log == [
        ("start", ["vision"]),
        ("end", ["vision"]),
        ("start", ["answer", "done"]),
        ("end", ["answer", "done"]),
    ]


async def test_nothing_of_a_job_is_kept_between_sends() -> None:
    """However its chat ends (arq's side publishes some endings without this notifier)."""
    inner = SlowFirstSend()
    inner.first_started.set()
    notifier = CoalescingProgressNotifier(inner, window_ms=1)  # type: ignore[arg-type]
    await notifier.publish("job", stage("answer"))
    await notifier.flush("job")
    assert notifier._turns == {} and notifier._batches == {}
    await notifier.publish("job", ProgressUpdate(type="done"))
    assert notifier._turns == {} and notifier._batches == {}


class Recorder:
    """The inner notifier: records each batch; the first `fail` sends raise as Redis down."""

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[list[str]] = []
        self.fail = fail

    async def publish_many(self, job_id: str, updates: list[ProgressUpdate]) -> None:
        await self.publish_batch(job_id, updates)

    async def publish_batch(
        self, job_id: str, updates: list[ProgressUpdate], **_: Any
    ) -> ProgressEvent | None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("Redis is away")
        self.sent.append([u.type for u in updates])
        return None


ANSWER = ProgressUpdate(type="answer", data={"text": "x"})


async def until(done: Callable[[], bool]) -> None:
    """Wait for a timer's send, however slow the machine (30 s at most)."""
    for _ in range(3000):
        if done():
            return
        await asyncio.sleep(0.01)


async def test_an_answer_goes_out_with_the_ending_that_follows_it() -> None:
    inner = Recorder()
    notifier = CoalescingProgressNotifier(inner, window_ms=10_000)  # type: ignore[arg-type]
    await notifier.publish("job", stage("answer"))
    assert await notifier.publish("job", ANSWER) is None  # held
    await notifier.publish("job", ProgressUpdate(type="done"))
    assert inner.sent == [["stage", "answer", "done"]]


async def test_an_answer_alone_goes_out_after_the_window() -> None:
    inner = Recorder()
    notifier = CoalescingProgressNotifier(inner, window_ms=1)  # type: ignore[arg-type]
    await notifier.publish("job", ANSWER)
    await until(lambda: bool(inner.sent))
    assert inner.sent == [["answer"]]


async def test_an_answer_the_window_could_not_send_goes_with_the_next_event() -> None:
    """Redis away for longer than the retries: the held answer is not dropped."""
    inner = Recorder(fail=1)
    notifier = CoalescingProgressNotifier(inner, window_ms=1)  # type: ignore[arg-type]
    await notifier.publish("job", ANSWER)
    await until(lambda: not inner.fail)
    await notifier.publish("job", ProgressUpdate(type="done"))
    assert inner.sent == [["answer", "done"]]


async def test_an_event_after_a_held_answer_sends_both_within_the_window() -> None:
    """After a failed send, a best-effort event does not wait for the job's next durable one."""
    inner = Recorder(fail=1)
    notifier = CoalescingProgressNotifier(inner, window_ms=1)  # type: ignore[arg-type]
    await notifier.publish("job", ANSWER)
    await until(lambda: not inner.fail)
    await notifier.publish("job", stage("followup"))
    await until(lambda: bool(inner.sent))
    assert inner.sent == [["answer", "stage"]]
