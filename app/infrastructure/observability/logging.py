"""structlog, configured once at the edge: JSON off a TTY, console on one, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncIterator, Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from pydantic import SecretStr

from app.settings import LoggingSettings, Settings
from app.settings.masking import secret_values

SENSITIVE_KEY = re.compile(r"(api[_-]?key|authorization|password|secret|(^|_)token$|cookie)", re.I)
REDACTED = "[redacted]"


class SecretRedactor:
    """Masks values under sensitive keys and any known secret wherever it appears in a line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would mask ordinary words; real keys are long.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in list(event.items()):
            if (SENSITIVE_KEY.search(key) and key != "event") or isinstance(value, SecretStr):
                event[key] = REDACTED
            elif isinstance(value, str) and self._secrets:
                event[key] = self._mask(value)
        return event

    def _mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


def configure_logging(
    settings: LoggingSettings,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Idempotent: the worker, gateway and CLI each call it once at start."""
    stream = stream or sys.stderr
    use_json = settings.format == "json" or (settings.format == "auto" and not stream.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    level = logging.getLevelNamesMapping()[settings.level]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_trace_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            SecretRedactor(secrets),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (httpx, openai) log through stdlib; keep them quiet unless we debug.
    logging.basicConfig(level=max(level, logging.WARNING), stream=stream, force=True)


def configure_from_settings(
    settings: Settings, stream: TextIO | None = None, minimum_level: str | None = None
) -> None:
    """Configure from settings; `minimum_level` raises the floor (the CLI keeps `ask` quiet)."""
    logging_settings = settings.logging
    if minimum_level is not None and (
        logging.getLevelNamesMapping()[minimum_level]
        > logging.getLevelNamesMapping()[logging_settings.level]
    ):
        logging_settings = logging_settings.model_copy(update={"level": minimum_level})
    configure_logging(logging_settings, secret_values(settings), stream)


async def logging_resource(settings: Settings) -> AsyncIterator[None]:
    """Container Resource: logging as this process's settings say, from start to stop."""
    configure_from_settings(settings)
    yield


def add_trace_ids(
    logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The current OpenTelemetry span's ids on every line, so a log line finds its trace."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event.setdefault("trace_id", format(context.trace_id, "032x"))
        event.setdefault("span_id", format(context.span_id, "016x"))
    return event
