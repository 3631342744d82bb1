"""The worker's metrics server: real TCP, its lifecycle, and a port another process holds."""

from __future__ import annotations

import socket
from contextlib import aclosing

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from app.infrastructure.observability.metrics_server import metrics_server_resource
from app.infrastructure.observability.prometheus import Sampled, prometheus_metrics
from app.settings import MetricsSettings
from tests.support.redis_server import free_port


async def test_serves_the_scrape_while_open_and_stops_with_the_worker() -> None:
    depth = 0.0

    async def queue_depth() -> float:
        return depth

    metrics = prometheus_metrics([Sampled("eco2_queue_depth", "jobs", queue_depth)])
    metrics.chat_finished("done", 0.3)
    settings = MetricsSettings(worker_port=free_port())
    async with aclosing(metrics_server_resource(settings, metrics)) as resource:
        port = await anext(resource)
        assert port == settings.worker_port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            depth = 7.0  # read at scrape time, not when the server started
            scraped = await client.get("/metrics")
            missing = await client.get("/other")
    assert scraped.status_code == 200 and missing.status_code == 404
    assert scraped.headers["content-type"].startswith("text/plain")
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert values[("eco2_queue_depth", ())] == 7
    assert values[("eco2_chats_total", (("outcome", "done"),))] == 1
    with pytest.raises(ConnectionRefusedError):  # stopped: nothing listens any more
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


async def test_a_taken_port_costs_the_metrics_not_the_worker() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with capture_logs() as logs:
            resource = metrics_server_resource(
                MetricsSettings(worker_port=taken), prometheus_metrics()
            )
            async with aclosing(resource):
                assert await anext(resource) is None
    assert any(e["event"] == "metrics.worker_port_unavailable" for e in logs)


async def test_off_serves_nothing() -> None:
    for settings in (MetricsSettings(enabled=False), MetricsSettings(worker_port=None)):
        resource = metrics_server_resource(settings, prometheus_metrics())
        async with aclosing(resource):
            assert await anext(resource) is None
