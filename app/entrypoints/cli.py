"""`eco2` (or `python -m app`): the chat worker's command line.

Each command imports what it needs when it runs, so `--help` answers at once.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Role, Settings

EXIT_CONFIG = 2
EXIT_PROVIDER = 1
EXIT_UNREACHABLE = 69  # sysexits' EX_UNAVAILABLE: Redis or PostgreSQL is not there

DESCRIPTION = "eco2 chat worker: waste-disposal questions answered by a LangGraph chat graph."
EXAMPLES = """examples:
  answer here (offline by default)     %(prog)s ask "페트병 어떻게 버려요?"
  one JSON line per event              %(prog)s ask --json "where do batteries go?"
  answer what a thread waits on        %(prog)s ask --thread cli-1a2b --input 마포구
  run a worker (needs Redis)           %(prog)s worker --concurrency 4 --processes 2
  serve the HTTP API and chat page     %(prog)s gateway --host 0.0.0.0 --port 8080
  queue a chat for the workers         %(prog)s submit "소파 버리는 비용 얼마야?"
  one live call per service            %(prog)s doctor
  create the conversation tables       %(prog)s migrate
  rebuild the shipped keyword indexes  %(prog)s index
  effective settings, with sources     %(prog)s config show
  answer accuracy per kind             %(prog)s eval tests/data/answer_eval.yaml

