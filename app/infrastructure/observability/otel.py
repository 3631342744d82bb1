"""OpenTelemetry: one TracerProvider per container (never the global one), OTLP/HTTP export
when an endpoint is set, the TracingPort for the application layer, and W3C propagation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Tracer

from app.application.ports.telemetry import Attribute
from app.settings import TelemetrySettings

log = structlog.get_logger(__name__)


async def tracer_resource(settings: TelemetrySettings, role: str) -> AsyncIterator[Tracer | None]:
    """Container Resource: this process's tracer (None when off); flushes spans at stop."""
    if not settings.enabled:
        yield None
        return
    # The SDK is imported only when tracing is on (the API alone is a no-op, and light).
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create({"service.name": f"{settings.service_name}-{role}"})
    )
    if settings.otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.otlp_endpoint)
        provider.add_span_processor(
            BatchSpanProcessor(exporter, schedule_delay_millis=settings.export_delay_ms)
        )
    log.info("tracing.opentelemetry", role=role, exporting=bool(settings.otlp_endpoint))
    try:
        yield provider.get_tracer("eco2-chat")
    finally:
        # The exporter's flush is blocking HTTP: keep it off the event loop.
        await asyncio.to_thread(provider.shutdown)


class OtelTracing:
    """TracingPort on a tracer: each span is a child of the current one."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None = None,
        *,
        remote_parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[None]:
        return self._span(name, attributes, remote_parent)

    @contextmanager
    def _span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None,
        remote_parent: Mapping[str, str] | None,
    ) -> Iterator[None]:
        if remote_parent:
            context = propagate.extract(dict(remote_parent))
            with self._tracer.start_as_current_span(
                name, context=context, kind=SpanKind.SERVER, attributes=attributes
            ):
                yield
            return
        with self._tracer.start_as_current_span(name, attributes=attributes):
            yield


class NoTracing:
    """Tracing off: spans cost one context manager."""

    def span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None = None,
        *,
        remote_parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[None]:
        return _nothing()


@contextmanager
def _nothing() -> Iterator[None]:
    yield


class JobTracing:
    """TracingPort for a queue's consumer (the worker's job policy): a span continues the
    submitter's trace (`remote_parent`, carried in the job) as a CONSUMER span, or starts a
    trace of its own without one; a no-op without a tracer."""

    def __init__(self, tracer: Tracer | None) -> None:
        self._tracer = tracer

    def span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None = None,
        *,
        remote_parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[None]:
        return continued_span(self._tracer, name, remote_parent, attributes)


def tracing_port(tracer: Tracer | None) -> OtelTracing | NoTracing:
    return NoTracing() if tracer is None else OtelTracing(tracer)


def trace_carrier() -> dict[str, str]:
    """The current trace as W3C headers (`traceparent`), for a job's payload; empty outside."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def continued_span(
    tracer: Tracer | None,
    name: str,
    carrier: Mapping[str, str] | None,
    attributes: dict[str, Attribute] | None = None,
) -> Iterator[None]:
    """A span continuing the trace in `carrier` (started in another process), made current."""
    if tracer is None:
        yield
        return
    parent = propagate.extract(dict(carrier or {}))
    token = otel_context.attach(parent)
    try:
        with tracer.start_as_current_span(name, kind=SpanKind.CONSUMER, attributes=attributes):
            yield
    finally:
        otel_context.detach(token)
