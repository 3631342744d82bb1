"""Cost of the chat graph: compiling it, and one turn with an instant fake LLM.

    .venv/bin/python bench/graph.py

The worker compiles once per process; these figures say why (compare the two in one run).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph.checkpoint.memory import InMemorySaver

from app.application.chat.service import ChatService
from app.domain.chat import ChatRequest, IntentClassification, IntentScore
from app.infrastructure.orchestration.langgraph.graph import create_chat_graph
from app.infrastructure.orchestration.langgraph.turns import LangGraphTurns
from tests.fakes import FakeLLM, FakeRetriever
from tests.support.graph_kit import ITEMS

ROUNDS = 200


def instant_llm() -> FakeLLM:
    intents = IntentClassification(intents=[IntentScore(intent="waste", confidence=0.9)])
    return FakeLLM(["답변"], structured={IntentClassification: intents})


def compile_once() -> float:
    started = time.perf_counter()
    create_chat_graph(instant_llm(), FakeRetriever(ITEMS), checkpointer=InMemorySaver())
    return (time.perf_counter() - started) * 1000


async def turns() -> list[float]:
    graph = create_chat_graph(instant_llm(), FakeRetriever(ITEMS), checkpointer=InMemorySaver())
    chat = ChatService(LangGraphTurns(graph))
    timings = []
    for i in range(ROUNDS):
        request = ChatRequest(message="페트병 어떻게 버려요?", thread_id=f"bench-{i}")
        started = time.perf_counter()
        await chat.run(request)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    compiles = [compile_once() for _ in range(50)]
    runs = asyncio.run(turns())[10:]
    print(f"compile create_chat_graph: median {statistics.median(compiles):.2f} ms")
    print(
        f"one turn, instant fake LLM: median {statistics.median(runs):.2f} ms, "
        f"p95 {sorted(runs)[int(len(runs) * 0.95)]:.2f} ms"
    )
    print(f"ratio compile / turn: {statistics.median(compiles) / statistics.median(runs):.2f}")


if __name__ == "__main__":
    main()