settings: --config FILE (or APP_CONFIG) over the packaged defaults, then the environment
(REDIS_URL, POSTGRES_URL, LLM_DEFAULT_PROVIDER, OPENAI_API_KEY, APP_<SECTION>__<KEY>), then
the flags above."""


def program_name() -> str:
    """`eco2` when run as the console script, `python -m app` otherwise."""
    return "eco2" if os.path.basename(sys.argv[0]) == "eco2" else "python -m app"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="YAML profile over the packaged defaults (default: $APP_CONFIG)",
    )
    parser = argparse.ArgumentParser(
        prog=program_name(),
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser(
        "ask", parents=[common], help="answer one question here, through the configured LLM"
    )
    ask.add_argument("question", nargs="?", help="the question (omit with --input)")
    ask.add_argument("--json", action="store_true", help="every progress event as a JSON line")
    ask.add_argument("--thread", help="continue this conversation (the id a previous ask printed)")
    ask.add_argument("--image", help="an image URL (http(s) or data:image/...) to look at")
    ask.add_argument(
        "--input",
        dest="answer",
        help="answer the question the thread waits on (with --thread), e.g. your district",
    )
    ask.add_argument("-v", "--verbose", action="store_true", help="log at the configured level")

    submit = commands.add_parser(
        "submit", parents=[common], help="queue a question for the workers and show its events"
    )
    submit.add_argument("question")
    submit.add_argument("--thread", help="continue this conversation")
    submit.add_argument("--json", action="store_true", help="every event as a JSON line")
    submit.add_argument("--timeout", type=float, default=120.0, help="seconds to wait")

    worker = commands.add_parser(
        "worker", parents=[common], help="run the arq worker (Redis queue)"
    )
    worker.add_argument(
        "--concurrency", type=int, help="chats at once (default: worker.concurrency, 10)"
    )
    worker.add_argument(
        "--processes",
        type=int,
        help="worker processes sharing one Kiwi (default: worker.processes, 1)",
    )
    gateway = commands.add_parser(
        "gateway", parents=[common], help="run the HTTP gateway and chat page"
    )
    gateway.add_argument("--host", help="address to bind (default: gateway.host, 127.0.0.1)")
    gateway.add_argument("--port", type=int, help="port to bind (default: gateway.port, 8000)")
    commands.add_parser(
        "doctor", parents=[common], help="one live call per configured provider and service"
    )
    evaluate = commands.add_parser(
        "eval", parents=[common], help="answer an evaluation set; accuracy per kind and misses"
    )
    evaluate.add_argument("file", help="a YAML list of cases (tests/data/answer_eval.yaml)")
    evaluate.add_argument("--min-overall", type=float, default=0.0, help="exit 1 below this")
    evaluate.add_argument("--min-kind", type=float, default=0.0, help="exit 1 if a kind is below")
    evaluate.add_argument(
        "--half", choices=["tuning", "held-out"], help="only odd (tuning) or even (held-out) ids"
    )

    commands.add_parser(
        "migrate",
        parents=[common],
        help="create the conversation store's tables (conversations.backend); safe to repeat",
    )
    commands.add_parser(
        "index",
        parents=[common],
        help="rebuild the keyword indexes shipped with the knowledge base (after editing it)",
    )
    keys = commands.add_parser("keys", parents=[common], help="API keys: create, list, revoke")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", parents=[common], help="a new key (shown once)")
    create.add_argument("principal", help="who the key is for (lowercase name)")
    key_commands.add_parser("list", parents=[common], help="every key, never the secret")
    revoke = key_commands.add_parser("revoke", parents=[common], help="stop a key working")
    revoke.add_argument("key_id", help="the id `keys list` shows")

    config = commands.add_parser("config", parents=[common], help="inspect the configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    config_commands.add_parser(
        "show", parents=[common], help="effective values, secrets masked, with sources"
    )
    config_commands.add_parser("check", parents=[common], help="validate; non-zero exit on error")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from app.application.ports.llm import ExternalServiceError
    from app.domain.errors import ConfigurationError, ServiceUnreachable
    from app.settings import load_settings

    config_file = getattr(args, "config", None)
    try:
        settings = load_settings(
            config_file, role=ROLES.get(args.command, "any"), **overrides(args)
        )
        return dispatch(args, settings, config_file)
    except ServiceUnreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except ConfigurationError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ExternalServiceError as exc:
        # Never the provider's own text: a 401 body can echo the key it was sent.
        print(f"provider error: {provider_error(exc)}", file=sys.stderr)
        return EXIT_PROVIDER


def provider_error(exc: Exception) -> str:
    """What a failed provider call may show on a terminal: who, the status, our words."""
    from app.application.errors import public_error
    from app.application.ports.llm import ExternalServiceError

    said = public_error(exc)["message"]
    if not isinstance(exc, ExternalServiceError):
        return said
    status = f" {exc.status}" if exc.status is not None else ""
    return f"{exc.provider}{status}: {said}"


# The processes that hold only their own secrets (every other command may use any of them).
ROLES: dict[str, Role] = {"gateway": "gateway", "worker": "worker", "migrate": "migrate"}


def overrides(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """Command-line flags over every other source of settings."""
    sections: dict[str, dict[str, object]] = {}
    for flag, section, key in (
        ("host", "gateway", "host"),
        ("port", "gateway", "port"),
        ("concurrency", "worker", "concurrency"),
        ("processes", "worker", "processes"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            sections.setdefault(section, {})[key] = value
    return sections


def dispatch(args: argparse.Namespace, settings: Settings, config_file: str | None) -> int:
    command = args.command
    if command == "ask":
        from app.entrypoints.ask import ask

        return asyncio.run(
            ask(
                settings if args.verbose else quiet(settings),
                args.question,
                as_json=args.json,
                thread=args.thread,
                image=args.image,
                answer=args.answer,
            )
        )
    if command == "submit":
        from app.entrypoints.submit import submit

        return asyncio.run(
            submit(
                quiet(settings),
                args.question,
                thread=args.thread,
                as_json=args.json,
                wait_seconds=args.timeout,
            )
        )
    if command == "worker":
        from app.entrypoints.worker import run

        run(settings)
        return 0
    if command == "gateway":
        from app.entrypoints.gateway.serve import serve

        serve(settings)
        return 0
    if command == "eval":
        from pathlib import Path

        from app.entrypoints.evaluate import evaluate

        return asyncio.run(
            evaluate(
                quiet(settings),
                Path(args.file),
                min_overall=args.min_overall,
                min_kind=args.min_kind,
                half=args.half,
            )
        )
    if command == "keys":
        from app.entrypoints.keys import keys

        argument = getattr(args, "principal", None) or getattr(args, "key_id", None)
        return asyncio.run(keys(quiet(settings), args.keys_command, argument))
    return upkeep(args, settings, config_file)


def upkeep(args: argparse.Namespace, settings: Settings, config_file: str | None) -> int:
    """The commands that look after the installation rather than answer questions."""
    command = args.command
    if command == "doctor":
        from app.entrypoints.doctor import run_doctor

        return asyncio.run(run_doctor(quiet(settings), sys.stdout))
    if command == "migrate":
        from app.entrypoints.migrate import migrate

        return asyncio.run(migrate(quiet(settings), sys.stdout))
    if command == "index":
        from app.containers_retrieval import BuildSteps

        print("\n".join(BuildSteps().keyword_indexes()))
        return 0
    from app.entrypoints.config import check_config, show_config

    if args.config_command == "show":
        return show_config(settings, config_file)
    return check_config(settings)


def quiet(settings: Settings) -> Settings:
    """Interactive commands log warnings and errors only, unless `-v`."""
    if settings.logging.level in ("WARNING", "ERROR"):
        return settings
    logging = settings.logging.model_copy(update={"level": "WARNING"})
    return settings.model_copy(update={"logging": logging})
