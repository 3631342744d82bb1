"""`create_chat_graph`: the chat graph factory. Nodes exist only for the ports that are given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send, interrupt

from app.application.chat import answer, nodes, tools
from app.application.chat.asking import InputNeeded, district_in
from app.application.chat.intents import make_intent_classifier
from app.application.chat.progress import StageReporter
from app.application.chat.state import BranchInput, ChatState, ChatUpdate
from app.application.ports.bulk_waste import BulkWasteClientPort
from app.application.ports.cache import CachePort
from app.application.ports.character import CharacterClientPort
from app.application.ports.collection_point import CollectionPointClientPort
from app.application.ports.image_generator import ImageGeneratorPort
from app.application.ports.llm import LLMPort
from app.application.ports.location import LocationClientPort
from app.application.ports.photos import PhotoStorePort
from app.application.ports.progress import ProgressNotifierPort
from app.application.ports.recyclable_price import RecyclablePriceClientPort
from app.application.ports.retriever import RetrieverPort
from app.application.ports.tracing import TracingPort
from app.application.ports.vision import VisionModelPort
from app.application.ports.weather import WeatherClientPort
from app.application.ports.web_search import WebSearchPort


def create_chat_graph(
    llm: LLMPort,
    retriever: RetrieverPort,
    vision_model: VisionModelPort | None = None,
    character_client: CharacterClientPort | None = None,
    location_client: LocationClientPort | None = None,
    web_search_client: WebSearchPort | None = None,
    bulk_waste_client: BulkWasteClientPort | None = None,
    weather_client: WeatherClientPort | None = None,
    collection_point_client: CollectionPointClientPort | None = None,
    image_generator: ImageGeneratorPort | None = None,
    checkpointer: Any = None,
    event_publisher: ProgressNotifierPort | None = None,
    enable_summarization: bool = False,
    enable_dynamic_routing: bool = True,
    enable_multi_intent: bool = True,
    enable_enrichment: bool = True,
    *,
    recyclable_price_client: RecyclablePriceClientPort | None = None,
    photo_store: PhotoStorePort | None = None,
    cache: CachePort | None = None,
    top_k: int = 3,
    tracing: TracingPort | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """intent → (vision, with an image) → router → tool nodes in parallel → answer → END.

    Compile once per process: it costs about as much as a run.
    """
    reporter = StageReporter(event_publisher, tracing)
    lookups: dict[str, tools.Lookup | None] = {
        "waste_rag": tools.waste_rag(retriever, top_k),
        "general": tools.general(retriever),
        "character": tools.character(llm, character_client) if character_client else None,
        "location": tools.location(llm, location_client) if location_client else None,
        "bulk_waste": tools.bulk_waste(llm, bulk_waste_client) if bulk_waste_client else None,
        "recyclable_price": (
            tools.recyclable_price(llm, recyclable_price_client)
            if recyclable_price_client
            else None
        ),
        "weather": tools.weather(llm, weather_client) if weather_client else None,
        "collection_point": (
            tools.collection_point(llm, collection_point_client)
            if collection_point_client
            else None
        ),
        "web_search": tools.web_search(llm, web_search_client) if web_search_client else None,
        "image_generation": (
            tools.image_generation(llm, image_generator) if image_generator else None
        ),
    }
    present = {name: lookup for name, lookup in lookups.items() if lookup is not None}
    classify = make_intent_classifier(
        llm, cache=cache, character_names=character_client.names if character_client else None
    )

    graph = StateGraph(ChatState)
    _add_node(graph, "intent", nodes.intent_node(classify, reporter))
    _add_node(
        graph,
        "router",
        nodes.router_node(
            set(present),
            reporter,
            dynamic=enable_dynamic_routing,
            multi_intent=enable_multi_intent,
            enrichment=enable_enrichment,
        ),
    )
    for name, lookup in present.items():
        _add_node(graph, name, _asking(tools.tool_node(name, lookup, reporter)))
        graph.add_edge(name, "answer")
    _add_node(graph, "answer", answer.answer_node(llm, reporter, photo_store))

    graph.add_edge(START, "intent")
    if vision_model is not None:
        _add_node(graph, "vision", nodes.vision_node(vision_model, reporter, photo_store))
        graph.add_conditional_edges("intent", _vision_or_router, ["vision", "router"])
        graph.add_edge("vision", "router")
    else:
        graph.add_edge("intent", "router")
    graph.add_conditional_edges("router", _fan_out, list(present))
    if enable_summarization:
        _add_node(graph, "summarize", answer.summarize_node(llm, reporter))
        graph.add_edge("answer", "summarize")
        graph.add_edge("summarize", END)
    else:
        graph.add_edge("answer", END)
    return graph.compile(checkpointer=checkpointer, name="eco2-chat")


def _asking(node: tools.Node) -> tools.Node:
    """A node that asks the person (InputNeeded) pauses the graph with `interrupt`; resumed,
    it runs again with the answer. A district the person gave is kept for the thread."""

    async def run(branch: BranchInput) -> ChatUpdate:
        while True:
            try:
                update = await node(branch)
            except InputNeeded as needed:
                value = str(interrupt(needed.request.model_dump()))
                branch = branch.answered(needed.request.field, value)
                continue
            district = district_in(branch.answers.get("district"))
            return {**update, "district": district} if district else update

    return run


def _add_node(graph: StateGraph[Any], name: str, action: Any) -> None:
    # LangGraph's overloads cannot see that our closures match its node protocol.
    graph.add_node(name, action)


def _vision_or_router(state: ChatState) -> str:
    return "vision" if state["request"].image_url else "router"


def _fan_out(state: ChatState) -> Sequence[Send]:
    """One Send per planned route: independent nodes run concurrently in one step."""
    return [Send(node, branch) for node, branch in nodes.branch_inputs(state)]
