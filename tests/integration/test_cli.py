"""`python -m app` as a user runs it: a real process, the embedded default and a real provider."""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.deadlines import PROCESS_SECONDS
from tests.support.paths import PROFILES

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"


def run_app(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_ask_answers_offline_with_no_key() -> None:
    result = run_app("ask", "페트병 어떻게 버려요?")
    assert result.returncode == 0, result.stderr
    assert "[오프라인 답변" not in result.stdout  # said beside the answer, not in it
    assert "offline answer" in result.stderr
    for step in ("라벨", "헹굽니다", "찌그러뜨려", "뚜껑"):
        assert step in result.stdout
    for stage in ("✓ intent", "✓ router", "✓ waste_rag", "✓ answer"):
        assert stage in result.stderr  # stages shown live; logs stay quiet unless -v


def test_ask_json_lines() -> None:
    result = run_app("ask", "where do used batteries go?", "--json", "--thread", "cli-json-1")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert {e["thread_id"] for e in events} == {"cli-json-1"}
    assert len({e["job_id"] for e in events}) == 1
    deltas = "".join(e["data"]["text"] for e in events if e["type"] == "delta")
    answer, done = events[-2], events[-1]
    assert answer["type"] == "answer" and answer["data"]["text"] == deltas
    assert "Offline answer" not in deltas
    assert done["data"]["provider"] == "offline"
    assert done["type"] == "done" and done["data"]["usage"]["calls"] == 2  # intent + answer


def test_openai_profile_answers_through_the_openai_sdk(openai_server: Any) -> None:
    server, script = openai_server
    result = run_app(
        "ask",
        "how do I recycle a can?",
        env={
            "APP_CONFIG": str(PROFILES / "openai.yaml"),
            "OPENAI_API_KEY": "sk-test-0123456789",
            "APP_LLM__OPENAI__BASE_URL": f"{server.url}/v1",
        },
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "echo: how do I recycle a can?"
    request = script.requests[-1]
    assert request["json"]["stream"] is True and request["json"]["model"] == "gpt-4o-mini"
    assert request["headers"]["user-agent"].startswith("AsyncOpenAI/Python")


def test_provider_failure_is_a_clear_exit(openai_server: Any) -> None:
    server, script = openai_server
    # As OpenAI does: the 401's body names the key it was sent.
    echoed = "Incorrect API key provided: sk-wrong-0000000"
    script.fail(401, {"error": {"message": echoed, "code": "invalid_api_key"}})
    result = run_app(
        "--config",
        str(PROFILES / "openai.yaml"),
        "ask",
        "hi",
        env={"OPENAI_API_KEY": "sk-wrong-0000000", "APP_LLM__OPENAI__BASE_URL": f"{server.url}/v1"},
    )
    assert result.returncode == 1
    assert "provider error: openai 401" in result.stderr
    assert "sk-wrong-0000000" not in result.stderr + result.stdout


def test_config_check_fails_with_the_fix() -> None:
    result = run_app("config", "check", env={"LLM_DEFAULT_PROVIDER": "openai"})
    assert result.returncode == 2
    assert "OPENAI_API_KEY is not set" in result.stderr
    ok = run_app("config", "check")
    assert ok.returncode == 0 and "configuration OK: llm offline" in ok.stdout


def test_config_show_masks_secrets_and_names_sources() -> None:
    result = run_app(
        "config", "show", env={"OPENAI_API_KEY": "sk-show-me-not-123", "WORKER_CONCURRENCY": "12"}
    )
    assert result.returncode == 0, result.stderr
    assert "sk-show-me-not-123" not in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "**********" in lines["llm.openai.api_key"]
    assert "[env OPENAI_API_KEY]" in lines["llm.openai.api_key"]
    assert (
        "12" in lines["worker.concurrency"]
        and "[env WORKER_CONCURRENCY]" in lines["worker.concurrency"]
    )
    assert "[defaults (default.yaml)]" in lines["llm.provider"]


def test_config_show_masks_url_passwords_and_nested_keys() -> None:
    result = run_app(
        "config",
        "show",
        env={
            "REDIS_URL": "redis://:hunter2-redis-pass@127.0.0.1:6379/0",
            "APP_LLM__LANGCHAIN__KWARGS": '{"model": "m", "api_key": "sk-nested-0123456789"}',
        },
    )
    assert result.returncode == 0, result.stderr
    assert "hunter2-redis-pass" not in result.stdout and "sk-nested-0123456789" not in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "redis://:**********@127.0.0.1:6379/0" in lines["redis.url"]
    assert "api_key=**********" in lines["llm.langchain.kwargs"]


def asking_env(tmp_path: Path) -> dict[str, str]:
    """The bulky-waste adapter on its fixture, and a checkpoint file of the test's own: the
    paused turn outlives the process that asked."""
    return {
        "APP_SERVICES__BULK_WASTE__ENABLED": "true",
        "APP_SERVICES__BULK_WASTE__PATH": str(FIXTURES / "FIXTURE_bulky_waste_fees.csv"),
        "APP_CHECKPOINT__SQLITE_PATH": str(tmp_path / "checkpoints.sqlite"),
    }


def test_ctrl_c_at_the_prompt_ends_ask_at_once(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "ask", "소파 버리는 비용 얼마야?"],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **asking_env(tmp_path)},
    )
    os.close(secondary)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # until the question is on screen
            if "어느 구" in line:
                break
        process.send_signal(signal.SIGINT)
        # Nothing is typed: before, the prompt's thread held the exit until Enter.
        process.communicate(timeout=PROCESS_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
        os.close(primary)
    assert process.returncode != 0


def test_ask_off_a_terminal_exits_3_and_input_resumes(tmp_path: Path) -> None:
    env = asking_env(tmp_path)
    asked = run_app("ask", "--json", "--thread", "cli-hitl", "소파 버리는 비용 얼마야?", env=env)
    assert asked.returncode == 3, asked.stderr
    events = [json.loads(line) for line in asked.stdout.splitlines()]
    assert events[-1]["type"] == "needs_input" and events[-1]["data"]["field"] == "district"
    assert not any(e["type"] in ("done", "error") for e in events)
    resumed = run_app("ask", "--thread", "cli-hitl", "--input", "마포구", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "11,111원" in resumed.stdout
    again = run_app("ask", "--thread", "cli-hitl", "--input", "강남구", env=env)
    assert again.returncode == 2 and "not waiting for an answer" in again.stderr


def test_ask_on_a_terminal_prompts_for_the_district(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()  # stdin is a terminal: ask prompts there
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "ask", "소파 버리는 비용 얼마야?"],
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **asking_env(tmp_path)},
    )
    os.close(secondary)
    os.write(primary, "강남구\n".encode())  # read when the prompt asks; the terminal buffers it
    out, err = process.communicate(timeout=PROCESS_SECONDS)
    os.close(primary)
    assert process.returncode == 0, err
    assert "어느 구" in err and "33,333원" in out


