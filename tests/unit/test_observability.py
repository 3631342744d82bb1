"""Logs: JSON off a TTY, and secrets never in a line."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog
from pydantic import SecretStr

from app.infrastructure.observability.logging import configure_from_settings
from app.settings import load_settings


@pytest.fixture(autouse=True)
def reset_structlog() -> object:
    yield
    structlog.reset_defaults()


def test_json_lines_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdef123456")
    monkeypatch.setenv("KAKAO_API_KEY", "kakao-key-987654")
    stream = io.StringIO()
    configure_from_settings(load_settings(), stream=stream)
    log = structlog.get_logger("test")
    log.info("calling", url="https://x/?key=kakao-key-987654", api_key="sk-live-abcdef123456")
    log.info("headers", authorization="Bearer sk-live-abcdef123456", model="gpt-4o-mini")
    log.info("object", secret=SecretStr("hidden-value-1"))
    output = stream.getvalue()
    assert "sk-live-abcdef123456" not in output and "kakao-key-987654" not in output
    assert "hidden-value-1" not in output
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines[0]["event"] == "calling" and lines[0]["url"] == "https://x/?key=[redacted]"
    assert lines[1]["model"] == "gpt-4o-mini" and lines[1]["authorization"] == "[redacted]"


def test_bound_context_appears_on_every_line() -> None:
    stream = io.StringIO()
    configure_from_settings(load_settings(), stream=stream)
    structlog.contextvars.bind_contextvars(job_id="j-1")
    try:
        structlog.get_logger().info("step")
    finally:
        structlog.contextvars.clear_contextvars()
    assert json.loads(stream.getvalue())["job_id"] == "j-1"


def test_level_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    configure_from_settings(load_settings(logging={"level": "WARNING"}), stream=stream)
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud")
    assert "quiet" not in stream.getvalue() and "loud" in stream.getvalue()


def test_library_records_join_the_pipeline_once() -> None:
    """uvicorn's and arq's stdlib records come out as JSON beside ours, each exactly once, even
    after a second configure (the container's, after the entry point's) and a handler of their
    own that a dictConfig left behind."""
    stream = io.StringIO()
    logging.getLogger("arq.worker").addHandler(logging.StreamHandler(stream))
    configure_from_settings(load_settings(), stream=stream)
    configure_from_settings(load_settings(), stream=stream)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("arq.worker").info("%6.2fs → %s", 0.01, "job-1:chat()")
    logging.getLogger("httpx").info("HTTP Request: GET https://example.invalid/ 200")
    logging.getLogger("httpx").warning("a library warning")
    structlog.get_logger("app.test").info("ours", job_id="j-2")
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(r["logger"], r["event"]) for r in records] == [
        ("uvicorn.error", "Started server process [42]"),
        ("arq.worker", "  0.01s → job-1:chat()"),
        ("httpx", "a library warning"),  # httpx's INFO (a line per request) stays out
        ("app.test", "ours"),
    ]
    assert all(r["timestamp"] and r["level"] for r in records)


def test_library_records_are_redacted_and_get_bound_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdef123456")
    stream = io.StringIO()
    configure_from_settings(load_settings(), stream=stream)
    structlog.contextvars.bind_contextvars(job_id="j-3")
    try:
        logging.getLogger("arq.worker").warning("retrying with key %s", "sk-live-abcdef123456")
    finally:
        structlog.contextvars.clear_contextvars()
    record = json.loads(stream.getvalue())
    assert record["event"] == "retrying with key [redacted]" and record["job_id"] == "j-3"


def test_console_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    configure_from_settings(load_settings(), stream=stream)
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    line = stream.getvalue()
    assert "Application startup complete." in line and not line.lstrip().startswith("{")
