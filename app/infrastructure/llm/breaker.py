"""A circuit breaker per provider: after repeated retryable failures it is skipped for a
cooldown, then one probe call decides whether it is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

import structlog

log = structlog.get_logger(__name__)


class BreakerState(StrEnum):
    CLOSED = "closed"  # calls go through
    OPEN = "open"  # calls are skipped until the cooldown ends
    HALF_OPEN = "half_open"  # one probe call is in flight


class CircuitBreaker:
    """Counts retryable failures in a row; per process, as pybreaker's are. Only retryable
    failures count: a bad request or a bad key says nothing about the provider's health."""

    def __init__(
        self,
        name: str,
        *,
        failures: int = 3,
        cooldown_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failures
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._state = BreakerState.CLOSED

    @property
    def state(self) -> BreakerState:
        return self._state

    def allow(self) -> bool:
        """Whether a call may go to the provider now. Once the cooldown is over, this call is
        the probe; another may start one cooldown later if it never reports back."""
        if self._state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if now - self._opened_at < self._cooldown:
            return False
        self._state, self._opened_at = BreakerState.HALF_OPEN, now
        log.info("llm.breaker_probe", provider=self.name)
        return True

    def succeeded(self) -> None:
        if self._state is not BreakerState.CLOSED:
            log.info("llm.breaker_closed", provider=self.name)
        self._state, self._failures = BreakerState.CLOSED, 0

    def failed(self) -> None:
        self._failures += 1
        if self._state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            if self._state is not BreakerState.OPEN:
                log.warning(
                    "llm.breaker_opened",
                    provider=self.name,
                    failures=self._failures,
                    cooldown_s=self._cooldown,
                )
            self._state, self._opened_at = BreakerState.OPEN, self._clock()
