"""A deployment per test: its own queue, real worker processes, the gateway on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.entrypoints.gateway.app import create_app
from app.settings import load_settings
from tests.support.asgi_server import RunningServer, serve_in_thread
from tests.support.deadlines import PROCESS_SECONDS
from tests.support.openai_wire import OpenAIWire
from tests.support.services import Deployment
from tests.support.wire_script import Script


@pytest.fixture
def deployment() -> Deployment:
    return Deployment()


@pytest.fixture
def gateway(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningServer]:
    """The gateway in this process, configured by the same variables as the workers."""
    with serve_gateway(deployment, monkeypatch) as server:
        yield server


@contextmanager
def serve_gateway(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, **overrides: dict[str, Any]
) -> Iterator[RunningServer]:
    """A gateway with the deployment's settings, sections of `overrides` merged over them."""
    for name, value in deployment.settings_env().items():
        monkeypatch.setenv(name, value)
    merged = deployment.settings_overrides()
    for section, values in overrides.items():
        merged[section] = {**merged.get(section, {}), **values}
    with serve_in_thread(create_app(load_settings(**merged))) as server:
        yield server


@pytest.fixture
async def http(gateway: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        yield client


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    return tmp_path


async def ask(http: httpx.AsyncClient, message: str, **extra: Any) -> dict[str, Any]:
    response = await http.post("/v1/chat", json={"message": message, **extra})
    assert response.status_code == 202, response.text
    return dict(response.json())


@pytest.fixture
def vision_llm() -> Iterator[tuple[RunningServer, Script]]:
    """An OpenAI-compatible model on loopback (it reads the photos it is sent)."""
    script = Script()
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An end-to-end test starts processes, and a worker alone may take a minute to start on a
    busy machine: such a test gets the process deadline, not the suite's 120 s, unless it says
    otherwise. (A test starting several workers in turn says so itself.)"""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(PROCESS_SECONDS))
