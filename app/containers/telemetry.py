"""Metrics and traces of one process: its Prometheus registry, tracing port, LLM call recorder."""

from __future__ import annotations

from typing import Any

from dependency_injector import containers, providers

from app.infrastructure.observability.llm_calls import LLMCalls
from app.infrastructure.observability.otel import tracing_port
from app.infrastructure.observability.prometheus import NoMetrics, prometheus_metrics
from app.settings import Settings


class Telemetry(containers.DeclarativeContainer):
    """`tracer` is Core's (the HTTP pool needs it before this is built); `sampled` lists the
    gauges a scrape reads (each entry point has its own: queue, SSE clients, HTTP pool)."""

    settings = providers.Dependency(instance_of=Settings)
    tracer: providers.Dependency[Any] = providers.Dependency()
    sampled: providers.Dependency[Any] = providers.Dependency(default=providers.List())
    langsmith: providers.Dependency[Any] = providers.Dependency(default=providers.Object(False))

    tracing = providers.Singleton(tracing_port, tracer)
    metrics = providers.Selector(
        providers.Callable(lambda s: "on" if s.metrics.enabled else "off", settings),
        on=providers.Singleton(prometheus_metrics, sampled=sampled),
        off=providers.Singleton(NoMetrics),
    )
    llm_calls = providers.Singleton(LLMCalls, metrics=metrics, tracer=tracer, langsmith=langsmith)
