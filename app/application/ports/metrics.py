"""The metrics port: what the worker and gateway count, and the text a scraper reads."""

from __future__ import annotations

from typing import Protocol

from app.domain.llm import TokenUsage


class MetricsPort(Protocol):
    """Counters and histograms of one process. Implementations never raise: a metric that
    cannot be recorded must not fail the chat that it describes."""

    def chat_finished(self, outcome: str, seconds: float) -> None:
        """A chat job ended (`done`, `error`, `waiting_input`, `cancelled`, ...)."""

    def chat_picked_up(self, delay_seconds: float) -> None:
        """A worker started a job this long after it was enqueued."""

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
