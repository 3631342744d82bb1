"""The worker and the gateway as an operator runs them: `python -m app worker|gateway` in real
processes on a real Redis, their logs read off a pipe (so: JSON, one line per record)."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.deadlines import PROCESS_SECONDS
from tests.support.redis_server import free_port
from tests.support.services import (
    LISTENING,
    Deployment,
    WorkerProcess,
    app_process,
    lines,
    wait_until_started,
)


def wait_for(condition: Any, what: str, deadline: float = 60.0) -> Any:
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not after {deadline} s: {what}")


def json_records(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"not a JSON line in {path.name}: {line!r}") from None
    return records


def records_so_far(path: Path) -> list[dict[str, Any]]:
    """While the process runs: its last line may be half written yet."""
    records = []
    for line in lines(path):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def test_worker_and_gateway_log_json_once_with_an_access_line(tmp_path: Path) -> None:
    deployment = Deployment()
    port = free_port()
    with (
        app_process(deployment, tmp_path, "worker", "--concurrency", "3") as (worker, _, w_err),
        app_process(deployment, tmp_path, "gateway", "--port", str(port)) as (gw, g_out, g_err),
    ):
        wait_until_started(WorkerProcess(worker, w_err), deployment)
        url = wait_for(
            lambda: next((m[1] for m in map(LISTENING.match, lines(g_out)) if m), None),
            "the gateway's listening line",
        )
        assert url == f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=30) as http:
            accepted = http.post("/v1/chat", json={"message": "페트병 어떻게 버려요?"}).json()
            with http.stream(
                "GET", f"/v1/chat/{accepted['job_id']}/events", params={"token": accepted["token"]}
            ) as events:
                assert events.status_code == 200
                for line in events.iter_lines():
                    if line.startswith("event: done"):
                        break
        wait_for(
            lambda: any(
                r["event"] == "http.request" and r["path"].endswith("/events")
                for r in records_so_far(g_err)
            ),
            "the access line of the stream (written when it ends)",
        )
        gw.send_signal(signal.SIGTERM)
        worker.send_signal(signal.SIGTERM)
        # uvicorn re-raises the SIGTERM it handled, once it has shut down cleanly.
        assert gw.wait(30) in (0, -signal.SIGTERM) and worker.wait(30) == 0

    gateway_records, worker_records = json_records(g_err), json_records(w_err)
    assert json_records(tmp_path / "worker.out") == []  # stdout: the gateway's URL line only
    assert lines(g_out) == [lines(g_out)[0]]

    access = [r for r in gateway_records if r["event"] == "http.request"]
    chat = next(r for r in access if r["path"] == "/v1/chat")
    assert chat["method"] == "POST" and chat["status"] == 202 and chat["principal"] == "anonymous"
    assert isinstance(chat["duration_ms"], float)
    stream = next(r for r in access if r["path"].endswith("/events"))
    assert stream["status"] == 200
    assert accepted["token"] not in g_err.read_text()  # the query string is never logged
    assert not any(r["logger"] == "uvicorn.access" for r in gateway_records)  # ours instead

    # uvicorn's and arq's records come through the same pipeline, each exactly once.
    assert once(gateway_records, "uvicorn.error", "Application startup complete.")
    assert once(gateway_records, "uvicorn.error", "Application shutdown complete.")
    assert once(worker_records, "arq.worker", "Starting worker for 1 functions: chat")
    finished = f"← {accepted['job_id']}:chat"
    ran = [r for r in worker_records if r["logger"] == "arq.worker" and finished in r["event"]]
    assert len(ran) == 1
    started = [r for r in worker_records if r["event"] == "worker.started"]
    assert len(started) == 1 and started[0]["concurrency"] == 3


def test_submit_shows_the_view_ask_shows(tmp_path: Path) -> None:
    deployment = Deployment()
    question, thread = "페트병 어떻게 버려요?", f"cli-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **deployment.settings_env()}
    with app_process(deployment, tmp_path, "worker") as (worker, _, w_err):
        wait_until_started(WorkerProcess(worker, w_err), deployment)
        submitted = run_cli(env, "submit", "--timeout", "60", "--thread", thread, question)
        assert submitted.returncode == 0, submitted.stderr + w_err.read_text()
    asked = run_cli(env, "ask", "--thread", thread, question)
    assert asked.returncode == 0, asked.stderr
    assert submitted.stdout == asked.stdout and "라벨" in asked.stdout
    assert view_lines(submitted.stderr) == view_lines(asked.stderr)
    closing = view_lines(asked.stderr)[-1]
    assert closing.startswith("sources: 투명 페트병")  # the top item first; neighbours vary
    assert closing.endswith(f" · thread: {thread} (continue with --thread {thread})")


def test_submit_asks_back_at_a_terminal_like_ask(tmp_path: Path) -> None:
    """The question back is asked at the terminal; the answer resumes the turn on a worker."""
    deployment = Deployment()
    fees = Path(__file__).resolve().parent.parent / "data" / "fixtures"
    deployment.env |= {
        "APP_SERVICES__BULK_WASTE__ENABLED": "true",
        "APP_SERVICES__BULK_WASTE__PATH": str(fees / "FIXTURE_bulky_waste_fees.csv"),
    }
    env = {**os.environ, **deployment.settings_env()}
    with app_process(deployment, tmp_path, "worker") as (worker, _, w_err):
        wait_until_started(WorkerProcess(worker, w_err), deployment)
        primary, secondary = pty.openpty()  # stdin is a terminal: submit prompts there
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "submit", "--timeout", "300", "소파 버리는 비용 얼마야?"],
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        os.close(secondary)
        os.write(primary, "강남구\n".encode())  # read when the prompt asks; the terminal buffers it
        out, err = process.communicate(timeout=PROCESS_SECONDS)
        os.close(primary)
    assert process.returncode == 0, err + w_err.read_text()
    assert "어느 구" in err and "33,333원" in out


def test_submit_off_a_terminal_exits_3_with_how_to_answer(tmp_path: Path) -> None:
    deployment = Deployment()
    fees = Path(__file__).resolve().parent.parent / "data" / "fixtures"
    deployment.env |= {
        "APP_SERVICES__BULK_WASTE__ENABLED": "true",
        "APP_SERVICES__BULK_WASTE__PATH": str(fees / "FIXTURE_bulky_waste_fees.csv"),
    }
    env = {**os.environ, **deployment.settings_env()}
    thread = f"cli-{uuid.uuid4().hex[:8]}"
    with app_process(deployment, tmp_path, "worker") as (worker, _, w_err):
        wait_until_started(WorkerProcess(worker, w_err), deployment)
        asked = run_cli(env, "submit", "--thread", thread, "소파 버리는 비용 얼마야?")
        assert asked.returncode == 3, asked.stderr + w_err.read_text()
        assert f"python -m app submit --thread {thread} '<district>'" in asked.stderr
        answered = run_cli(env, "submit", "--thread", thread, "강남구")
    assert answered.returncode == 0, answered.stderr
    assert "33,333원" in answered.stdout


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        env=env,
        check=False,
    )


def view_lines(stderr: str) -> list[str]:
    """Stage lines without their timings (which differ run to run), and the closing line."""
    return [re.sub(r" ms=[\d.]+", "", line).strip() for line in stderr.splitlines()]


@pytest.mark.parametrize("command", [["worker"], ["gateway"], ["submit", "hi"]])
def test_redis_unreachable_is_one_line_with_the_fix(command: list[str], tmp_path: Path) -> None:
    closed = free_port()
    env = {
        **os.environ,
        **Deployment(redis_url=f"redis://:hunter2-pass@127.0.0.1:{closed}/0").settings_env(),
    }
    result = run_cli(env, *command)
    assert result.returncode == 69
    assert result.stderr.splitlines() == [
        f"error: Redis at redis://:**********@127.0.0.1:{closed}/0 is unreachable "
        "(Connection refused) — start it (make services) or set REDIS_URL"
    ]
    assert result.stdout == "" and "hunter2-pass" not in result.stderr


@pytest.mark.parametrize("command", [["worker"], ["ask", "hi"]])
def test_postgres_unreachable_is_one_line_with_the_fix(command: list[str]) -> None:
    closed = free_port()
    env = {
        **os.environ,
        **Deployment().settings_env(),
        "APP_CHECKPOINT__BACKEND": "postgres",
        "POSTGRES_URL": f"postgresql://eco2@127.0.0.1:{closed}/test",
    }
    result = run_cli(env, *command)
    assert result.returncode == 69, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(
        f"error: PostgreSQL at postgresql://eco2@127.0.0.1:{closed}/test is unreachable "
        "(Connection refused) — start it (make services)"
    )
    assert "Traceback" not in result.stdout + result.stderr


def once(records: list[dict[str, Any]], logger: str, event: str) -> bool:
    return sum(1 for r in records if r["logger"] == logger and r["event"] == event) == 1


def test_slow_clients_are_cut_off_and_the_gateway_keeps_serving(tmp_path: Path) -> None:
    """Heads sent a byte at a time, silent connections and bodies that never end are closed
    after their deadlines; a normal request meanwhile is served."""
    deployment = Deployment()
    deployment.env |= {
        "APP_GATEWAY__HEADER_TIMEOUT_SECONDS": "1",
        "APP_GATEWAY__BODY_TIMEOUT_SECONDS": "2",
    }
    port = free_port()
    with app_process(deployment, tmp_path, "gateway", "--port", str(port)) as (_, g_out, g_err):
        wait_for(lambda: any(map(LISTENING.match, lines(g_out))), "the listening line")
        slow: list[socket.socket] = []
        for i in range(30):
            sock = socket.create_connection(("127.0.0.1", port))
            if i % 3 == 1:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # a head never ended
            elif i % 3 == 2:
                sock.sendall(
                    b"POST /v1/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n{"  # a body that never ends
                )
            slow.append(sock)  # i % 3 == 0: connected, silent
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            assert http.get("/healthz").status_code == 200
        try:
            for sock in slow:  # each is closed by the gateway: recv sees the end (b"")
                sock.settimeout(PROCESS_SECONDS)
                while sock.recv(4096):
                    pass
        finally:
            for sock in slow:
                sock.close()
    cut = [r for r in json_records(g_err) if r["event"] == "gateway.slow_client"]
    assert sorted({r["part"] for r in cut}) == ["body", "head"] and len(cut) == 30


def worker_pids(deployment: Deployment) -> list[int]:
    import redis

    client = redis.Redis.from_url(deployment.redis_url)
    try:
        found = client.keys(f"{deployment.queue}:workers:{socket.gethostname()}:*")
    finally:
        client.close()
    return sorted(int(key.rsplit(b":", 1)[1]) for key in found)


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_forked_processes_answer_and_stop_together_on_sigterm(tmp_path: Path) -> None:
    """`worker --processes 2`: Kiwi is loaded once and two worker loops run in processes forked
    from the one that loaded it; a SIGTERM to it stops both, cleanly."""
    deployment = Deployment()
    env = {**os.environ, **deployment.settings_env()}
    with app_process(deployment, tmp_path, "worker", "--processes", "2") as (parent, _, w_err):
        children = wait_for(
            lambda: len(pids := worker_pids(deployment)) == 2 and pids,
            "two worker processes reporting in",
            PROCESS_SECONDS,
        )
        assert [parent_of(pid) for pid in children] == [parent.pid] * 2
        asked = run_cli(env, "submit", "--timeout", "120", "페트병 어떻게 버려요?")
        assert asked.returncode == 0 and "라벨" in asked.stdout, asked.stderr + w_err.read_text()
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(60) == 0, w_err.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in children)
    records = json_records(w_err)
    assert [r["event"] for r in records].count("worker.started") == 2
    assert not [r for r in records if r["level"] == "error"]


def test_a_forked_process_that_dies_stops_the_others(tmp_path: Path) -> None:
    """They live and end together: whatever supervises the worker restarts the whole."""
    deployment = Deployment()
    with app_process(deployment, tmp_path, "worker", "--processes", "2") as (parent, _, w_err):
        first, second = wait_for(
            lambda: len(pids := worker_pids(deployment)) == 2 and pids,
            "two worker processes reporting in",
            PROCESS_SECONDS,
        )
        os.kill(first, signal.SIGKILL)
        assert parent.wait(60) != 0
    assert not Path(f"/proc/{second}").exists()
    ended = [r for r in json_records(w_err) if r["event"] == "worker.process_ended"]
    assert [(r["pid"], r["status"]) for r in ended] == [(first, -signal.SIGKILL)]
