"""MetricsPort on prometheus-client, one CollectorRegistry per container (never the global
one, so a test can build several), and a no-op adapter for `metrics.enabled: false`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from app.domain.llm import TokenUsage

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = structlog.get_logger(__name__)
BREAKER_STATES = ("closed", "open", "half_open")
CHAT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
PICKUP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
LLM_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True)
class Sampled:
    """A gauge read when scraped: queue depth, pool use, SSE clients."""

    name: str
    documentation: str
    read: Callable[[], Awaitable[float]]


class PrometheusMetrics:
    """Every metric of one process, named `eco2_*`; gauges in `sampled` are read per scrape."""

    def __init__(self, registry: CollectorRegistry, sampled: Sequence[Sampled] = ()) -> None:
        # Imported here: prometheus-client costs a tenth of a second to import, which a
        # process with metrics off (or `--help`) should not pay.
        from prometheus_client import Counter, Gauge, Histogram
        from prometheus_client.exposition import CONTENT_TYPE_LATEST

        self.content_type = CONTENT_TYPE_LATEST
        self.registry = registry
        self._chats = Counter(
            "eco2_chats", "Chat jobs ended, by outcome", ["outcome"], registry=registry
        )
        self._chat_seconds = Histogram(
            "eco2_chat_duration_seconds",
            "Time a worker spent on one chat job, by outcome",
            ["outcome"],
            buckets=CHAT_BUCKETS,
            registry=registry,
        )
        self._pickup = Histogram(
            "eco2_job_pickup_delay_seconds",
            "From enqueue to a worker starting the job",
            buckets=PICKUP_BUCKETS,
            registry=registry,
        )
        self._grades = Counter(
            "eco2_answer_grades",
            "Answers graded, by grader and outcome (passed, failed)",
            ["by", "outcome"],
            registry=registry,
        )
        self._grade_scores = Histogram(
            "eco2_answer_grade_score",
            "The grading step's score of each answer",
            buckets=(0.25, 0.5, 0.75, 0.9, 1.0),
            registry=registry,
        )
        llm = ["provider", "model"]
        self._llm_calls = Counter(
            "eco2_llm_calls", "Model calls, by outcome", [*llm, "outcome"], registry=registry
        )
        self._llm_seconds = Histogram(
            "eco2_llm_call_duration_seconds",
            "Model call latency",
            llm,
            buckets=LLM_BUCKETS,
            registry=registry,
        )
        self._llm_tokens = Counter(
            "eco2_llm_tokens", "Tokens, by kind (input, output)", [*llm, "kind"], registry=registry
        )
        self._llm_cost = Counter("eco2_llm_cost_usd", "Model cost in USD", llm, registry=registry)
        self._fallbacks = Counter(
            "eco2_llm_fallbacks", "Calls passed to the next provider", ["failed"], registry=registry
        )
        self._breakers = Gauge(
            "eco2_llm_breaker_state",
            "1 for each provider's current breaker state",
            ["provider", "state"],
            registry=registry,
        )
        self._sampled = [(s, Gauge(s.name, s.documentation, registry=registry)) for s in sampled]

    def chat_finished(self, outcome: str, seconds: float) -> None:
        self._chats.labels(outcome).inc()
        self._chat_seconds.labels(outcome).observe(seconds)

    def chat_picked_up(self, delay_seconds: float) -> None:
        self._pickup.observe(max(delay_seconds, 0.0))  # clocks of two hosts may disagree

    def answer_graded(self, by: str, passed: bool, score: float) -> None:
        self._grades.labels(by, "passed" if passed else "failed").inc()
        self._grade_scores.observe(score)

    def llm_call(
        self, provider: str, model: str, outcome: str, seconds: float, usage: TokenUsage
    ) -> None:
        self._llm_calls.labels(provider, model, outcome).inc()
        self._llm_seconds.labels(provider, model).observe(seconds)
        if usage.prompt_tokens:
            self._llm_tokens.labels(provider, model, "input").inc(usage.prompt_tokens)
        if usage.completion_tokens:
            self._llm_tokens.labels(provider, model, "output").inc(usage.completion_tokens)
        if usage.cost_usd:
            self._llm_cost.labels(provider, model).inc(usage.cost_usd)

    def llm_fallback(self, failed: str) -> None:
        self._fallbacks.labels(failed).inc()

    def breaker_states(self, states: dict[str, str]) -> None:
        for provider, current in states.items():
            for state in BREAKER_STATES:
                self._breakers.labels(provider, state).set(1 if state == current else 0)

    async def render(self) -> bytes:
        from prometheus_client import generate_latest

        for sampled, gauge in self._sampled:
            try:
                gauge.set(await sampled.read())
            except Exception as exc:  # a scrape during an outage still shows everything else
                log.warning("metrics.sample_failed", metric=sampled.name, error=str(exc))
        return generate_latest(self.registry)


class NoMetrics:
    """`metrics.enabled: false`: records nothing, renders nothing."""

    content_type = "text/plain; version=0.0.4; charset=utf-8"

    def chat_finished(self, outcome: str, seconds: float) -> None:
        return None

    def chat_picked_up(self, delay_seconds: float) -> None:
        return None

    def answer_graded(self, by: str, passed: bool, score: float) -> None:
        return None

    def llm_call(
        self, provider: str, model: str, outcome: str, seconds: float, usage: TokenUsage
    ) -> None:
        return None

    def llm_fallback(self, failed: str) -> None:
        return None

    def breaker_states(self, states: dict[str, str]) -> None:
        return None

    async def render(self) -> bytes:
        return b""


def prometheus_metrics(sampled: Sequence[Sampled] = ()) -> PrometheusMetrics:
    """A fresh registry per call: the container's Singleton makes it one per process."""
    from prometheus_client import CollectorRegistry

    return PrometheusMetrics(CollectorRegistry(auto_describe=True), sampled)
