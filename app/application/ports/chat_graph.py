"""The compiled chat graph, as the worker and the CLI see it."""

from __future__ import annotations

from typing import Any, Protocol


class ChatGraphPort(Protocol):
    """Runs one turn. A compiled LangGraph graph satisfies this structurally."""

    async def ainvoke(self, input: dict[str, Any], config: Any = None, **kwargs: Any) -> Any: ...
