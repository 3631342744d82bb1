"""docs/architecture.md's "path of one chat" is the path a chat really takes.

The gateway (in a thread) and a worker (in this loop) run one chat while a profiler records
every function of `app/` that is called; each documented hop must be among them, first called
in the documented order.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.containers import WorkerContainer, arq_worker
from app.infrastructure.redis_jobs.keys import worker_key
from app.settings import load_settings
from tests.e2e.conftest import serve_gateway
from tests.support.services import Deployment
from tests.support.sse import sse_events

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
HOP = re.compile(r"^\d+\. `(?P<file>app/[\w/]+\.py):(?P<function>[\w.<>]+)`", re.M)


def documented_hops() -> list[tuple[str, str]]:
    section = DOC.read_text(encoding="utf-8").split("## The path of one chat", 1)[1]
    section = section.split("\n## ", 1)[0]
    return [(m["file"], m["function"]) for m in HOP.finditer(section)]


class CallLog:
    """The first call of every function under app/, in order, from every thread."""

    def __init__(self) -> None:
        self.first: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._app = str(ROOT / "app") + "/"

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if not code.co_filename.startswith(self._app):
            return
        key = (code.co_filename[len(str(ROOT)) + 1 :], code.co_qualname)
        if key not in self.first:
            with self._lock:
                self.first.setdefault(key, len(self.first))

    def index(self, file: str, function: str) -> int | None:
        """A hop names a function; its closures (`intent_node.<locals>.run`) count as it."""
        found = [
            at
            for (f, name), at in self.first.items()
            if f == file and (name == function or name.startswith(f"{function}.<locals>."))
        ]
        return min(found) if found else None

    @contextmanager
    def recording(self) -> Iterator[None]:
        threading.setprofile(self)  # threads started from here on (the gateway's)
        sys.setprofile(self)
        try:
            yield
        finally:
            sys.setprofile(None)
            threading.setprofile(None)


def test_the_documented_hops_are_numbered_and_few() -> None:
    hops = documented_hops()
    assert 6 <= len(hops) <= 12, hops
    for file, function in hops:
        source = (ROOT / file).read_text(encoding="utf-8")
        name = function.split(".")[-1]
        assert re.search(rf"\b(async )?def {re.escape(name)}\b", source), (file, function)


async def test_one_chat_takes_the_documented_path(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = CallLog()
    worker = arq_worker(WorkerContainer(settings=load_settings(**deployment.settings_overrides())))
    running = asyncio.create_task(worker.main())
    try:
        await _started(deployment, running)
        # From here on every call is recorded, the gateway's thread included (it starts inside).
        with calls.recording(), serve_gateway(deployment, monkeypatch) as gateway:
            async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
                job = await http.post("/v1/chat", json={"message": "페트병 어떻게 버려?"})
                assert job.status_code == 202, job.text
                urls = job.json()
                await _finished(http, urls["result_url"])
                kinds = [e.event async for e in sse_events(http, urls["events_url"])]
    finally:
        with warnings.catch_warnings():  # arq 0.28 closes its pool with redis-py's old close()
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert kinds[-1] == "done"
    order = [(hop, calls.index(*hop)) for hop in documented_hops()]
    missing = [hop for hop, at in order if at is None]
    assert not missing, f"documented but not on the path: {missing}"
    firsts = [at for _, at in order]
    assert firsts == sorted(firsts), f"documented out of order: {order}"


async def _started(deployment: Deployment, running: asyncio.Task[None]) -> None:
    """This worker's own health key: written once its startup is done and it polls."""
    client = Redis.from_url(deployment.redis_url)
    key = worker_key(deployment.queue, os.getpid())
    try:
        for _ in range(600):
            if running.done():
                running.result()  # its startup failed: say why
            if await client.exists(key):
                return
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()
    raise AssertionError("the worker did not start")


async def _finished(http: httpx.AsyncClient, url: str) -> None:
    for _ in range(600):
        status = (await http.get(url)).json()
        if status.get("terminal"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the chat did not end: {status}")
