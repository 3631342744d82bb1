"""What importing an entry point costs: the gateway loads no LangGraph, `--help` loads nothing."""

from __future__ import annotations

import json
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


def test_the_worker_imports_no_web_framework() -> None:
    """dependency_injector's wiring imports the web frameworks it finds installed; the worker
    wires nothing, and marks them absent before it builds its container."""
    statement = (
        "import sys; from app.entrypoints.worker import NOT_IN_THE_WORKER\n"
        "for name in NOT_IN_THE_WORKER: sys.modules.setdefault(name, None)\n"
        "from app.containers import WorkerContainer, arq_options\n"
        "from app.settings import load_settings\n"
        "arq_options(WorkerContainer(settings=load_settings(role='worker')))\n"
        "import json; print(json.dumps([m for m in sys.modules if sys.modules[m] is not None]))"
    )
    result = subprocess.run([sys.executable, "-c", statement], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = {m.split(".")[0] for m in json.loads(result.stdout)}
    assert not loaded & {"fastapi", "starlette", "werkzeug"}
    assert "dependency_injector" in loaded  # the same container, without them
