"""LangGraph Studio (`langgraph dev`, langgraph.json): the chat graph as the CLI composes it.

The settings are the CLI's (`APP_CONFIG`, the environment, `.env`): offline with no API key,
a real provider when `llm.provider` and its key say so. A run's input is `{"draft": {"message":
"…"}}`; a question back (which district?) pauses the run with an interrupt, and
`Command(resume="마포구")` answers it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from app.containers import StudioContainer
from app.containers_core import resolve
from app.settings import load_settings

if TYPE_CHECKING:
    from langgraph.graph.state import CompiledStateGraph

    ChatGraph = CompiledStateGraph[Any, Any, Any, Any]


class StudioGraph:
    """The graph factory langgraph.json names. LangGraph's server calls it for every run and
    every read of a thread, while building the graph costs seconds of CPU (Kiwi's model, the
    BM25 index): it is built on the first call and kept for the server's process. It is built
    in the server's event loop, where it runs (its async clients belong to that loop), and its
    pools close with the process: the server has no shutdown hook for a graph."""

    def __init__(self) -> None:
        self._built: asyncio.Task[ChatGraph] | None = None

    async def __call__(self) -> ChatGraph:
        if self._built is None or _failed(self._built):  # a failed build is tried again
            self._built = asyncio.create_task(_build(), name="studio-graph")
        # Shielded: a request that goes away must not cancel the build another one waits on.
        return await asyncio.shield(self._built)


def _failed(task: asyncio.Task[Any]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)


async def _build() -> ChatGraph:
    graph: ChatGraph = await resolve(StudioContainer(settings=load_settings()).chat.graph)
    return graph


# The one name langgraph.json needs; nothing is read or built until the server calls it.
graph = StudioGraph()
