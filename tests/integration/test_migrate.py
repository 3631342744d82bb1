"""`python -m app migrate`: the conversation tables for the configured backend, made once."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.conversation_stores import closed_port, postgres_reason, postgres_schema
from tests.support.deadlines import PROCESS_SECONDS


def run_migrate(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "app", "migrate"]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=PROCESS_SECONDS,
        env={**os.environ, **env},
        check=False,
    )


def test_migrate_makes_the_tables_for_the_configured_backend(tmp_path: Path) -> None:
    database = tmp_path / "var" / "conversations.sqlite3"
    for _ in range(2):  # and again: nothing changes
        result = run_migrate({"APP_CONVERSATIONS__SQLITE_PATH": str(database)})
        assert result.returncode == 0, result.stderr
    assert "tables ready (sqlite" in result.stdout
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert {"eco2_conversations", "eco2_messages", "eco2_messages_turn"} <= tables
    assert journal == "wal"
    if reason := postgres_reason():
        pytest.skip(reason)
    with postgres_schema() as url:
        env = {"APP_CONVERSATIONS__BACKEND": "postgres", "POSTGRES_URL": url}
        for _ in range(2):
            result = run_migrate(env)
            assert result.returncode == 0, result.stderr
        import psycopg

        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM eco2_messages").fetchone() == (0,)


def test_migrate_against_postgresql_down_exits_unavailable() -> None:
    env = {
        "APP_CONVERSATIONS__BACKEND": "postgres",
        "APP_CONVERSATIONS__TIMEOUT": "0.5",
        "POSTGRES_URL": f"postgresql://eco2@127.0.0.1:{closed_port()}/eco2",
    }
    result = run_migrate(env)
    assert result.returncode == 69, result.stderr
    assert "conversation store (postgres) is unreachable" in result.stderr


def test_the_postgres_backend_without_a_url_is_refused_at_load() -> None:
    from app.domain.errors import ConfigurationError
    from app.settings import load_settings

    with pytest.raises(ConfigurationError, match=r"conversations\.backend is 'postgres'"):
        load_settings(conversations={"backend": "postgres"})
    assert load_settings().conversations.sqlite_path == Path("var/conversations.sqlite3")
