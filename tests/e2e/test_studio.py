"""LangGraph Studio's server (`langgraph dev`, run from .venv-studio) serving our graph from
langgraph.json, driven as Studio drives it, with langgraph-sdk: a thread, a run streamed until
the graph asks for a district (an interrupt), the answer (`Command(resume=…)`), the thread's
state, and a next question that the thread's memory answers without asking again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.deadlines import PROCESS_SECONDS
from tests.support.paths import REPO

LANGGRAPH = REPO / ".venv-studio" / "bin" / "langgraph"
if not LANGGRAPH.exists():
    pytest.skip(
        f"langgraph-cli[inmem] is not installed at {LANGGRAPH}: `make studio-env` builds "
        ".venv-studio (LangGraph's server cannot share .venv with schemathesis)",
        allow_module_level=True,
    )
sdk = pytest.importorskip("langgraph_sdk", reason="langgraph-sdk is not installed (`.[test]`)")

GRAPH = "eco2-chat"  # langgraph.json's name for app.entrypoints.studio:graph
FEES = REPO / "tests" / "data" / "fixtures" / "FIXTURE_bulky_waste_fees.csv"
SETTINGS = {  # the same settings as a worker's: the bulky-waste fees from the fixture
    "APP_SERVICES__BULK_WASTE__ENABLED": "true",
    "APP_SERVICES__BULK_WASTE__PATH": str(FEES),
}
QUIET = {  # nothing of LangGraph's tooling may try to reach a public host
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "PYTHONUNBUFFERED": "1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def langgraph_dev(tmp_path: Path) -> Iterator[str]:
    """`langgraph dev` in a folder of its own (it writes .langgraph_api/ where it runs), its log
    beside it; when done, its whole process group is ended and waited for."""
    workdir, log = tmp_path / "server", tmp_path / "langgraph-dev.log"
    workdir.mkdir()
    port = free_port()
    command = [str(LANGGRAPH), "dev", "--no-browser", "--no-reload"]  # no file watcher either
    command += [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(REPO / "langgraph.json"),
    ]
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**os.environ, **SETTINGS, **QUIET},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as one
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(process, url, log)
        yield url
    finally:
        end_group(process)


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Until /ok answers. The deadline only tells a hang from a loaded machine's slowness."""
    started = time.monotonic()
    while time.monotonic() - started < PROCESS_SECONDS:
        if process.poll() is not None:
            raise AssertionError(f"langgraph dev exited {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/ok", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.2)
    raise AssertionError(f"langgraph dev not serving after {PROCESS_SECONDS}s:\n{log.read_text()}")


def end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to its group (uvicorn shuts down gracefully), then SIGKILL to whatever the group
    still holds: a server that hung on the way out, or a process it left behind."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(subprocess.TimeoutExpired):
        process.wait(PROCESS_SECONDS / 10)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(PROCESS_SECONDS / 10)


async def stream(client: Any, thread: str, **run: Any) -> list[Any]:
    parts = [p async for p in client.runs.stream(thread, GRAPH, stream_mode="updates", **run)]
    assert not [p.data for p in parts if p.event == "error"]
    return parts


def interrupts(parts: list[Any]) -> list[dict[str, Any]]:
    return [
        pending
        for part in parts
        if part.event == "updates" and "__interrupt__" in part.data
        for pending in part.data["__interrupt__"]
    ]


def updated(parts: list[Any]) -> list[str]:
    """The nodes whose updates a run streamed, in order."""
    return [node for part in parts if part.event == "updates" for node in part.data]


@pytest.mark.timeout(3 * PROCESS_SECONDS)
async def test_studio_runs_asks_for_a_district_resumes_and_keeps_the_thread(
    tmp_path: Path,
) -> None:
    with langgraph_dev(tmp_path) as url:
        async with sdk.get_client(url=url, api_key=None) as client:
            thread = (await client.threads.create())["thread_id"]
            asked = await stream(
                client, thread, input={"draft": {"message": "소파 버리는 비용 얼마야?"}}
            )
            paused = await client.threads.get_state(thread)
            answered = await stream(client, thread, command={"resume": "마포구"})
            state = await client.threads.get_state(thread)
            again = await stream(client, thread, input={"draft": {"message": "매트리스는 얼마야?"}})
            later = await client.threads.get_state(thread)
            assistants = await client.assistants.search(graph_id=GRAPH)
    [question] = interrupts(asked)
    assert question["value"]["field"] == "district" and "마포구" in question["value"]["options"]
    assert updated(asked)[:3] == ["turn", "intent", "router"]  # the message became the turn
    assert paused["next"] == ["bulk_waste"]  # the fee node waits on the answer
    assert [i["value"] for task in paused["tasks"] for i in task["interrupts"]] == [
        question["value"]
    ]
    # The answer resumed the paused node: the district's fee from the fixture, not another's.
    assert updated(answered) == ["bulk_waste", "answer", "grade"]
    values = state["values"]
    assert state["next"] == [] and "11,111원" in values["answer"]
    assert "33,333원" not in values["answer"]  # 강남구's fee
    assert values["district"] == "마포구" and values["request"]["thread_id"] == thread
    assert values["answered_provider"] == "offline"  # the CLI's settings: no key, offline
    assert "draft" not in values  # the input lives for one step, not in the thread
    # The server's own checkpointer kept the thread: the next fee question does not ask again.
    assert not interrupts(again) and "4,444원" in later["values"]["answer"]
    assert [m["role"] for m in later["values"]["history"]] == ["user", "assistant"] * 2
    assert [a["graph_id"] for a in assistants] == [GRAPH]
