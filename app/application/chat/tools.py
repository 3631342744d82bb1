"""Tool lookups and the node around them: each pulls its arguments out of the message with
function calling, calls its port, and writes one typed NodeResult under its own slot. A failing
service degrades. Which tools exist: built_in.py; the knowledge base's lookups:
knowledge_base.py."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog

from app.application.chat import render
from app.application.chat.asking import InputNeeded, ask_for_district, district_in
from app.application.chat.progress import StageReporter
from app.application.chat.registry import Lookup
from app.application.chat.state import (
    BranchInput,
    ChatUpdate,
    LookupStatus,
    NodeResult,
    RunContext,
)
from app.application.ports.llm import LLMPort
from app.application.ports.tools import (
    BulkWastePort,
    CharacterPort,
    CollectionPointPort,
    ImageGeneratorPort,
    LocationPort,
    RecyclablePricePort,
    WeatherPort,
    WebSearchPort,
)
from app.domain.chat import Source
from app.domain.errors import BudgetExceeded, DomainError
from app.domain.language import Language, detect_language
from app.domain.llm import ContextEntry, ToolSpec
from app.domain.waste import WasteCategory

log = structlog.get_logger(__name__)

Node = Callable[[BranchInput, RunContext], Awaitable[ChatUpdate]]
COLLECTION_KINDS = [
    "battery", "fluorescent_lamp", "medicine", "clothing", "e_waste", "recycling_center",
]  # fmt: skip


def tool_node(name: str, lookup: Lookup, reporter: StageReporter) -> Node:
    """Wrap a lookup: stage events, and any failure turned into a failed result."""

    async def run(branch: BranchInput, context: RunContext) -> ChatUpdate:
        async with reporter.stage(context.job_id, name, {"slot": branch.slot}) as outcome:
            result = await attempt(name, lookup, branch)
            outcome.note(status=result.status.value)
            outcome.failed = result.failed
        return {"contexts": {branch.slot: result}}

    return run


async def attempt(name: str, lookup: Lookup, branch: BranchInput) -> NodeResult:
    """The lookup's result, or a failed one: a failing service degrades, never raises."""
    try:
        return await lookup(branch)
    except (BudgetExceeded, InputNeeded):
        raise  # over budget, the chat ends; asking the person, it pauses: neither degrades
    except Exception as exc:
        reason = str(exc) if isinstance(exc, DomainError) else type(exc).__name__
        log.warning(
            "chat.tool_failed",
            node=name,
            slot=branch.slot,
            error=reason,
            exc_info=not isinstance(exc, DomainError),
        )
        return branch.result(LookupStatus.FAILED, error=reason)


def found(
    branch: BranchInput,
    entries: Sequence[ContextEntry],
    sources: Sequence[Source] = (),
    language: Language | None = None,
) -> NodeResult:
    """ok with what was found; empty when no entry has a line to show."""
    kept = tuple(entry for entry in entries if entry.text_lines())
    status = LookupStatus.OK if kept else LookupStatus.EMPTY
    return branch.result(status, entries=kept, sources=tuple(sources), language=language)


async def arguments(
    llm: LLMPort, branch: BranchInput, spec: ToolSpec, fallback: dict[str, Any]
) -> dict[str, Any]:
    """The tool's arguments as the model reads them from the sub-question."""
    call = await llm.generate_function_call(branch.route.query, [spec], function_name=spec.name)
    given = dict(call.arguments) if call is not None else {}
    return {**fallback, **{k: v for k, v in given.items() if v not in (None, "")}}


def _string_tool(name: str, description: str, **fields: str) -> ToolSpec:
    properties = {field: {"type": "string", "description": text} for field, text in fields.items()}
    return ToolSpec(
        name=name,
        description=description,
        parameters={"type": "object", "properties": properties, "required": list(fields)},
    )


PLACES = _string_tool(
    "search_places",
    "Search the map for recycling centres, bins or places",
    query="what to search for, with the area, e.g. '재활용센터 강남역'",
)


def location(llm: LLMPort, client: LocationPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, PLACES, {"query": branch.route.query})
        places = await client.search(str(args["query"]), near=branch.request.location)
        sources = [Source(title=p.name, kind="map", url=p.url) for p in places[:3]]
        return found(branch, [render.places(places)], sources)

    return lookup


COLLECTION = ToolSpec(
    name="find_collection_points",
    description="Find collection bins (batteries, lamps, medicine, clothing, e-waste) or "
    "recycling centres near a place",
    parameters={
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": COLLECTION_KINDS},
            "place": {"type": "string", "description": "area or landmark, if the user named one"},
        },
        "required": ["kind"],
    },
)


def collection_point(llm: LLMPort, client: CollectionPointPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, COLLECTION, {"kind": "recycling_center"})
        near = branch.request.location
        place = named_place(str(args.get("place") or ""), branch)
        if near is None and place is None:  # 'nearest' means nothing without a where
            raise ask_for_district(detect_language(branch.route.query))
        points = await client.nearby(str(args["kind"]), near, place=place)
        sources = [Source(title=p.name, kind="collection_point") for p in points[:3]]
        return found(branch, [render.collection_points(points)], sources)

    return lookup


