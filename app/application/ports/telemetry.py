"""Metrics and traces."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

from app.domain.llm import TokenUsage


class MetricsPort(Protocol):
    """Counters and histograms of one process. Implementations never raise: a metric that
    cannot be recorded must not fail the chat that it describes."""

    def chat_finished(self, outcome: str, seconds: float) -> None:
        """A chat job ended (`done`, `error`, `waiting_input`, `cancelled`, ...)."""

    def chat_picked_up(self, delay_seconds: float) -> None:
        """A worker started a job this long after it was enqueued."""

    def answer_graded(self, by: str, passed: bool, score: float) -> None:
        """The grading step's verdict on one answer (`by`: `rules` or `model`)."""

    def llm_call(
        self, provider: str, model: str, outcome: str, seconds: float, usage: TokenUsage
    ) -> None:
        """One model call (`ok` or the error's kind), its tokens and cost."""

    def llm_fallback(self, failed: str) -> None:
        """`failed` could not answer and the next provider of the chain is tried."""

    def breaker_states(self, states: dict[str, str]) -> None:
        """Each provider's circuit breaker state (`closed`, `open`, `half_open`)."""


class MetricsExpositionPort(Protocol):
    """What GET /metrics answers."""

    content_type: str

    async def render(self) -> bytes:
        """The current values in the exposition format (gauges sampled now)."""


Attribute = str | int | float | bool


class TracingPort(Protocol):
    """Opens a span as a child of the current one; a no-op implementation when tracing is off."""

    def span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None = None,
        *,
        remote_parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[None]:
        """A span covering the block; an exception leaving it marks the span as failed.
        `remote_parent` (a caller's W3C `traceparent` headers) continues the caller's trace."""
