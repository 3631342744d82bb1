"""A 4-node LangGraph graph run once: the floor for `ask`'s wall time (import, compile, run)."""

from __future__ import annotations

import asyncio
from typing import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph


class State(TypedDict, total=False):
    question: str
    intent: str
    context: str
    answer: str


async def intent(state: State) -> State:
    return {"intent": "waste"}


async def route(state: State) -> State:
    return {}


async def lookup(state: State) -> State:
    return {"context": "라벨을 떼고 헹굽니다."}


async def answer(state: State) -> State:
    return {"answer": state["context"]}


async def main() -> None:
    graph = StateGraph(State)
    for name, node in (
        ("intent", intent),
        ("route", route),
        ("lookup", lookup),
        ("answer", answer),
    ):
        graph.add_node(name, node)
    graph.add_edge(START, "intent")
    graph.add_edge("intent", "route")
    graph.add_edge("route", "lookup")
    graph.add_edge("lookup", "answer")
    graph.add_edge("answer", END)
    compiled = graph.compile(checkpointer=InMemorySaver())
    result = await compiled.ainvoke({"question": "페트병?"}, {"configurable": {"thread_id": "t"}})
    print(result["answer"])


if __name__ == "__main__":
    asyncio.run(main())
