"""The retry policy every store step of a chat uses: what it retries, for how long, how often."""

from __future__ import annotations

import pytest

from app.application.retry import RetryPolicy


class Down(Exception):
    pass


class Clock:
    """Time that passes only when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Flaky:
    """Fails `failures` times with `error`, then answers."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or Down("down")
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def policy(clock: Clock, **options: float) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, clock=clock, **options)  # type: ignore[arg-type]


async def test_an_outage_shorter_than_the_deadline_is_waited_out_with_backoff() -> None:
    clock = Clock()
    step = Flaky(failures=7)
    result = await policy(clock, deadline=60, first_delay=0.1, max_delay=2).run(
        step, transient=Down, what="test"
    )
    assert result == "ok" and step.calls == 8
    assert clock.slept == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0])


async def test_an_outage_past_the_deadline_raises_the_last_error() -> None:
    clock = Clock()
    step = Flaky(failures=1000)
    with pytest.raises(Down):
        await policy(clock, deadline=10, first_delay=1, max_delay=1).run(
            step, transient=Down, what="test"
        )
    assert sum(clock.slept) <= 10 and step.calls == 11  # tries at 0, 1, ..., 10 s


async def test_the_deadline_counts_from_the_first_failure_not_the_first_try() -> None:
    clock = Clock()

    async def slow_then_down() -> str:
        clock.now += 50  # a slow success would not use the deadline up either
        raise Down("down")

    with pytest.raises(Down):
        await policy(clock, deadline=5, first_delay=1, max_delay=1).run(
            slow_then_down, transient=Down, what="test"
        )
    assert clock.slept == [1.0]  # 50 s per try: the second failure is past the deadline


async def test_errors_that_are_not_transient_are_never_retried() -> None:
    clock = Clock()
    step = Flaky(failures=1, error=ValueError("a bug"))
    with pytest.raises(ValueError):
        await policy(clock).run(step, transient=Down, what="test")
    assert step.calls == 1 and clock.slept == []


async def test_attempts_caps_the_tries() -> None:
    clock = Clock()
    step = Flaky(failures=5)
    with pytest.raises(Down):
        await policy(clock, attempts=3).run(step, transient=Down, what="test")
    assert step.calls == 3
    one = Flaky(failures=1)
    with pytest.raises(Down):  # attempts=1: one try, as the gateway's image store
        await policy(clock, attempts=1).run(one, transient=Down, what="test")
    assert one.calls == 1
