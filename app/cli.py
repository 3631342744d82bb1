"""`python -m app`: ask, config show, config check."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from app.application.ports.llm import LLMPort
from app.application.prompts import assistant_system_prompt
from app.application.usage import metered
from app.containers import resolve
from app.domain.errors import ConfigurationError, ExternalServiceError
from app.lifecycle import running_container
from app.observability import configure_from_settings
from app.settings import Settings, load_settings
from app.settings_report import explain

EXIT_CONFIG = 2
EXIT_PROVIDER = 1


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="YAML profile over config/default.yaml (default: $APP_CONFIG)",
    )
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__, parents=[common])
    commands = parser.add_subparsers(dest="command", required=True)

    ask = commands.add_parser(
        "ask", parents=[common], help="answer one question through the configured LLM"
    )
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="JSON lines instead of text")
    ask.add_argument("-v", "--verbose", action="store_true", help="log at the configured level")

    config = commands.add_parser("config", parents=[common], help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser(
        "show", parents=[common], help="effective values, secrets masked, with sources"
    )
    config_commands.add_parser("check", parents=[common], help="validate; non-zero exit on error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config_file = getattr(args, "config", None)
    try:
        settings = load_settings(config_file)
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    quiet = args.command == "ask" and not args.verbose
    configure_from_settings(settings, minimum_level="WARNING" if quiet else None)
    if args.command == "config":
        return (
            show_config(settings, config_file)
            if args.config_command == "show"
            else (check_config(settings))
        )
    try:
        return asyncio.run(ask(settings, args.question, as_json=args.json))
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ExternalServiceError as exc:
        print(f"provider error: {exc}", file=sys.stderr)
        return EXIT_PROVIDER


async def ask(
    settings: Settings, question: str, *, as_json: bool, out: TextIO | None = None
) -> int:
    out = out or sys.stdout
    async with running_container(settings) as container:
        llm: LLMPort = await resolve(container.llm)
        with metered() as usage:
            parts: list[str] = []
            async for chunk in llm.generate_stream(question, system=assistant_system_prompt()):
                parts.append(chunk)
                if as_json:
                    print(
                        json.dumps({"type": "delta", "text": chunk}, ensure_ascii=False), file=out
                    )
                else:
                    print(chunk, end="", file=out, flush=True)
        answer = "".join(parts)
        if as_json:
            record = {
                "type": "answer",
                "text": answer,
                "provider": llm.provider,
                "model": llm.model,
                "usage": usage.total.model_dump() | {"total_tokens": usage.total.total_tokens},
            }
            print(json.dumps(record, ensure_ascii=False), file=out)
        else:
            print(file=out)
    return 0


def show_config(settings: Settings, config_file: str | None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    entries = explain(settings, config_file)
    width = max(len(e.key) for e in entries)
    for entry in entries:
        print(f"{entry.key:<{width}}  {entry.value:<30}  [{entry.source}]", file=out)
    return 0


def check_config(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    services = [name for name in ("kakao", "tavily") if getattr(settings.services, name).enabled]
    print(
        f"configuration OK: llm {settings.llm.provider} ({settings.llm.effective_model}); "
        f"services on: {', '.join(services) or 'none'}; "
        f"tracing {'on' if settings.tracing.enabled else 'off'}",
        file=out,
    )
    return 0
