"""Checkpoints keep the state typed (SQLite and PostgreSQL), and revive our classes only."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.serde.event_hooks import SerdeEvent, register_serde_event_listener
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.types import Send
from pydantic import BaseModel

from app.application.chat.routing import Route
from app.application.chat.state import (
    RESET,
    BranchInput,
    LookupStatus,
    NodeResult,
    checkpoint_types,
)
from app.application.ports.llm import ProviderUnavailable
from app.containers_core import resolve
from app.domain.chat import ChatRequest, Intent, IntentClassification, Location, Source
from app.domain.llm import ChatMessage, ContextEntry, Role
from app.domain.tools import CollectionPoint, VisionResult, WeatherReport
from app.domain.waste import WasteCategory
from app.infrastructure.checkpoint import state_serializer
from tests.fakes import FakeCollectionPoints, FakeVision, FakeWeather
from tests.support.graph_kit import chat_kit
from tests.support.services import POSTGRES_URL, require_postgres

GANGNAM = Location(latitude=37.4979, longitude=127.0276, address="강남역")
# A photo, a place and a failing service: every kind of value the state holds.
FIRST = "이거 어떻게 버려요? 그리고 오늘 밤 비 와?"


class Foreign(BaseModel):
    """A class that is not part of the chat state."""

    command: str


@pytest.fixture
def serde_events() -> Iterator[list[SerdeEvent]]:
    """Every allow-list event. LangGraph logs each unregistered type once per process, so
    the log alone could stay silent because an earlier test already warned."""
    events: list[SerdeEvent] = []
    unregister = register_serde_event_listener(events.append)
    yield events
    unregister()


def services() -> dict[str, Any]:
    down = ProviderUnavailable("down", provider="kma", status=503)
    bins = [CollectionPoint(name="역삼동 재활용센터", kind="recycling_center", address="역삼동")]
    return {
        "vision_model": FakeVision(
            VisionResult(item_name="페트병", category=WasteCategory.PET, confidence=0.9)
        ),
        "weather_client": FakeWeather(WeatherReport(summary="비"), error=down),
        "collection_point_client": FakeCollectionPoints(bins),
    }


async def two_turns_then_read(**kit: Any) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Turn one in one container, read back by another; turn two in a third (so it starts
    from the database), read back by a fourth. Also: how many checkpoints the thread keeps."""
    thread = f"serde-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread}}
    first = ChatRequest(
        message=FIRST, thread_id=thread, image_url="https://img.test/x.jpg", location=GANGNAM
    )
    async with chat_kit(**kit, **services()) as (chat, _, _c):
        await chat.run(first)
    async with chat_kit(**kit, **services()) as (_, _n, container):
        after_first = (await (await resolve(container.chat.graph)).aget_state(config)).values
    async with chat_kit(**kit, **services()) as (chat, _, _c):
        await chat.run(ChatRequest(message="뚜껑은요?", thread_id=thread))
    async with chat_kit(**kit, **services()) as (_, _n, container):
        saver = await resolve(container.chat.checkpointer)
        kept = len([saved async for saved in saver.alist(config)])
        graph = await resolve(container.chat.graph)
        return after_first, (await graph.aget_state(config)).values, kept


def assert_typed(state: dict[str, Any]) -> None:
    assert isinstance(state["request"], ChatRequest) and state["request"].message == "뚜껑은요?"
    assert isinstance(state["classification"], IntentClassification)
    assert all(isinstance(score.intent, Intent) for score in state["classification"].intents)
    assert state["recent_intents"] == [Intent.WASTE, Intent.WASTE]
    assert all(isinstance(intent, Intent) for intent in state["recent_intents"])
    assert all(isinstance(m, ChatMessage) for m in state["history"])
    assert [m.role for m in state["history"]] == [Role.USER, Role.ASSISTANT] * 2
    assert state["history"][0].content == FIRST
    assert all(isinstance(r, Route) and isinstance(r.intent, Intent) for r in state["routes"])
    results = state["contexts"].values()
    assert results and all(isinstance(r, NodeResult) for r in results)
    found = state["contexts"]["waste_rag"]
    assert found.status is LookupStatus.OK and isinstance(found.entries[0], ContextEntry)
    assert found.entries[0].steps and isinstance(found.sources[0], Source)


