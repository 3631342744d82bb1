"""Token and cost accounting: a running total per client, and a per-chat scope with limits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from app.domain.errors import BudgetExceeded
from app.domain.llm import TokenUsage, UsageLimits


class UsageScope:
    """Collects the usage of every LLM call made inside `metered()` (one chat), and stops the
    chat once it is over its limits: no call starts past them, and the call that crosses one
    raises BudgetExceeded when it returns (as pydantic-ai's UsageLimits do)."""

    def __init__(self, limits: UsageLimits | None = None, parent: UsageScope | None = None) -> None:
        self.total = TokenUsage()
        self.limits = limits or UsageLimits()
        self._parent = parent  # an enclosing scope (the job's, with its budget) sees it all

    def add(self, usage: TokenUsage) -> None:
        self.total = self.total + usage
        if self._parent is not None:
            self._parent.add(usage)
        self._check_own()

    def check(self) -> None:
        """Raise BudgetExceeded if this scope, or one enclosing it, is over its limits."""
        if self._parent is not None:
            self._parent.check()
        self._check_own()

    def _check_own(self) -> None:
        over = self.limits.exceeded_by(self.total)
        if over == "tokens":
            raise BudgetExceeded(
                f"the chat used {self.total.total_tokens} tokens, over its "
                f"{self.limits.max_tokens}",
                limit="tokens",
            )
        if over == "cost":
            raise BudgetExceeded(
                f"the chat cost ${self.total.cost_usd:.4f}, over its "
                f"${self.limits.max_cost_usd:.4f}",
                limit="cost",
            )


_current_scope: ContextVar[UsageScope | None] = ContextVar("llm_usage_scope", default=None)


@contextmanager
def metered(limits: UsageLimits | None = None) -> Iterator[UsageScope]:
    """Count the calls made in this block, even with concurrent chats around."""
    scope = UsageScope(limits, parent=_current_scope.get())
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)


class UsageMeter:
    """A client's running total; each record also lands in the caller's scope, if any."""

    def __init__(self) -> None:
        self._total = TokenUsage()

    def before_call(self) -> None:
        """Refuse to start a call once the chat is over its limits."""
        scope = _current_scope.get()
        if scope is not None:
            scope.check()

    def record(self, usage: TokenUsage) -> None:
        self._total = self._total + usage
        scope = _current_scope.get()
        if scope is not None:
            scope.add(usage)

    @property
    def total(self) -> TokenUsage:
        return self._total
