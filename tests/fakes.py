"""Fakes that implement our ports (not MagicMocks): they behave, and record what they saw."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pydantic import BaseModel

from app.application.model_choice import answered_by
from app.application.ports.jobs import ProgressNotifierPort
from app.application.ports.llm import LLMPort, SchemaT, ToolChoice, VisionModelPort
from app.application.ports.stores import CachePort
from app.application.ports.tools import (
    BulkWastePort,
    CharacterPort,
    CollectionPointPort,
    ImageGeneratorPort,
    LocationPort,
    RecyclablePricePort,
    RetrieverPort,
    WeatherPort,
    WebSearchPort,
)
from app.domain.chat import Location
from app.domain.events import ProgressEvent, ProgressUpdate
from app.domain.llm import (
    ChatMessage,
    ContextBlock,
    Prompt,
    TokenUsage,
    ToolCall,
    ToolReply,
    ToolSpec,
    as_messages,
)
from app.domain.tools import (
    BulkWasteInfo,
    Character,
    CollectionPoint,
    GeneratedImage,
    Place,
    PriceQuote,
    RetrievedItem,
    SearchResult,
    VisionResult,
    WeatherReport,
)
from app.domain.waste import WasteCategory, WasteItem


class FakeLLM(LLMPort):
    """Answers from a script: `replies` in order (then the last one again), structured from
    `structured` by schema, tool calls from `tool_calls`. Records every prompt it was given,
    and the context blocks given with each text generation."""

    provider = "fake"
    model = "fake-model"

    def __init__(
        self,
        replies: Sequence[str] = ("fake answer",),
        *,
        structured: dict[type[BaseModel], BaseModel] | None = None,
        tool_calls: Sequence[ToolCall] = (),
        error: Exception | None = None,
    ) -> None:
        self._replies = list(replies)
        self._structured = structured or {}
        self._tool_calls = tuple(tool_calls)
        self._error = error
        self.prompts: list[list[ChatMessage]] = []
        self.contexts: list[tuple[ContextBlock, ...]] = []
        self._usage = TokenUsage()

    def _take(self, prompt: Prompt, system: str | None) -> str:
        self.prompts.append(as_messages(prompt, system))
        self._usage = self._usage + TokenUsage(prompt_tokens=1, completion_tokens=1, calls=1)
        if self._error is not None:
            raise self._error
        answered_by(self.provider, self.model)  # as every LLM client does (see the port)
        return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]

    async def generate(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        context: Sequence[ContextBlock] = (),
        **_: Any,
    ) -> str:
        self.contexts.append(tuple(context))
        return self._take(prompt, system)

    async def generate_structured(
        self, prompt: Prompt, schema: type[SchemaT], *, system: str | None = None, **_: Any
    ) -> SchemaT:
        self._take(prompt, system)
        # A schema made for one registry (the classifier's) answers as the one it extends.
        scripted = next(self._structured[c] for c in schema.__mro__ if c in self._structured)
        return schema.model_validate(scripted.model_dump())

    async def generate_stream(
        self,
        prompt: Prompt,
        *,
        system: str | None = None,
        context: Sequence[ContextBlock] = (),
        **_: Any,
    ) -> AsyncIterator[str]:
        self.contexts.append(tuple(context))
        for word in self._take(prompt, system).split(" "):
            yield word + " "

    async def generate_function_call(
        self,
        prompt: Prompt,
        functions: Sequence[ToolSpec],
        *,
        system: str | None = None,
        function_name: str | None = None,
    ) -> ToolCall | None:
        self._take(prompt, system)
        return self._tool_calls[0] if self._tool_calls else None

    async def generate_with_tools(
        self,
        prompt: Prompt,
        tools: Sequence[ToolSpec],
        *,
        system: str | None = None,
        tool_choice: ToolChoice = "auto",
    ) -> ToolReply:
        text = self._take(prompt, system)
        return ToolReply(text="" if self._tool_calls else text, tool_calls=self._tool_calls)

    def usage(self) -> TokenUsage:
        return self._usage


# --- tool ports


class Behaviour:
    """Shared knobs: a latency before answering, an error to raise, and the calls seen."""

    def __init__(self, latency: float = 0.0, error: Exception | None = None) -> None:
        self.latency = latency
        self.error = error
        self.calls: list[tuple[Any, ...]] = []
        self.windows: list[tuple[float, float]] = []  # (entered, left) per call, monotonic

    async def _serve(self, *args: Any) -> None:
        self.calls.append(args)
        entered = time.monotonic()
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.error is not None:
                raise self.error
        finally:
            self.windows.append((entered, time.monotonic()))


class FakeRetriever(Behaviour, RetrieverPort):
    """Finds items whose Korean or English name or alias appears in the query."""

    def __init__(self, items: Sequence[WasteItem], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items = list(items)

    async def search(self, query: str, k: int = 3) -> list[RetrievedItem]:
        await self._serve(query, k)
        lowered = query.lower()
        hits = [
            RetrievedItem(item=item, score=float(len(name)), exact=True, confident=True)
            for item in self.items
            for name in (item.name_ko, item.name_en, *item.aliases_ko, *item.aliases_en)
            if name.lower() in lowered
        ]
        best: dict[str, RetrievedItem] = {}
        for hit in sorted(hits, key=lambda h: -h.score):
            best.setdefault(hit.item.id, hit)
        return list(best.values())[:k]


class FakeVision(Behaviour, VisionModelPort):
    def __init__(self, result: VisionResult, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result = result

    async def classify(self, image_url: str, question: str = "") -> VisionResult:
        await self._serve(image_url, question)
        return self.result


class FakeCharacters(Behaviour, CharacterPort):
    def __init__(self, characters: Sequence[Character], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.characters = list(characters)

    async def for_category(self, category: WasteCategory) -> Character | None:
        await self._serve(category)
        return next((c for c in self.characters if c.category is category), None)

    async def find(self, name: str) -> Character | None:
        await self._serve(name)
        return next((c for c in self.characters if c.name == name), None)

    async def names(self) -> list[str]:
        return [c.name for c in self.characters]


class FakeLocations(Behaviour, LocationPort):
    def __init__(self, places: Sequence[Place], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.places = list(places)

    async def search(
        self, query: str, near: Location | None = None, radius_m: int = 2000, limit: int = 5
    ) -> list[Place]:
        await self._serve(query, near)
        return self.places[:limit]


class FakeWebSearch(Behaviour, WebSearchPort):
    def __init__(self, results: Sequence[SearchResult], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = list(results)

    async def search(self, query: str, max_results: int = 5) -> list[SearchResult]:
        await self._serve(query)
        return self.results[:max_results]


class FakeBulkWaste(Behaviour, BulkWastePort):
    def __init__(self, infos: Sequence[BulkWasteInfo], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.infos = list(infos)

    async def lookup(self, item: str, district: str | None = None) -> list[BulkWasteInfo]:
        await self._serve(item, district)
        return self.infos


class FakeWeather(Behaviour, WeatherPort):
    def __init__(self, report: WeatherReport, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report = report

    async def forecast(self, location: Location | None, place: str | None = None) -> WeatherReport:
        await self._serve(location, place)
        return self.report


class FakeCollectionPoints(Behaviour, CollectionPointPort):
    def __init__(self, points: Sequence[CollectionPoint], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.points = list(points)

    async def nearby(
        self, kind: str, near: Location | None, place: str | None = None, limit: int = 5
    ) -> list[CollectionPoint]:
        await self._serve(kind, near, place)
        return [p for p in self.points if p.kind == kind][:limit]


class FakePrices(Behaviour, RecyclablePricePort):
    def __init__(self, quotes: Sequence[PriceQuote], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.quotes = list(quotes)

    async def prices(self, material: str, region: str | None = None) -> list[PriceQuote]:
        await self._serve(material, region)
        return self.quotes


class FakeImages(Behaviour, ImageGeneratorPort):
    async def generate(self, prompt: str) -> GeneratedImage:
        await self._serve(prompt)
        return GeneratedImage(url=f"https://images.test/{len(self.calls)}.png", prompt=prompt)


class RecordingNotifier(ProgressNotifierPort):
    """Numbers and keeps every event, per job."""

    def __init__(self) -> None:
        self.events: defaultdict[str, list[ProgressEvent]] = defaultdict(list)

    async def publish(self, job_id: str, update: ProgressUpdate) -> ProgressEvent:
        event = ProgressEvent(
            seq=len(self.events[job_id]) + 1, job_id=job_id, **update.model_dump()
        )
        self.events[job_id].append(event)
        return event


class FakeCache(CachePort):
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.ttls: dict[str, int] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self.values[key] = value
        self.ttls[key] = ttl_seconds
