"""Tool nodes: each pulls its arguments out of the message with function calling, calls its
port, and writes one NodeResult under its own slot. A failing service degrades, never raises."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from app.application.chat import render
from app.application.chat.progress import StageReporter
from app.application.chat.state import BranchInput, NodeResult
from app.application.ports.bulk_waste import BulkWasteClientPort
from app.application.ports.character import CharacterClientPort
from app.application.ports.collection_point import CollectionPointClientPort
from app.application.ports.image_generator import ImageGeneratorPort
from app.application.ports.llm import LLMPort
from app.application.ports.location import LocationClientPort
from app.application.ports.recyclable_price import RecyclablePriceClientPort
from app.application.ports.retriever import RetrieverPort
from app.application.ports.weather import WeatherClientPort
from app.application.ports.web_search import WebSearchPort
from app.application.prompts import disposal_guide
from app.domain.chat import ChatRequest
from app.domain.errors import DomainError
from app.domain.language import detect_language
from app.domain.llm import ToolSpec
from app.domain.waste import WasteCategory

log = structlog.get_logger(__name__)

Lookup = Callable[[BranchInput], Awaitable[NodeResult]]
Node = Callable[[BranchInput], Awaitable[dict[str, Any]]]
COLLECTION_KINDS = [
    "battery", "fluorescent_lamp", "medicine", "clothing", "e_waste", "recycling_center",
]  # fmt: skip


def tool_node(name: str, lookup: Lookup, reporter: StageReporter) -> Node:
    """Wrap a lookup: stage events, and any failure turned into a `failed` result."""

    async def run(branch: BranchInput) -> dict[str, Any]:
        slot = branch.get("slot") or name
        async with reporter.stage(branch["job_id"], name, {"slot": slot}) as outcome:
            try:
                result = await lookup(branch)
            except Exception as exc:
                reason = str(exc) if isinstance(exc, DomainError) else type(exc).__name__
                log.warning(
                    "chat.tool_failed",
                    node=name,
                    slot=slot,
                    error=reason,
                    exc_info=not isinstance(exc, DomainError),
                )
                result = NodeResult(status="failed", error=reason, text="")
                outcome["failed"] = True
            outcome["status"] = result["status"]
        result = NodeResult(**{**result, "node": name, "query": branch["query"]})
        return {"contexts": {slot: result}}

    return run


def ok(text: str, sources: list[dict[str, Any]] | None = None, **data: Any) -> NodeResult:
    return NodeResult(status="ok" if text else "empty", text=text, sources=sources or [], data=data)


async def arguments(
    llm: LLMPort, branch: BranchInput, spec: ToolSpec, fallback: dict[str, Any]
) -> dict[str, Any]:
    """The tool's arguments as the model reads them from the sub-question."""
    call = await llm.generate_function_call(branch["query"], [spec], function_name=spec.name)
    found = dict(call.arguments) if call is not None else {}
    return {**fallback, **{k: v for k, v in found.items() if v not in (None, "")}}


def _string_tool(name: str, description: str, **fields: str) -> ToolSpec:
    properties = {field: {"type": "string", "description": text} for field, text in fields.items()}
    return ToolSpec(
        name=name,
        description=description,
        parameters={"type": "object", "properties": properties, "required": list(fields)},
    )


def waste_rag(retriever: RetrieverPort, k: int = 3) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        hits = await retriever.search(branch["query"], k)
        if not hits:
            return ok("")
        language = detect_language(branch["query"])
        sources = [{"title": h.item.name_ko, "kind": "knowledge_base"} for h in hits[:2]]
        return ok(render.waste_items(hits, language), sources, items=[h.item.id for h in hits])

    return lookup


def general(retriever: RetrieverPort) -> Lookup:
    """No tool fits: an item named in the question, else the general disposal rules."""

    async def lookup(branch: BranchInput) -> NodeResult:
        hits = [h for h in await retriever.search(branch["query"], 1) if h.exact]
        if hits:
            language = detect_language(branch["query"])
            source = {"title": hits[0].item.name_ko, "kind": "knowledge_base"}
            return ok(render.waste_item(hits[0].item, language), [source])
        return ok(disposal_guide(), [{"title": "분리배출 가이드", "kind": "guide"}])

    return lookup


