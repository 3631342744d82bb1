"""The circuit breaker per provider: open after repeated retryable failures, skipped while
open, one probe after the cooldown, closed again on success."""

from __future__ import annotations

import pytest

from app.application.ports.llm import BadRequest, CircuitOpen, ProviderUnavailable
from app.infrastructure.llm.breaker import BreakerState, CircuitBreaker
from app.infrastructure.llm.fallback import FallbackLLM
from tests.fakes import FakeLLM


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Flaky(FakeLLM):
    """Fails while `down`, answers otherwise; counts the calls that reached it."""

    def __init__(self) -> None:
        super().__init__(["primary answer"])
        self.down = True
        self.calls = 0

    async def generate(self, prompt: object, **kwargs: object) -> str:
        self.calls += 1
        if self.down:
            raise ProviderUnavailable("503", provider="openai", status=503)
        return await super().generate(prompt)  # type: ignore[arg-type]


def chain(clock: Clock) -> tuple[FallbackLLM, Flaky]:
    primary = Flaky()
    breakers = [
        CircuitBreaker("openai", failures=3, cooldown_seconds=30, clock=clock),
        CircuitBreaker("offline", failures=3, cooldown_seconds=30, clock=clock),
    ]
    return FallbackLLM([primary, FakeLLM(["backup answer"])], breakers), primary


async def test_after_three_failures_the_primary_is_skipped_until_a_probe_succeeds() -> None:
    clock = Clock()
    llm, primary = chain(clock)
    for _ in range(3):
        assert await llm.generate("q") == "backup answer"
    assert primary.calls == 3 and llm.breaker_states()["openai"] is BreakerState.OPEN
    for _ in range(10):  # open: straight to the fallback, no call to the primary
        assert await llm.generate("q") == "backup answer"
    assert primary.calls == 3
    clock.now += 31  # cooldown over: one probe, which fails, opens it again
    assert await llm.generate("q") == "backup answer"
    assert primary.calls == 4 and llm.breaker_states()["openai"] is BreakerState.OPEN
    await llm.generate("q")
    assert primary.calls == 4
    clock.now += 31
    primary.down = False  # the probe succeeds: closed
    assert await llm.generate("q") == "primary answer"
    assert llm.breaker_states()["openai"] is BreakerState.CLOSED


async def test_a_bad_request_says_nothing_about_health() -> None:
    breaker = CircuitBreaker("openai", failures=1, clock=Clock())
    bad = FakeLLM(error=BadRequest("no", provider="openai", status=400))
    llm = FallbackLLM([bad], [breaker])
    for _ in range(3):
        with pytest.raises(BadRequest):
            await llm.generate("q")
    assert breaker.state is BreakerState.CLOSED


async def test_every_provider_open_fails_fast() -> None:
    clock = Clock()
    down = FakeLLM(error=ProviderUnavailable("503", provider="openai", status=503))
    llm = FallbackLLM([down], [CircuitBreaker("openai", failures=2, clock=clock)])
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await llm.generate("q")
    with pytest.raises(CircuitOpen):
        await llm.generate("q")
