"""`create_chat_graph`: the chat graph, built from the registered tools. Nodes exist only for the
tools that are enabled; routing, the classifier's intents and the answer's labels come from all
of them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.channels import EphemeralValue
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send, interrupt
from typing_extensions import TypedDict

from app.application.chat import answer, grading, nodes, tools
from app.application.chat.asking import InputNeeded, district_in
from app.application.chat.built_in import with_knowledge_base
from app.application.chat.intents import make_intent_classifier
from app.application.chat.progress import StageReporter
from app.application.chat.registry import Tool, Toolset
from app.application.chat.state import BranchInput, ChatState, ChatUpdate, RunContext, new_turn
from app.application.ports.llm import LLMPort, VisionModelPort
from app.application.ports.stores import CachePort, PhotoStorePort
from app.application.ports.tools import RetrieverPort
from app.domain.chat import ChatDraft

Graph = StateGraph[ChatState, RunContext, Any, ChatState]


@dataclass(frozen=True)
class GraphOptions:
    """How the graph is built, beyond its tools.

    The vision model and the photo store ride here rather than as tools: vision runs before
    routing for any message with a photo (no intent chooses it, it reads no branch), and the
    answer node reads the photo store as well.
    """

    summarization: bool = False
    dynamic_routing: bool = True
    multi_intent: bool = True
    enrichment: bool = True
    top_k: int = 3
    vision: VisionModelPort | None = None
    photos: PhotoStorePort | None = None
    intent_cache: CachePort | None = None
    # The input is a message as LangGraph's server sends it (Studio, `langgraph dev`), made into
    # the thread's turn by a first node; otherwise the caller gives the turn (`new_turn`).
    message_input: bool = False


class MessageInput(TypedDict):
    """A turn as JSON: what a client writes. pydantic needs typing_extensions' TypedDict on
    Python 3.11 to describe it (Studio draws its input form from that schema). The channel
    lives for one step, so a turn never inherits the previous one's photo or location."""

    draft: Annotated[ChatDraft, EphemeralValue(ChatDraft)]


def create_chat_graph(
    llm: LLMPort,
    retriever: RetrieverPort,
    tools: Sequence[Tool[Any]] = (),
    options: GraphOptions | None = None,
    checkpointer: Any = None,
    reporter: StageReporter | None = None,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """intent → (vision, with an image) → router → tool nodes in parallel → answer → grade →
    END.

    `tools` are the registered ones (the knowledge base's two are always added); one without a
    lookup is switched off. Compile once per process: it costs about as much as a run.
    """
    options = options or GraphOptions()
    reporter = reporter or StageReporter(None)
    toolset = with_knowledge_base(retriever, options.top_k, tuple(tools))
    classify = make_intent_classifier(llm, toolset, cache=options.intent_cache)
    inputs: type[Any] = MessageInput if options.message_input else ChatState
    graph: Graph = StateGraph(ChatState, context_schema=RunContext, input_schema=inputs)
    _add_node(graph, "intent", nodes.intent_node(classify, reporter))
    router = nodes.router_node(
        toolset,
        reporter,
        dynamic=options.dynamic_routing,
        multi_intent=options.multi_intent,
        enrichment=options.enrichment,
    )
    _add_node(graph, "router", router)
    _add_tool_nodes(graph, toolset, reporter)
    labels = {**toolset.labels, "vision": nodes.VISION_LABELS}
    _add_node(graph, "answer", answer.answer_node(llm, reporter, labels, options.photos))
    _add_edges(graph, llm, toolset, options, reporter)
    return graph.compile(checkpointer=checkpointer, name="eco2-chat")


def _add_tool_nodes(graph: Graph, toolset: Toolset, reporter: StageReporter) -> None:
    for tool in toolset.enabled:
        assert tool.lookup is not None  # what `enabled` means
        node = tools.tool_node(tool.name, tool.lookup, reporter)
        _add_node(graph, tool.name, _asking(node) if tool.asks_back else node, BranchInput)
        graph.add_edge(tool.name, "answer")


def _add_edges(
    graph: Graph,
    llm: LLMPort,
    toolset: Toolset,
    options: GraphOptions,
    reporter: StageReporter,
) -> None:
    if options.message_input:
        # As in `_add_node`: LangGraph's overloads cannot see that the function is a node.
        graph.add_node("turn", _turn_of_message, input_schema=MessageInput)  # type: ignore[call-overload]
        graph.add_edge(START, "turn")
        graph.add_edge("turn", "intent")
    else:
        graph.add_edge(START, "intent")
    if options.vision is not None:
        _add_node(graph, "vision", nodes.vision_node(options.vision, reporter, options.photos))
        graph.add_conditional_edges("intent", _vision_or_router, ["vision", "router"])
        graph.add_edge("vision", "router")
    else:
        graph.add_edge("intent", "router")
    graph.add_conditional_edges("router", _fan_out, [t.name for t in toolset.enabled])
    # Every answer is graded before it is final; the summary folds the graded one.
    _add_node(graph, "grade", grading.grade_node(llm, reporter))
    graph.add_edge("answer", "grade")
    if options.summarization:
        _add_node(graph, "summarize", answer.summarize_node(llm, reporter))
        graph.add_edge("grade", "summarize")
        graph.add_edge("summarize", END)
    else:
        graph.add_edge("grade", END)


async def _turn_of_message(value: MessageInput, config: RunnableConfig) -> ChatUpdate:
    """The message, validated where it enters, as a turn of the run's thread (a run with no
    thread is a conversation of one turn)."""
    draft = ChatDraft.model_validate(value["draft"])
    thread = config.get("configurable", {}).get("thread_id") or f"run-{uuid.uuid4().hex[:12]}"
    return new_turn(draft.for_thread(str(thread)))


def _asking(node: tools.Node) -> tools.Node:
    """A node that asks the person (InputNeeded) pauses the graph with `interrupt`; resumed,
    it runs again with the answer. A district the person gave is kept for the thread."""

    async def run(branch: BranchInput, context: RunContext) -> ChatUpdate:
        while True:
            try:
                update = await node(branch, context)
            except InputNeeded as needed:
                value = str(interrupt(needed.request.model_dump()))
                branch = branch.answered(needed.request.field, value)
                continue
            district = district_in(branch.answers.get("district"))
            return {**update, "district": district} if district else update

    return run


def _add_node(
    graph: Graph,
    name: str,
    node: Callable[[Any, RunContext], Awaitable[ChatUpdate]],
    input_schema: type[Any] | None = None,
) -> None:
    """Our nodes take the run's values as a plain argument; LangGraph hands them over as the
    runtime's context (by the parameter's name, `runtime`)."""

    async def run(value: Any, runtime: Runtime[RunContext]) -> ChatUpdate:
        return await node(value, runtime.context)

    # LangGraph's overloads cannot see that our closure matches its node protocol.
    graph.add_node(name, run, input_schema=input_schema)  # type: ignore[call-overload]


# The routing functions are coroutines: LangGraph runs a plain function in a thread pool (a
# thread hop per chat, about 3% of an offline chat's CPU in a profile), a coroutine inline.
async def _vision_or_router(state: ChatState) -> str:
    return "vision" if state["request"].image_url else "router"


async def _fan_out(state: ChatState) -> Sequence[Send]:
    """One Send per planned route: independent nodes run concurrently in one step."""
    return [Send(node, branch) for node, branch in nodes.branch_inputs(state)]
