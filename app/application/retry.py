"""One retry policy for a brief outage of what a chat keeps its state in (Redis, PostgreSQL).

Every place a chat touches a store (its progress stream, its job's bookkeeping, the usage
limiter, the conversation store, the checkpointer, uploaded photos) waits an outage out the
same way: the step is tried again with backoff until `deadline` seconds have passed since its
first failure, then the last error goes on (and the chat ends with an error event). Only steps
that are safe to repeat are given to it: reads, and writes that are idempotent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

log = structlog.get_logger(__name__)
T = TypeVar("T")
Transient = type[BaseException] | tuple[type[BaseException], ...]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff from `first_delay`, doubling up to `max_delay`; at most `attempts` tries when
    set. The deadline counts from the first failure, so a slow success never uses it up."""

    deadline: float = 60.0
    first_delay: float = 0.1
    max_delay: float = 2.0
    attempts: int | None = None
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    async def run(self, step: Callable[[], Awaitable[T]], *, transient: Transient, what: str) -> T:
        """`step()`, tried again while it raises one of `transient`; `what` names it in logs."""
        give_up: float | None = None
        delay = self.first_delay
        tries = 0
        while True:
            tries += 1
            try:
                result = await step()
            except transient as exc:
                now = self.clock()
                give_up = now + self.deadline if give_up is None else give_up
                if now + delay > give_up or (self.attempts is not None and tries >= self.attempts):
                    log.error("outage.gave_up", what=what, tries=tries, error=_named(exc))
                    raise
                if tries == 1:  # one line per outage and step, not one per try
                    log.warning("outage.retrying", what=what, error=_named(exc))
                await self.sleep(delay)
                delay = min(delay * 2, self.max_delay)
            else:
                if tries > 1:
                    log.info("outage.recovered", what=what, tries=tries)
                return result


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
