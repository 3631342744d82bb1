"""The tracing port: spans around the units of work the application layer owns (graph nodes)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

Attribute = str | int | float | bool


class TracingPort(Protocol):
    """Opens a span as a child of the current one; a no-op implementation when tracing is off."""

    def span(
        self, name: str, attributes: dict[str, Attribute] | None = None
    ) -> AbstractContextManager[None]:
        """A span covering the block; an exception leaving it marks the span as failed."""
