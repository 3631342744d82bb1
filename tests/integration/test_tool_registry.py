"""A tool the graph has never seen, added as docs/adding-a-tool.md says: its port, an adapter
(here a fake), one registration. A question for it is classified offline by its own cues,
routed, run with its stage events streamed, and answered from what it found."""

from __future__ import annotations

from typing import Any, Protocol

from langgraph.checkpoint.memory import InMemorySaver

from app.application.chat.progress import StageReporter
from app.application.chat.registry import Cues, Labels, Lookup, Tool
from app.application.chat.service import ChatService
from app.application.chat.state import BranchInput, NodeResult
from app.application.chat.tools import found
from app.application.ports.llm import LLMPort
from app.domain.chat import ChatRequest, Source
from app.domain.llm import ContextEntry
from app.infrastructure.llm.factories import offline_llm
from app.infrastructure.orchestration.langgraph.graph import create_chat_graph
from app.infrastructure.orchestration.langgraph.turns import LangGraphTurns
from app.settings import load_settings
from tests.fakes import FakeRetriever, RecordingNotifier
from tests.support.graph_kit import ITEMS


# 1. The port (app/application/ports/…): what the tool needs, in domain terms.
class CollectionDaysPort(Protocol):
    async def days(self, question: str) -> list[str]:
        """The weekdays rubbish is collected where the question asks about."""
        ...


# 2. The adapter (app/infrastructure/…): a fake one here.
class FakeCollectionDays:
    def __init__(self, days: list[str]) -> None:
        self._days = days
        self.calls: list[str] = []

    async def days(self, question: str) -> list[str]:
        self.calls.append(question)
        return self._days


# 3. The registration (app/application/chat/…): its lookup over its port, and its row.
def collection_days(llm: LLMPort, port: CollectionDaysPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        days = await port.days(branch.route.query)
        entry = ContextEntry(lines=(f"수거 요일 (collection days): {', '.join(days)}",))
        return found(branch, [entry], [Source(title="구청 수거 일정", kind="collection_days")])

    return lookup


COLLECTION_DAYS: Tool[CollectionDaysPort] = Tool(
    "collection_days",
    Labels("수거 요일", "collection days"),
    ("collection_days",),
    describes="on which weekdays rubbish is collected",
    cues=Cues(("수거 요일", "무슨 요일", "collection day")),  # before the disposal words
    build=collection_days,
)
QUESTION = "우리 동네 쓰레기 수거 요일이 언제야?"


def chat_with(port: CollectionDaysPort | None) -> tuple[ChatService, RecordingNotifier]:
    llm = offline_llm(load_settings().llm)
    notifier = RecordingNotifier()
    graph = create_chat_graph(
        llm,
        FakeRetriever(ITEMS),
        tools=[COLLECTION_DAYS.over(llm, port)],
        checkpointer=InMemorySaver(),
        reporter=StageReporter(notifier),
    )
    return ChatService(LangGraphTurns(graph), notifier), notifier


def stages(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.stage, e.status) for e in events if e.type == "stage"]


async def test_a_new_tool_is_routed_run_streamed_and_answered() -> None:
    days = FakeCollectionDays(["월요일", "목요일"])
    chat, notifier = chat_with(days)
    result = await chat.run(ChatRequest(message=QUESTION, thread_id="days"), job_id="d1")
    events = notifier.events["d1"]
    assert result.intents == ["collection_days"]  # the offline lexicon read its own cues
    assert days.calls == ["우리 동네 쓰레기 수거 요일이 언제야"]
    router = next(e for e in events if e.stage == "router" and e.status == "completed")
    assert router.data["routes"] == ["collection_days"]
    assert stages(events).index(("collection_days", "started")) < stages(events).index(
        ("collection_days", "completed")
    )
    assert "월요일, 목요일" in result.answer
    assert Source(title="구청 수거 일정", kind="collection_days") in result.sources
    assert events[-1].type == "done" and all(e.job_id == "d1" for e in events)


async def test_switched_off_it_is_still_recognised_and_named_as_off() -> None:
    chat, notifier = chat_with(None)
    result = await chat.run(ChatRequest(message=QUESTION, thread_id="off"), job_id="d2")
    assert "수거 요일은 여기서 바로 찾아볼 수 없어" in result.answer  # its own label, from its row
    assert "collection_days" not in {e.stage for e in notifier.events["d2"]}  # no node