def read_terminal(primary: int, process: subprocess.Popen[bytes], deadline: float = 60) -> str:
    """Everything the program drew on its terminal, until it exits and the pty is drained."""
    chunks: list[bytes] = []
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the other side closed: the program has exited
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_ask_on_a_terminal_draws_the_live_view() -> None:
    primary, secondary = pty.openpty()  # stdout and stderr on the terminal: the live view
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "ask",
            "-v",
            "--thread",
            "cli-live-1",
            "페트병 어떻게 버려요?",
        ],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"},
    )
    os.close(secondary)
    screen = read_terminal(primary, process)
    os.close(primary)
    assert process.wait(60) == 0, screen
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen).replace("\r\n", "\n")
    text = "\n".join(line.split("\r")[-1] for line in plain.split("\n"))  # as the screen shows
    for stage in ("✓ ready", "✓ intent", "✓ router", "✓ waste_rag", "✓ answer"):
        assert stage in text
    for step in ("라벨", "헹굽니다", "뚜껑"):
        assert step in text
    assert "thread: cli-live-1 (continue with --thread cli-live-1)" in text
    assert "\x1b[" in screen  # drawn as a live region, not printed as plain lines
    # `-v` logs at INFO while the view runs: each record is a whole line above the view.
    assert re.search(r"^\S+ \[info\s*\] checkpoint\.opened\s", text, re.M), text


def test_help_lists_every_command_with_examples() -> None:
    from app.entrypoints.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    result = run_app("--help")
    assert result.returncode == 0
    listed = dict(re.findall(r"^    (\w+)\s{2,}(\S.*)$", result.stdout, re.M))
    assert (
        set(listed)
        == set(commands.choices)
        >= {"ask", "submit", "worker", "gateway", "doctor", "keys", "config", "eval"}
    )
    assert all(listed.values())
    examples = result.stdout.split("examples:")[1]
    for command in commands.choices:
        if command not in ("keys",):
            assert f"python -m app {command}" in examples
    for flag, command in (("--port", "gateway"), ("--concurrency", "worker")):
        assert flag in run_app(command, "--help").stdout