def assert_first_turn_kept(state: dict[str, Any]) -> None:
    """The first turn as stored: the photo, a failed lookup, the request's place."""
    assert (
        isinstance(state["vision"], VisionResult) and state["vision"].category is WasteCategory.PET
    )
    assert any(isinstance(r, NodeResult) and r.failed for r in state["contexts"].values())
    assert state["request"].location == GANGNAM


def test_what_the_graph_sends_between_nodes_round_trips_typed() -> None:
    """Sends, branch inputs and the per-turn reset, as pending writes hold them."""
    serde = state_serializer()
    branch = BranchInput.model_validate(
        {
            "request": ChatRequest(message=FIRST, thread_id="t", location=GANGNAM),
            "route": Route(
                node="waste_rag", intent=Intent.WASTE, query="q", reason="r", slot="waste_rag"
            ),
            "vision": None,
        }
    )
    revived = serde.loads_typed(serde.dumps_typed([Send("waste_rag", branch), RESET]))
    assert isinstance(revived[0], Send) and isinstance(revived[0].arg, BranchInput)
    assert revived[0].arg.request.location == GANGNAM and revived[1] is RESET


def assert_nothing_unregistered(events: list[SerdeEvent], caplog: pytest.LogCaptureFixture) -> None:
    assert events == []
    assert not [r for r in caplog.records if "unregistered type" in r.getMessage()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_state_round_trips_typed_without_unregistered_types(
    backend: str,
    tmp_path: Path,
    serde_events: list[SerdeEvent],
    caplog: pytest.LogCaptureFixture,
) -> None:
    kit: dict[str, Any] = {"checkpoint": backend}
    if backend == "sqlite":
        kit["checkpoint_settings"] = {"sqlite_path": str(tmp_path / "threads.sqlite")}
    else:
        require_postgres()
        kit["settings"] = {"postgres": {"url": POSTGRES_URL}}
    with caplog.at_level(logging.WARNING, logger="langgraph"):
        after_first, state, kept = await two_turns_then_read(**kit)
    assert_first_turn_kept(after_first)
    assert_typed(state)
    assert kept == 1  # the latest checkpoint only: storage stays the size of the state
    assert_nothing_unregistered(serde_events, caplog)


def test_a_checkpoint_revives_nothing_but_the_state_types(
    serde_events: list[SerdeEvent],
) -> None:
    serde = state_serializer()
    stored = serde.dumps_typed({"ours": RESET, "theirs": Foreign(command="rm -rf /")})
    revived = serde.loads_typed(stored)
    assert revived["ours"] is RESET
    assert revived["theirs"] == {"command": "rm -rf /"}  # left as data, never constructed
    assert [(e["kind"], e["name"]) for e in serde_events] == [("msgpack_blocked", "Foreign")]


def test_the_default_serializer_would_have_revived_anything(
    serde_events: list[SerdeEvent],
) -> None:
    """The control for the round-trip test: without our allow-list the events do fire."""
    default = JsonPlusSerializer()
    assert isinstance(default.loads_typed(default.dumps_typed(RESET)), type(RESET))
    assert [e["kind"] for e in serde_events] == ["msgpack_unregistered_allowed"]


def test_the_allow_list_is_the_state_types_exactly() -> None:
    names = {(t.__module__, t.__name__) for t in checkpoint_types()}
    assert names == {
        ("app.application.chat.routing", "Route"),
        ("app.application.chat.state", "BranchInput"),
        ("app.application.chat.state", "LookupStatus"),
        ("app.application.chat.state", "NodeResult"),
        ("app.application.chat.state", "ReplaceHistory"),
        ("app.application.chat.state", "Reset"),
        ("app.domain.chat", "ChatRequest"),
        ("app.domain.chat", "Grade"),
        ("app.domain.chat", "Intent"),
        ("app.domain.chat", "IntentClassification"),
        ("app.domain.chat", "IntentScore"),
        ("app.domain.chat", "Location"),
        ("app.domain.chat", "Source"),
        ("app.domain.chat", "Subject"),
        ("app.domain.llm", "ChatMessage"),
        ("app.domain.llm", "ContextEntry"),
        ("app.domain.llm", "Role"),
        ("app.domain.llm", "ToolCall"),
        ("app.domain.tools", "VisionResult"),
        ("app.domain.waste", "WasteCategory"),
    }
