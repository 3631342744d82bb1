"""ChatGraphPort on a compiled LangGraph graph: `interrupt` pauses, `Command(resume=…)` goes on."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from app.application.chat.state import RunContext
from app.application.ports.jobs import ChatGraphPort, Turn
from app.domain.chat import InputRequest
from app.infrastructure.checkpoint import NEW_THREAD


class LangGraphTurns(ChatGraphPort):
    def __init__(self, graph: CompiledStateGraph[Any, Any, Any, Any]) -> None:
        self._graph = graph

    async def run(
        self, update: dict[str, Any], thread_id: str, job_id: str, *, new_thread: bool = False
    ) -> Turn:
        # A turn is all or nothing: one checkpoint when it ends or pauses, none in between (a
        # re-run after a crash starts the turn over from the previous one).
        config = _config(thread_id)
        if new_thread:
            config["configurable"][NEW_THREAD] = True
        state = await self._graph.ainvoke(
            update, config, context=RunContext(job_id), durability="exit"
        )
        return _turn(state)

    async def resume(self, value: str, thread_id: str, job_id: str) -> Turn:
        # Nodes that paused side by side asked the same thing: the one answer goes to each.
        snapshot = await self._graph.aget_state(_config(thread_id))
        pending = [i.id for task in snapshot.tasks for i in task.interrupts]
        answer: Any = {i: value for i in pending} if len(pending) > 1 else value
        # The resumed nodes run in this job's context: their events are this job's.
        command: Command[Any] = Command(resume=answer)
        state = await self._graph.ainvoke(
            command, _config(thread_id), context=RunContext(job_id), durability="exit"
        )
        return _turn(state)

    async def waiting_for(self, thread_id: str) -> InputRequest | None:
        snapshot = await self._graph.aget_state(_config(thread_id))
        for task in snapshot.tasks:
            for pending in task.interrupts:
                return InputRequest.model_validate(pending.value)
        return None


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


def _turn(state: dict[str, Any]) -> Turn:
    interrupts = state.pop("__interrupt__", None) or []
    asked = InputRequest.model_validate(interrupts[0].value) if interrupts else None
    return Turn(state=state, needs_input=asked)
