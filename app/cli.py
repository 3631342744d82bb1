"""`python -m app`: ask, config show, config check."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from typing import TextIO

from pydantic import ValidationError

from app.application.chat.service import ChatService
from app.containers import resolve
from app.domain.chat import ChatRequest
from app.domain.errors import ConfigurationError, ExternalServiceError
from app.infrastructure.progress.stream import StreamProgressNotifier
from app.lifecycle import running_container
from app.observability import configure_from_settings
from app.settings import Settings, load_settings
from app.settings.report import explain

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
    ask.add_argument("--json", action="store_true", help="every progress event as a JSON line")
    ask.add_argument("--thread", help="continue this conversation (the id a previous ask printed)")
    ask.add_argument("--image", help="an image URL (http(s) or data:image/...) to look at")
    ask.add_argument("-v", "--verbose", action="store_true", help="log at the configured level")

    commands.add_parser(
        "doctor", parents=[common], help="one live call per configured provider and service"
    )
    commands.add_parser("worker", parents=[common], help="run the arq worker (Redis queue)")
    commands.add_parser("gateway", parents=[common], help="run the HTTP gateway and chat page")
    submit = commands.add_parser(
        "submit", parents=[common], help="enqueue a question through Redis and print its events"
    )
    submit.add_argument("question")
    submit.add_argument("--thread", help="continue this conversation")
    submit.add_argument("--json", action="store_true", help="every event as a JSON line")
    submit.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")

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
    quiet = args.command in ("ask", "doctor") and not getattr(args, "verbose", False)
    configure_from_settings(settings, minimum_level="WARNING" if quiet else None)
    if args.command == "doctor":
        from app.doctor import run_doctor

        return asyncio.run(run_doctor(settings, sys.stdout))
    if args.command == "worker":
        from app.worker import run

        run(settings)
        return 0
    if args.command == "gateway":
        import uvicorn

        from app.gateway.app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.gateway.host,
            port=settings.gateway.port,
            log_config=None,
        )
        return 0
    if args.command == "submit":
        from app.submit import submit

        return asyncio.run(
            submit(
                settings,
                args.question,
                thread=args.thread,
                as_json=args.json,
                wait_seconds=args.timeout,
            )
        )
    if args.command == "config":
        return (
            show_config(settings, config_file)
            if args.config_command == "show"
            else (check_config(settings))
        )
    try:
        return asyncio.run(
            ask(settings, args.question, as_json=args.json, thread=args.thread, image=args.image)
        )
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ExternalServiceError as exc:
        print(f"provider error: {exc}", file=sys.stderr)
        return EXIT_PROVIDER


async def ask(
    settings: Settings,
    question: str,
    *,
    as_json: bool,
    thread: str | None = None,
    image: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """One turn through the real chat graph, its stages shown live as they run."""
    err = err or sys.stderr
    try:
        request = ChatRequest(
            message=question, thread_id=thread or f"cli-{uuid.uuid4().hex[:12]}", image_url=image
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"invalid question: {problems}", file=err)
        return EXIT_CONFIG
    async with running_container(settings) as container:
        notifier = StreamProgressNotifier(json_lines=as_json, out=out, err=err)
        container.progress_notifier.override(notifier)
        service: ChatService = await resolve(container.chat_service)
        result = await service.run(request)
    if not as_json:
        sources = ", ".join(s.title for s in result.sources)
        print(
            f"  sources: {sources or '-'} · thread: {result.thread_id} "
            f"(continue with --thread {result.thread_id})",
            file=err,
        )
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
    services = [
        name
        for name in type(settings.services).model_fields
        if getattr(settings.services, name).enabled
    ]
    print(
        f"configuration OK: llm {settings.llm.provider} ({settings.llm.effective_model}); "
        f"services on: {', '.join(services) or 'none'}; "
        f"tracing {'on' if settings.tracing.enabled else 'off'}",
        file=out,
    )
    return 0
