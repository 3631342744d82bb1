"""The chat job runner's metrics and chat span, on real Redis: one count per chat by outcome,
the pickup delay, nothing counted twice for a re-run, and the submitter's trace continued."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from app.application.jobs import ChatJobRunner
from app.domain.chat import ChatRequest, ChatResult, Intent
from app.domain.events import ProgressUpdate
from app.domain.llm import TokenUsage
from app.infrastructure.observability.otel import JobTracing, trace_carrier
from app.infrastructure.observability.prometheus import prometheus_metrics
from app.infrastructure.redis_jobs.publisher import RedisStreamProgressNotifier
from tests.support.services import REDIS_URL

pytestmark = pytest.mark.redis  # every test here reads or writes the Redis at TEST_REDIS_URL


class ScriptedTurns:
    """Runs a turn by publishing its terminal event (as the chat service does), or fails."""

    def __init__(self, publisher: RedisStreamProgressNotifier) -> None:
        self.publisher = publisher
        self.failure: BaseException | None = None

    async def run(
        self,
        request: ChatRequest,
        job_id: str | None = None,
        *,
        settle: Callable[[TokenUsage], Awaitable[None]] | None = None,
    ) -> ChatResult:
        assert job_id is not None
        if self.failure is not None:
            await self.publisher.publish(job_id, ProgressUpdate(type="error", data={}))
            raise self.failure
        await self.publisher.publish(job_id, ProgressUpdate(type="done", data={}))
        return ChatResult(thread_id=request.thread_id, answer="ok", intents=[Intent.WASTE])


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


def payload() -> dict[str, str]:
    return {"message": "페트병 어떻게 버려요?", "thread_id": f"t-{uuid.uuid4().hex[:8]}"}


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def test_each_chat_is_counted_once_by_its_outcome(redis: Redis) -> None:
    publisher = RedisStreamProgressNotifier(redis, ttl_seconds=60)
    turns = ScriptedTurns(publisher)
    metrics = prometheus_metrics()
    runner = ChatJobRunner(turns, publisher, metrics=metrics)
    done = uuid.uuid4().hex
    await runner.run(done, payload(), 1, enqueued_at=time.time() - 2.0)
    await runner.run(done, payload(), 2)  # arq ran it again: it had ended, nothing to count
    turns.failure = RuntimeError("the graph broke")
    await runner.run(uuid.uuid4().hex, payload(), 1)
    turns.failure = asyncio.CancelledError()
    with pytest.raises(asyncio.CancelledError):
        await runner.run(uuid.uuid4().hex, payload(), 1)
    await runner.run(uuid.uuid4().hex, {"message": ""}, 1)  # unreadable payload
    text = (await metrics.render()).decode()

    assert value(text, "eco2_chats_total", outcome="done") == 1
    assert value(text, "eco2_chats_total", outcome="rerun") == 1
    assert value(text, "eco2_chats_total", outcome="error") == 2
    assert value(text, "eco2_chats_total", outcome="cancelled") == 1
    assert value(text, "eco2_job_pickup_delay_seconds_count") == 1
    assert value(text, "eco2_job_pickup_delay_seconds_sum") >= 2.0
    assert value(text, "eco2_job_pickup_delay_seconds_bucket", le="1.0") == 0


async def test_the_chat_span_continues_the_submitters_trace(redis: Redis) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    publisher = RedisStreamProgressNotifier(redis, ttl_seconds=60)
    runner = ChatJobRunner(ScriptedTurns(publisher), publisher, tracing=JobTracing(tracer))
    with tracer.start_as_current_span("POST /v1/chat") as post:
        carrier = trace_carrier()
    job_id = uuid.uuid4().hex
    assert await runner.run(job_id, payload(), 1, trace=carrier) == {"status": "done"}
    chat = next(s for s in exporter.get_finished_spans() if s.name == "chat")
    assert chat.kind is SpanKind.CONSUMER
    assert chat.context.trace_id == post.get_span_context().trace_id
    assert chat.attributes is not None and chat.attributes["eco2.job_id"] == job_id
    provider.shutdown()
