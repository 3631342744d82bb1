"""Metrics and spans, in process: per-container registries, the LLM call recorder, node spans,
the W3C hand-over a job carries, and trace ids on log lines."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode, Tracer
from prometheus_client.parser import text_string_to_metric_families

from app.application.chat.progress import StageReporter
from app.application.ports.llm import ProviderUnavailable
from app.domain.llm import TokenUsage
from app.infrastructure.llm import factories
from app.infrastructure.llm.fallback import FallbackLLM
from app.infrastructure.observability.llm_calls import LLMCalls
from app.infrastructure.observability.logging import configure_from_settings
from app.infrastructure.observability.otel import (
    OtelTracing,
    continued_span,
    trace_carrier,
)
from app.infrastructure.observability.prometheus import (
    NoMetrics,
    PrometheusMetrics,
    Sampled,
    prometheus_metrics,
)
from app.settings import load_settings
from tests.fakes import FakeLLM, RecordingNotifier


@pytest.fixture
def spans() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


async def test_each_container_has_its_own_registry() -> None:
    first, second = prometheus_metrics(), prometheus_metrics()  # no "duplicated timeseries"
    first.chat_finished("done", 0.5)
    first.chat_finished("error", 0.1)
    text = (await first.render()).decode()
    assert value(text, "eco2_chats_total", outcome="done") == 1
    assert value(text, "eco2_chats_total", outcome="error") == 1
    assert value((await second.render()).decode(), "eco2_chats_total", outcome="done") is None


async def test_a_gauge_that_cannot_be_read_leaves_the_rest_of_the_scrape() -> None:
    async def down() -> float:
        raise ConnectionError("redis is down")

    async def three() -> float:
        return 3.0

    metrics = prometheus_metrics(
        [Sampled("eco2_queue_depth", "q", down), Sampled("eco2_sse_clients", "s", three)]
    )
    metrics.chat_picked_up(0.2)
    text = (await metrics.render()).decode()
    assert value(text, "eco2_sse_clients") == 3
    assert value(text, "eco2_job_pickup_delay_seconds_count") == 1


async def test_metrics_off_record_and_render_nothing() -> None:
    metrics = NoMetrics()
    metrics.llm_call("openai", "m", "ok", 1.0, TokenUsage(prompt_tokens=5))
    assert await metrics.render() == b""


async def test_model_calls_are_counted_and_spanned_by_provider_and_model(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    metrics = prometheus_metrics()
    llm = factories.offline_llm(load_settings().llm, LLMCalls(metrics, tracer, langsmith=False))
    answer = "".join([chunk async for chunk in llm.generate_stream("페트병 어떻게 버려요?")])
    await llm.generate("건전지는?")
    text = (await metrics.render()).decode()

    usage = llm.usage()
    labels = {"provider": "offline", "model": llm.model}
    assert answer and usage.calls == 2
    assert value(text, "eco2_llm_calls_total", **labels, outcome="ok") == 2
    assert value(text, "eco2_llm_tokens_total", **labels, kind="input") == usage.prompt_tokens
    assert value(text, "eco2_llm_tokens_total", **labels, kind="output") == (
        usage.completion_tokens
    )
    finished = {s.name: s for s in exporter.get_finished_spans()}
    assert set(finished) == {"llm generate_stream", "llm generate"}
    stream = finished["llm generate_stream"]
    assert stream.attributes is not None and stream.attributes["gen_ai.system"] == "offline"
    assert stream.attributes["gen_ai.usage.output_tokens"] > 0


async def test_a_failed_model_call_is_counted_by_its_error(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    metrics = prometheus_metrics()
    calls = LLMCalls(metrics, tracer, langsmith=False)
    with pytest.raises(ProviderUnavailable), calls.call("openai", "gpt-x", "generate", []):
        raise ProviderUnavailable("down", provider="openai", status=503)
    text = (await metrics.render()).decode()
    assert value(text, "eco2_llm_calls_total", outcome="ProviderUnavailable") == 1
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR


async def test_a_fallback_is_counted_and_the_breakers_shown() -> None:
    metrics = prometheus_metrics()
    primary = FakeLLM(error=ProviderUnavailable("down", provider="openai", status=503))
    primary.provider = "openai"
    backup = FakeLLM(["from the backup"])
    backup.provider = "gemini"
    chain = FallbackLLM([primary, backup], metrics=metrics)
    assert await chain.generate("hi") == "from the backup"
    text = (await metrics.render()).decode()
    assert value(text, "eco2_llm_fallbacks_total", failed="openai") == 1
    assert value(text, "eco2_llm_breaker_state", provider="gemini", state="closed") == 1
    assert value(text, "eco2_llm_breaker_state", provider="openai", state="open") == 0
    assert value(text, "eco2_llm_breaker_state", provider="openai", state="closed") == 1


async def test_each_node_is_a_span_and_a_failed_one_says_so(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    reporter = StageReporter(RecordingNotifier(), OtelTracing(tracer))
    with tracer.start_as_current_span("chat"):
        async with reporter.stage("j1", "intent"):
            pass
        with pytest.raises(RuntimeError):
            async with reporter.stage("j1", "answer"):
                raise RuntimeError("broken")
    finished = {s.name: s for s in exporter.get_finished_spans()}
    chat = finished["chat"]
    assert finished["node intent"].parent is not None
    assert finished["node intent"].parent.span_id == chat.context.span_id
    assert finished["node answer"].status.status_code is StatusCode.ERROR


def test_the_job_carries_the_trace_to_the_worker(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    assert trace_carrier() == {}  # nothing to carry outside a span
    with tracer.start_as_current_span("POST /v1/chat") as post:
        carrier = trace_carrier()
    assert carrier["traceparent"].split("-")[1] == format(post.get_span_context().trace_id, "032x")
    with continued_span(tracer, "chat", carrier, {"eco2.job_id": "j1"}):
        pass
    chat = next(s for s in exporter.get_finished_spans() if s.name == "chat")
    assert chat.context.trace_id == post.get_span_context().trace_id
    assert chat.parent is not None and chat.parent.span_id == post.get_span_context().span_id


def test_log_lines_carry_the_current_trace_id(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, _ = spans
    stream = io.StringIO()
    configure_from_settings(load_settings(), stream=stream)
    try:
        log = structlog.get_logger("test")
        log.info("outside")
        with tracer.start_as_current_span("chat") as span:
            log.info("inside")
    finally:
        structlog.reset_defaults()
    outside, inside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert "trace_id" not in outside
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")


def test_prometheus_metrics_take_a_registry_of_their_own() -> None:
    from prometheus_client import REGISTRY

    metrics = prometheus_metrics()
    assert isinstance(metrics, PrometheusMetrics) and metrics.registry is not REGISTRY


async def test_a_node_that_asks_back_ends_its_span_without_an_error(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    from app.application.chat.asking import InputNeeded
    from app.domain.chat import InputRequest

    tracer, exporter = spans
    reporter = StageReporter(RecordingNotifier(), OtelTracing(tracer))
    needed = InputNeeded(InputRequest(field="district", question="어느 구예요?"))
    with pytest.raises(InputNeeded) as raised:
        async with reporter.stage("j1", "bulk_waste"):
            raise needed
    assert raised.value is needed
    (span,) = exporter.get_finished_spans()
    assert span.name == "node bulk_waste" and span.status.status_code is not StatusCode.ERROR


async def test_a_stream_left_early_is_abandoned_not_failed() -> None:
    metrics = prometheus_metrics()
    llm = factories.offline_llm(load_settings().llm, LLMCalls(metrics, None, langsmith=False))
    stream = llm.generate_stream("페트병 어떻게 버려요?")
    assert await anext(stream)
    await stream.aclose()  # the reader went away after the first chunk
    text = (await metrics.render()).decode()
    assert value(text, "eco2_llm_calls_total", outcome="abandoned") == 1
    assert value(text, "eco2_llm_calls_total", outcome="GeneratorExit") is None
