"""What observing one chat costs in CPU, measured on its parts (robust on a busy machine: CPU
time of this process, export thread included, not wall time).

    .venv/bin/python bench/observability.py [--chats 2000]

A chat with two model calls records: one pickup delay, one outcome and duration, two LLM calls
(tokens, cost, latency), two breaker updates, and about ten spans (POST, chat, four nodes, two
LLM calls, two HTTP calls) exported over OTLP/HTTP to a loopback receiver. Printed beside the
floor of bench/perf.py's offline chat (≈ 5 ms CPU), to read as a share of a chat.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

from app.domain.llm import TokenUsage
from app.infrastructure.observability.otel import OtelTracing
from app.infrastructure.observability.prometheus import prometheus_metrics

NODES = ("intent", "router", "waste_rag", "answer")
USAGE = TokenUsage(prompt_tokens=420, completion_tokens=90, calls=1, cost_usd=0.0001)


def metrics_per_chat(chats: int) -> float:
    metrics = prometheus_metrics()
    started = time.process_time()
    for _ in range(chats):
        metrics.chat_picked_up(0.01)
        for _ in range(2):
            metrics.llm_call("openai", "gpt-4o-mini", "ok", 0.2, USAGE)
            metrics.breaker_states({"openai": "closed", "gemini": "closed"})
        metrics.chat_finished("done", 0.5)
    return (time.process_time() - started) / chats * 1e6


def spans_per_chat(chats: int, endpoint: str) -> tuple[float, int]:
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(
        # A queue that holds a tight loop's spans: a real worker makes far fewer per second.
        BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint), max_queue_size=1 << 20, schedule_delay_millis=200
        )
    )
    tracer = provider.get_tracer("bench")
    tracing = OtelTracing(tracer)
    started = time.process_time()
    for _ in range(chats):
        with tracer.start_as_current_span("POST /v1/chat"), tracer.start_as_current_span("chat"):
            for node in NODES:
                with tracing.span(f"node {node}", {"eco2.stage": node, "eco2.job_id": "j"}):
                    if node in ("intent", "answer"):
                        call = tracer.start_span("llm generate", kind=SpanKind.CLIENT)
                        with tracer.start_as_current_span("HTTP POST", kind=SpanKind.CLIENT):
                            pass
                        call.set_attribute("gen_ai.usage.input_tokens", 420)
                        call.end()
    provider.shutdown()  # the export of every span is part of the cost
    return (time.process_time() - started) / chats * 1e6, 10 * chats


RECEIVER = """
import sys
from tests.support.asgi_server import serve_in_thread
from tests.support.otlp_wire import OtlpWire
wire = OtlpWire()
with serve_in_thread(wire) as server:
    print(server.url, flush=True)
    sys.stdin.read()
    print(len(wire.spans), flush=True)
"""


@contextmanager
def receiver_process() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The OTLP receiver in its own process, so decoding spans is not counted as ours."""
    process = subprocess.Popen(
        [sys.executable, "-c", RECEIVER],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        yield process.stdout.readline().strip(), process
    finally:
        process.kill()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chats", type=int, default=2000)
    args = parser.parse_args()
    metrics_us = metrics_per_chat(args.chats)
    with receiver_process() as (url, process):
        spans_us, sent = spans_per_chat(args.chats, f"{url}/v1/traces")
        received, _ = process.communicate("", timeout=60)
    print(f"{'what':44} {'CPU µs/chat':>12}  floor")
    print("-" * 72)
    print(f"{'metrics (prometheus-client)':44} {metrics_us:12.0f}  ≤ 250 µs (5% of 5 ms)")
    print(f"{'traces: 10 spans, OTLP/HTTP export':44} {spans_us:12.0f}  ≤ 1000 µs (20% of 5 ms)")
    print(f"spans sent {sent}, received {received.strip()}")


if __name__ == "__main__":
    main()
