"""The graph's core nodes: intent, vision, router. Plain closures over ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.application.chat.intents import Classifier
from app.application.chat.progress import StageReporter
from app.application.chat.registry import Labels, Toolset
from app.application.chat.routing import plan_routes
from app.application.chat.state import (
    BranchInput,
    ChatState,
    ChatUpdate,
    LookupStatus,
    NodeResult,
    RunContext,
)
from app.application.photos import usable_image_url
from app.application.ports.llm import VisionModelPort
from app.application.ports.stores import PhotoStorePort
from app.domain.chat import Source
from app.domain.errors import DomainError
from app.domain.llm import ContextEntry
from app.domain.tools import VisionResult

StateNode = Callable[[ChatState, RunContext], Awaitable[ChatUpdate]]
CONFIDENT_PHOTO = 0.5  # below this the photo's item does not steer the routing
VISION_LABELS = Labels("사진 분석", "the photo")


def intent_node(classify: Classifier, reporter: StageReporter) -> StateNode:
    async def run(state: ChatState, context: RunContext) -> ChatUpdate:
        request = state["request"]
        async with reporter.stage(context.job_id, "intent") as outcome:
            classification = await classify(
                request.message, state.get("recent_intents", []), state.get("subject")
            )
            outcome.note(intents=[str(s.intent) for s in classification.intents])
        return {"classification": classification}

    return run


def vision_node(
    vision: VisionModelPort, reporter: StageReporter, photos: PhotoStorePort | None = None
) -> StateNode:
    async def run(state: ChatState, context: RunContext) -> ChatUpdate:
        request = state["request"]
        assert request.image_url is not None  # the graph only routes here with an image
        async with reporter.stage(context.job_id, "vision") as outcome:
            try:
                image = await usable_image_url(request.image_url, photos)
                result = await vision.classify(image, request.message)
            except DomainError as exc:
                outcome.failed = True
                failed = NodeResult(
                    node="vision",
                    slot="vision",
                    query=request.message,
                    status=LookupStatus.FAILED,
                    error=str(exc),
                )
                return {"vision": None, "contexts": {"vision": failed}}
            outcome.note(item=result.item_name)
        return {"vision": result, "contexts": {"vision": photo_result(result, request.message)}}

    return run


def photo_result(result: VisionResult, question: str) -> NodeResult:
    text = f"사진 속 물건 (photo): {result.item_name}. {result.description}".strip()
    return NodeResult(
        node="vision",
        slot="vision",
        query=question,
        status=LookupStatus.OK,
        entries=(ContextEntry(lines=(text,)),),
        sources=(Source(title="photo", kind="vision"),),
    )


def router_node(
    tools: Toolset,
    reporter: StageReporter,
    *,
    dynamic: bool,
    multi_intent: bool,
    enrichment: bool,
) -> StateNode:
    async def run(state: ChatState, context: RunContext) -> ChatUpdate:
        vision = state.get("vision")
        photo = vision.item_name if vision and vision.confidence >= CONFIDENT_PHOTO else None
        async with reporter.stage(context.job_id, "router") as outcome:
            plan = plan_routes(
                state["classification"],
                state["request"],
                tools.available,
                tools=tools,
                dynamic=dynamic,
                multi_intent=multi_intent,
                enrichment=enrichment,
                vision_item=photo,
                subject=state.get("subject"),
            )
            outcome.note(routes=[r.slot for r in plan.routes])
        return {"routes": list(plan.routes), "unavailable": list(plan.unavailable)}

    return run


def branch_inputs(state: ChatState) -> list[tuple[str, BranchInput]]:
    """What the router fans out: (node, its input) per planned route."""
    return [
        (
            route.node,
            BranchInput(
                request=state["request"],
                route=route,
                vision=state.get("vision"),
                district=state.get("district"),
            ),
        )
        for route in state.get("routes", [])
    ]
