"""One log pipeline for the process: structlog's records and the stdlib's (uvicorn, arq, httpx)
pass the same processors and leave through one root handler, exactly once each: JSON off a TTY,
console on one, secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import AsyncIterator, Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from pydantic import SecretStr
from structlog.typing import Processor

from app.settings import LoggingSettings, Settings
from app.settings.masking import secret_values

SENSITIVE_KEY = re.compile(r"(api[_-]?key|authorization|password|secret|(^|_)token$|cookie)", re.I)
REDACTED = "[redacted]"
# Loggers whose INFO records are worth a line (the server's start, the queue's jobs, access).
# Other libraries (httpx logs every request at INFO) pass from WARNING up, unless we debug.
CHATTY_FLOOR = logging.WARNING
INFO_LIBRARIES = ("uvicorn", "arq")


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


def shared_processors(secrets: Iterable[str]) -> list[Processor]:
    """The chain every record passes, structlog's and the stdlib's alike, before rendering.
    A new step (a trace id, say) goes in this list, and so applies to both."""
    return [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        SecretRedactor(secrets),
    ]


class LibraryFloor(logging.Filter):
    """Below WARNING, only our records (already filtered by structlog) and the INFO_LIBRARIES'
    pass; the rest of the stdlib's need DEBUG to be shown under WARNING."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= max(self._level, CHATTY_FLOOR) or self._level <= logging.DEBUG:
            return True
        ours = hasattr(record, "_logger")  # set by ProcessorFormatter.wrap_for_formatter
        return ours or record.name.partition(".")[0] in INFO_LIBRARIES


class CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at the time, so a live terminal view that redirects
    stderr (rich's Live) prints log lines above itself instead of through its frame."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """StreamHandler sets it in __init__; the current stderr is always used instead."""


def configure_logging(
    settings: LoggingSettings,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Idempotent: the worker, gateway and CLI each call it at start (and their container
    again); each call replaces the root handler, so no record is ever written twice."""
    target = stream or sys.stderr
    use_json = settings.format == "json" or (settings.format == "auto" and not target.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if use_json
        else structlog.dev.ConsoleRenderer(colors=target.isatty())
    )
    level = logging.getLevelNamesMapping()[settings.level]
    chain = shared_processors(secrets)
    structlog.configure(
        processors=[*chain, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = CurrentStderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=chain,  # the stdlib's records: the same steps as ours
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    handler.addFilter(LibraryFloor(level))
    install_root_handler(handler, level)


def install_root_handler(handler: logging.Handler, level: int) -> None:
    """The one handler every record leaves through."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # A library's own handlers (uvicorn's or arq's dictConfig) would print its records a
    # second time, in another format: theirs go to the root handler instead. (A logger left
    # without handlers and not propagating, as uvicorn leaves its access log when told
    # access_log=False, stays silent.)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker"):
        library = logging.getLogger(name)
        if library.handlers:
            library.handlers.clear()
            library.propagate = True


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
