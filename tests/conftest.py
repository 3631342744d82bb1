"""Shared fixtures: a guard against public hosts, a clean environment, loopback servers."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from app.infrastructure.morphology.base import Morphology
from app.settings import Settings, load_settings
from app.settings.sources import FLAT_ENV
from tests.support.asgi_server import RunningServer, TLSFiles, serve_in_thread
from tests.support.gemini_wire import GeminiWire
from tests.support.openai_wire import OpenAIWire
from tests.support.services import redis_reason
from tests.support.wire_script import Script

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "", None}


class PublicHostBlocked(OSError):
    """A test tried to reach a host off this machine."""


def _is_local(host: Any) -> bool:
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def no_public_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a public host: name lookups and connects off loopback fail loudly."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local(host.decode() if isinstance(host, bytes) else host):
            raise PublicHostBlocked(f"test network guard: lookup of {host!r} blocked")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
            raise PublicHostBlocked(f"test network guard: connect to {address!r} blocked")

    def connect(sock: socket.socket, address: Any) -> None:
        check(sock, address)
        real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        check(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked `redis` (or in tests/e2e, where every test runs the gateway or a worker)
    needs the Redis at TEST_REDIS_URL: without it, it is skipped with the reason, not failed."""
    e2e = Path(__file__).parent / "e2e" in item.path.parents
    if (e2e or item.get_closest_marker("redis")) and (reason := redis_reason()):
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests see no developer keys, no APP_* overrides and no .env file."""
    for name in list(os.environ):
        if name in FLAT_ENV or name.startswith(("APP_", "LANGCHAIN_")):
            monkeypatch.delenv(name, raising=False)
    for name in ("LANGCHAIN_PROJECT", "LANGCHAIN_API_KEY", "LANGCHAIN_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)  # recorded, so tracing setup cannot leak
    monkeypatch.setenv("LANGCHAIN_TRACING_V2", "false")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def fresh_logging() -> Iterator[None]:
    """A test that runs the CLI in-process configures logging; the next one starts clean."""
    yield
    structlog.reset_defaults()
    for handler in list(logging.root.handlers):
        logging.root.removeHandler(handler)


@pytest.fixture
def make_settings() -> Any:
    def build(**overrides: Any) -> Settings:
        return load_settings(**overrides)

    return build


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return TLSFiles.create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def openai_server() -> Iterator[tuple[RunningServer, Script]]:
    script = Script()
    with serve_in_thread(OpenAIWire(script)) as server:
        yield server, script


@pytest.fixture
def gemini_server() -> Iterator[tuple[RunningServer, Script]]:
    script = Script()
    with serve_in_thread(GeminiWire(script)) as server:
        yield server, script


def fast_http(**extra: Any) -> dict[str, Any]:
    """HTTP settings for loopback tests: short timeouts so failure tests stay quick."""
    return {"read_timeout": 2.0, "connect_timeout": 2.0, "retry_deadline": 5.0, **extra}


@pytest.fixture(scope="session")
def kiwi() -> Morphology:
    """Kiwi, built once per session: its model takes seconds to load."""
    from app.infrastructure.retrieval.factories import kiwi_morphology

    return kiwi_morphology()


@pytest.fixture(scope="session", params=["rules", "kiwi"])
def morphology(request: pytest.FixtureRequest) -> Morphology:
    """Each morphology in turn."""
    from app.infrastructure.retrieval.factories import rule_morphology

    return request.getfixturevalue("kiwi") if request.param == "kiwi" else rule_morphology()
