"""Token accounting: a running total per client and an optional per-job scope."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from app.domain.llm import TokenUsage


class UsageScope:
    """Collects the usage of every LLM call made inside `metered()` (one job, one request)."""

    def __init__(self) -> None:
        self.total = TokenUsage()

    def add(self, usage: TokenUsage) -> None:
        self.total = self.total + usage


_current_scope: ContextVar[UsageScope | None] = ContextVar("llm_usage_scope", default=None)


@contextmanager
def metered() -> Iterator[UsageScope]:
    """Count the tokens of the calls made in this block, even with concurrent jobs around."""
    scope = UsageScope()
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)


class UsageMeter:
    """A client's running total; each record also lands in the caller's scope, if any."""

    def __init__(self) -> None:
        self._total = TokenUsage()

    def record(self, usage: TokenUsage) -> None:
        self._total = self._total + usage
        scope = _current_scope.get()
        if scope is not None:
            scope.add(usage)

    @property
    def total(self) -> TokenUsage:
        return self._total
