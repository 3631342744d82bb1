"""The graph's state as typed values, the reducers that merge node updates, and the allow-list
of the classes a checkpoint of it may hold."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from functools import cache
from typing import Annotated, TypedDict

from pydantic import BaseModel, ConfigDict

from app.application.chat.reachable import reachable_classes
from app.application.chat.routing import Route
from app.domain.chat import (
    ChatRequest,
    Grade,
    IntentClassification,
    IntentName,
    Source,
    Subject,
)
from app.domain.language import Language
from app.domain.llm import ChatMessage, ContextBlock, ContextEntry
from app.domain.tools import VisionResult


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class LookupStatus(StrEnum):
    OK = "ok"
    EMPTY = "empty"  # the lookup ran and found nothing for the question
    FAILED = "failed"  # the service or the node failed; the answer says so


class NodeResult(Frozen):
    """What one node found for one slot. `entries` are what the answer is written from."""

    node: str
    slot: str
    query: str = ""
    status: LookupStatus
    entries: tuple[ContextEntry, ...] = ()
    language: Language | None = None
    sources: tuple[Source, ...] = ()
    error: str = ""
    subject: Subject | None = None  # the item the lookup landed on
    verdict: bool | None = None  # the yes or no the item's facts give the question, if any

    @property
    def failed(self) -> bool:
        return self.status is LookupStatus.FAILED

    def context(self) -> ContextBlock:
        return ContextBlock(
            slot=self.slot,
            kind=self.node,
            query=self.query,
            language=self.language,
            entries=self.entries,
        )


@dataclass(frozen=True)
class RunContext:
    """Per-run values: they travel with one run of the graph (LangGraph's run context), never
    in the checkpointed state. A resumed turn runs with the context of the job resuming it.

    A run started by a host that knows no jobs (LangGraph's server, for Studio) gives none:
    that run is a job of its own."""

    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class BranchInput(Frozen):
    """What the router sends (with `Send`) to each node it fans out to."""

    request: ChatRequest
    route: Route
    vision: VisionResult | None = None
    district: str | None = None  # the thread's district, once known
    answers: dict[str, str] = {}  # what the person answered when this node asked

    def answered(self, field: str, value: str) -> BranchInput:
        return self.model_copy(update={"answers": {**self.answers, field: value}})

    @property
    def slot(self) -> str:
        return self.route.slot or self.route.node

    def result(
        self,
        status: LookupStatus,
        *,
        entries: tuple[ContextEntry, ...] = (),
        sources: tuple[Source, ...] = (),
        language: Language | None = None,
        error: str = "",
    ) -> NodeResult:
        """This branch's result: its node, slot and sub-question, with what was found."""
        return NodeResult(
            node=self.route.node,
            slot=self.slot,
            query=self.route.query,
            status=status,
            entries=entries,
            sources=sources,
            language=language,
            error=error,
        )


class Reset(Enum):
    """The update that empties `contexts`: each turn starts with no lookups."""

    TURN = "turn"


RESET = Reset.TURN


class ReplaceHistory(Frozen):
    """The update that replaces the history instead of extending it (summarisation)."""

    messages: tuple[ChatMessage, ...] = ()


ContextUpdate = Mapping[str, NodeResult] | Reset
HistoryUpdate = Sequence[ChatMessage] | ReplaceHistory


def merge_contexts(
    current: Mapping[str, NodeResult] | None, update: ContextUpdate | None
) -> dict[str, NodeResult]:
    """Each node writes its own slot; a success is never replaced by a failure; RESET clears.

    Parallel branches finish in any order, so the merge must not depend on it.
    """
    if isinstance(update, Reset):
        return {}
    merged = dict(current or {})
    for slot, result in (update or {}).items():
        previous = merged.get(slot)
        if previous is not None and previous.status is LookupStatus.OK and result.failed:
            continue
        merged[slot] = result
    return dict(sorted(merged.items()))


MAX_HISTORY = 40  # messages kept in the state; older ones live on only in the summary


def extend_history(
    current: Sequence[ChatMessage] | None, update: HistoryUpdate | None
) -> list[ChatMessage]:
    """Append turns, keeping the last MAX_HISTORY messages (a checkpoint stays the same size
    however long the thread); a ReplaceHistory replaces them."""
    if isinstance(update, ReplaceHistory):
        return list(update.messages)[-MAX_HISTORY:]
    return [*(current or []), *(update or [])][-MAX_HISTORY:]


class ChatState(TypedDict, total=False):
    """One thread's state; the checkpointer keeps it between turns."""

    request: ChatRequest
    history: Annotated[list[ChatMessage], extend_history]
    summary: str
    recent_intents: list[IntentName]
    subject: Subject | None  # the item the thread last asked about
    district: str | None  # the person's district, once they named it or answered a question
    classification: IntentClassification
    vision: VisionResult | None
    routes: list[Route]
    unavailable: list[str]  # nodes the intents wanted but this deployment lacks
    contexts: Annotated[dict[str, NodeResult], merge_contexts]
    answer: str
    answered_by: str | None  # the model that wrote `answer` (None: a client that does not say)
    answered_provider: str | None  # its provider: `offline` composes from the lookups
    grade: Grade | None  # the grading step's verdict on `answer`


class ChatUpdate(TypedDict, total=False):
    """What a node (or a new turn) writes: ChatState's fields, with the reducers' update types."""

    request: ChatRequest
    history: HistoryUpdate
    summary: str
    recent_intents: list[IntentName]
    subject: Subject | None
    district: str | None
    classification: IntentClassification
    vision: VisionResult | None
    routes: list[Route]
    unavailable: list[str]
    contexts: ContextUpdate
    answer: str
    answered_by: str | None
    answered_provider: str | None
    grade: Grade | None


def new_turn(request: ChatRequest) -> ChatUpdate:
    """A turn's input: the request, and nothing of the previous turn's lookups."""
    return {
        "request": request,
        "contexts": RESET,
        "vision": None,
        "routes": [],
        "unavailable": [],
        "grade": None,
    }


@cache
def checkpoint_types() -> tuple[type, ...]:
    """The classes a checkpoint of this graph holds, and so the only ones it may revive.

    Derived from what is kept (ChatState), written (ChatUpdate) and sent (BranchInput), so a
    field's type is allowed the day the field is added, and nothing else ever is.
    """
    return reachable_classes(ChatState, ChatUpdate, BranchInput)