WEATHER = _string_tool(
    "get_weather", "Weather forecast for a place", place="the city, district or landmark"
)


def weather(llm: LLMPort, client: WeatherPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        near = branch.request.location
        place = None
        if near is None:
            place = str((await arguments(llm, branch, WEATHER, {"place": ""}))["place"]) or None
        report = await client.forecast(near, place=place)
        source = Source(title=report.source or "weather", kind="weather")
        return found(branch, [render.weather(report)], [source])

    return lookup


BULK = _string_tool(
    "lookup_bulk_waste",
    "Bulky-waste rules and fees",
    item="the item, e.g. '소파'",
    district="the district (구), if named",
)


def bulk_waste(llm: LLMPort, client: BulkWastePort) -> Lookup:
    """Fees and pickup differ by district: without one known, the node asks for it."""

    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, BULK, {"item": branch.route.query, "district": ""})
        district = district_of(str(args["district"]), branch)
        if district is None:
            raise ask_for_district(detect_language(branch.route.query))
        infos = await client.lookup(str(args["item"]), district=district)
        sources = [Source(title=i.source or "bulky waste", kind="bulk_waste") for i in infos[:2]]
        return found(branch, [render.bulk_waste(infos)], sources)

    return lookup


def district_of(argument: str, branch: BranchInput) -> str | None:
    """A real district: the person's answer, the tool argument, the question, the thread's.
    An argument that is no district (offline extraction hands back the sentence) counts for
    nothing."""
    return district_in(
        branch.answers.get("district"), argument, branch.route.query, branch.district
    )


# A landmark in the question: '강남역', '망원동', '테헤란로'.
LANDMARK = re.compile(
    r"([가-힣0-9]{2,}(?:역|동|읍|면|로|길))(?:에서|에|근처|앞|쪽)?(?=\s|$|[?,.!])"
)


def named_place(argument: str, branch: BranchInput) -> str | None:
    """Where to look near: a district, else a landmark the answer or the question names."""
    district = district_of(argument, branch)
    if district is not None:
        return district
    for text in (branch.answers.get("district"), argument, branch.route.query):
        found = LANDMARK.search(text or "")
        if found and found.group(1) not in NOT_PLACES:
            return found.group(1)
        english = EN_LANDMARK.search(text or "")
        if english:
            return english.group(1)
    return None


# 'near Gangnam station', 'around Hongdae': a capitalised name after near/around/in.
EN_LANDMARK = re.compile(
    r"\b(?:near|around|by|in|at)\s+((?:[A-Z][\w'-]*\s?){1,3}(?:[Ss]tation|[Gg]u|[Dd]ong)?)"
)
NOT_PLACES = frozenset(
    {"자동", "행동", "활동", "운동", "이동", "작동", "진동", "세로", "가로", "경로"}
)


PRICE = _string_tool(
    "lookup_recyclable_price",
    "Market price of a recyclable material",
    material="e.g. '고철', '캔', 'PET'",
    region="region, if named",
)


def recyclable_price(llm: LLMPort, client: RecyclablePricePort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        fallback = {"material": branch.route.query, "region": ""}
        args = await arguments(llm, branch, PRICE, fallback)
        quotes = await client.prices(str(args["material"]), region=str(args["region"]) or None)
        sources = [Source(title=q.source or "price survey", kind="price") for q in quotes[:2]]
        return found(branch, [render.prices(quotes)], sources)

    return lookup


SEARCH = _string_tool("web_search", "Search the web", query="search terms")


def web_search(llm: LLMPort, client: WebSearchPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, SEARCH, {"query": branch.route.query})
        results = await client.search(str(args["query"]))
        sources = [Source(title=r.title, kind="web", url=r.url) for r in results]
        return found(branch, [render.search_results(results)], sources)

    return lookup


IMAGE = _string_tool("generate_image", "Generate an image", prompt="what to draw")


def image_generation(llm: LLMPort, client: ImageGeneratorPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, IMAGE, {"prompt": branch.route.query})
        image = await client.generate(str(args["prompt"]))
        source = Source(title="generated image", kind="image", url=image.url)
        return found(branch, [ContextEntry(lines=(f"image: {image.url}",))], [source])

    return lookup


CHARACTER = ToolSpec(
    name="find_character",
    description="Find the eco2 character for a disposal category or by name",
    parameters={
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "the character's name, if given"},
            "category": {"type": "string", "enum": [c.value for c in WasteCategory]},
        },
    },
)


def character(llm: LLMPort, client: CharacterPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        names = await client.names()
        query = branch.route.query.lower()
        named = next((n for n in names if n.lower() in query), None)
        match = await client.find(named) if named else None
        if match is None:
            args = await arguments(llm, branch, CHARACTER, {})
            category = args.get("category")
            if category in {c.value for c in WasteCategory}:
                match = await client.for_category(WasteCategory(category))
        if match is None:
            return found(branch, ())
        source = Source(title=match.name, kind="character")
        return found(branch, [render.character(match)], [source])

    return lookup