PLACES = _string_tool(
    "search_places",
    "Search the map for recycling centres, bins or places",
    query="what to search for, with the area, e.g. '재활용센터 강남역'",
)


def location(llm: LLMPort, client: LocationClientPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, PLACES, {"query": branch["query"]})
        near = ChatRequest.model_validate(branch["request"]).location
        found = await client.search(str(args["query"]), near=near)
        sources = [{"title": p.name, "kind": "map", "url": p.url} for p in found[:3]]
        return ok(render.places(found), sources)

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


def collection_point(llm: LLMPort, client: CollectionPointClientPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, COLLECTION, {"kind": "recycling_center"})
        near = ChatRequest.model_validate(branch["request"]).location
        found = await client.nearby(str(args["kind"]), near, place=args.get("place"))
        sources = [{"title": p.name, "kind": "collection_point"} for p in found[:3]]
        return ok(render.collection_points(found), sources)

    return lookup


WEATHER = _string_tool(
    "get_weather", "Weather forecast for a place", place="the city, district or landmark"
)


def weather(llm: LLMPort, client: WeatherClientPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        near = ChatRequest.model_validate(branch["request"]).location
        place = None
        if near is None:
            place = str((await arguments(llm, branch, WEATHER, {"place": ""}))["place"]) or None
        report = await client.forecast(near, place=place)
        return ok(
            render.weather(report), [{"title": report.source or "weather", "kind": "weather"}]
        )

    return lookup


BULK = _string_tool(
    "lookup_bulk_waste",
    "Bulky-waste rules and fees",
    item="the item, e.g. '소파'",
    district="the district (구), if named",
)


def bulk_waste(llm: LLMPort, client: BulkWasteClientPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, BULK, {"item": branch["query"], "district": ""})
        found = await client.lookup(str(args["item"]), district=str(args["district"]) or None)
        sources = [{"title": i.source or "bulky waste", "kind": "bulk_waste"} for i in found[:2]]
        return ok(render.bulk_waste(found), sources)

    return lookup


PRICE = _string_tool(
    "lookup_recyclable_price",
    "Market price of a recyclable material",
    material="e.g. '고철', '캔', 'PET'",
    region="region, if named",
)


def recyclable_price(llm: LLMPort, client: RecyclablePriceClientPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, PRICE, {"material": branch["query"], "region": ""})
        found = await client.prices(str(args["material"]), region=str(args["region"]) or None)
        sources = [{"title": q.source or "price survey", "kind": "price"} for q in found[:2]]
        return ok(render.prices(found), sources)

    return lookup


SEARCH = _string_tool("web_search", "Search the web", query="search terms")


def web_search(llm: LLMPort, client: WebSearchPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, SEARCH, {"query": branch["query"]})
        found = await client.search(str(args["query"]))
        sources = [{"title": r.title, "kind": "web", "url": r.url} for r in found]
        return ok(render.search_results(found), sources)

    return lookup


IMAGE = _string_tool("generate_image", "Generate an image", prompt="what to draw")


def image_generation(llm: LLMPort, client: ImageGeneratorPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        args = await arguments(llm, branch, IMAGE, {"prompt": branch["query"]})
        image = await client.generate(str(args["prompt"]))
        return ok(
            f"image: {image.url}",
            [{"title": "generated image", "kind": "image", "url": image.url}],
            image_url=image.url,
        )

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


def character(llm: LLMPort, client: CharacterClientPort) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        names = await client.names()
        named = next((n for n in names if n.lower() in branch["query"].lower()), None)
        found = await client.find(named) if named else None
        if found is None:
            args = await arguments(llm, branch, CHARACTER, {})
            category = args.get("category")
            if category in {c.value for c in WasteCategory}:
                found = await client.for_category(WasteCategory(category))
        if found is None:
            return ok("")
        return ok(render.character(found), [{"title": found.name, "kind": "character"}])

    return lookup
