"""What importing an entry point costs: the gateway loads no LangGraph, `--help` loads nothing."""

from __future__ import annotations

import subprocess
import sys


def imported_modules(statement: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        capture_output=True,
        text=True,
        check=True,
    )
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}


def test_the_gateway_imports_no_graph_sdk_or_worker() -> None:
    modules = imported_modules("import app.entrypoints.gateway.app")
    loaded = {m.split(".")[0] for m in modules}
    assert not loaded & {"langgraph", "langchain_core", "openai", "anthropic"}
    assert "app.containers" not in modules  # the root: the worker's and the CLI's


def test_the_cli_parser_imports_neither_settings_nor_containers() -> None:
    modules = imported_modules("from app.entrypoints.cli import build_parser; build_parser()")
    assert not {m for m in modules if m.startswith(("app.settings", "app.containers", "pydantic"))}
