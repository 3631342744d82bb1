"""The tracing port: spans around the units of work the application layer owns (graph nodes)."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Protocol

Attribute = str | int | float | bool


class TracingPort(Protocol):
    """Opens a span as a child of the current one; a no-op implementation when tracing is off."""

    def span(
        self,
        name: str,
        attributes: dict[str, Attribute] | None = None,
        *,
        remote_parent: Mapping[str, str] | None = None,
    ) -> AbstractContextManager[None]:
        """A span covering the block; an exception leaving it marks the span as failed.
        `remote_parent` (a caller's W3C `traceparent` headers) continues the caller's trace."""
