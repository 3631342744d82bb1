"""The tool registry: a tool is one value (its name, intents, labels, keyword cues, routing flags
and its lookup over its port); the graph, the routing, the offline lexicon, the classifier's
intents and the answer's labels are all read off the list of them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from app.application.ports.llm import LLMPort
from app.domain.language import Language

if TYPE_CHECKING:
    from app.application.chat.state import BranchInput, NodeResult

P = TypeVar("P")
# What a tool does with one branch of a turn: look its sub-question up, say what it found.
Lookup = Callable[["BranchInput"], Awaitable["NodeResult"]]
# Names that make a question this tool's wherever they appear (the characters' names).
Names = Callable[[], Awaitable[list[str]]]


@dataclass(frozen=True)
class Labels:
    """What the answer calls the tool ('⚠️ 날씨 정보를 지금 가져오지 못했습니다.')."""

    ko: str
    en: str

    def said_in(self, language: Language) -> str:
        return self.en if language == "en" else self.ko


@dataclass(frozen=True)
class Cues:
    """How the offline lexicon knows the tool's questions: clauses are checked tool by tool,
    lowest `order` first, and the first tool one of whose words a clause holds takes it.

    With `within` (an intent), the words count only beside that intent's own words, and then
    win over it: 'battery bin near me' is a collection point, not a map search.
    """

    words: tuple[str, ...] = ()
    order: int = 80  # built-ins: image 10, character 20 … web search 70; disposal 90, last
    within: str | None = None


@dataclass(frozen=True)
class Tool(Generic[P]):
    """One tool, defined once. `over(llm, port)` gives it its lookup; without a port it stays
    known but switched off: its questions are still recognised, the answer says it is off,
    and the knowledge base answers them where `kb_stands_in`."""

    name: str  # its node, its stage and its slot
    labels: Labels
    intents: tuple[str, ...]  # the intents it serves; its cues mark the first
    describes: str = ""  # what its intent means, for the model that classifies
    cues: Cues = Cues()
    about_an_item: bool = False  # its question may lean on the last turn's item
    kb_stands_in: bool = False
    asks_back: bool = False  # may pause the turn to ask the person (InputNeeded)
    build: Callable[[LLMPort, P], Lookup] | None = None
    recognises: Callable[[P], Names] | None = None
    lookup: Lookup | None = None
    names: Names | None = None

    def over(self, llm: LLMPort, port: P | None) -> Tool[P]:
        """This tool with its lookup built over `port`; as it is (off) without one."""
        if port is None or self.build is None:
            return self
        names = self.recognises(port) if self.recognises is not None else None
        return replace(self, lookup=self.build(llm, port), names=names)


@dataclass(frozen=True)
class Toolset:
    """The tools a graph knows, in registration order; the enabled ones get a node."""

    tools: tuple[Tool[Any], ...]

    def __post_init__(self) -> None:
        names = [t.name for t in self.tools]
        intents = [i for t in self.tools for i in t.intents]
        for kind, values in (("tool", names), ("intent", intents)):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"{kind} registered twice: {', '.join(twice)}")

    @cached_property
    def enabled(self) -> tuple[Tool[Any], ...]:
        return tuple(t for t in self.tools if t.lookup is not None)

    @cached_property
    def available(self) -> frozenset[str]:
        return frozenset(t.name for t in self.enabled)

    @cached_property
    def intents(self) -> tuple[str, ...]:
        return tuple(i for t in self.tools for i in t.intents)

    @cached_property
    def node_for_intent(self) -> dict[str, str]:
        return {i: t.name for t in self.tools for i in t.intents}

    @cached_property
    def about_an_item(self) -> frozenset[str]:
        return frozenset(i for t in self.tools if t.about_an_item for i in t.intents)

    @cached_property
    def kb_stands_in(self) -> frozenset[str]:
        return frozenset(i for t in self.tools if t.kb_stands_in for i in t.intents)

    @cached_property
    def labels(self) -> dict[str, Labels]:
        return {t.name: t.labels for t in self.tools}

    @cached_property
    def names(self) -> dict[str, Names]:
        """Per intent, the names that make a question its own (enabled tools only)."""
        return {t.intents[0]: t.names for t in self.enabled if t.names is not None}
