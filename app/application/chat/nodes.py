"""The graph's core nodes: intent, vision, router. Plain closures over ports."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.application.chat.intents import Classifier
from app.application.chat.progress import StageReporter
from app.application.chat.routing import plan_routes
from app.application.chat.state import BranchInput, ChatState, NodeResult
from app.application.ports.vision import VisionModelPort
from app.domain.chat import ChatRequest, IntentClassification
from app.domain.errors import DomainError

StateNode = Callable[[ChatState], Awaitable[dict[str, Any]]]


def intent_node(classify: Classifier, reporter: StageReporter) -> StateNode:
    async def run(state: ChatState) -> dict[str, Any]:
        request = ChatRequest.model_validate(state["request"])
        async with reporter.stage(state["job_id"], "intent") as outcome:
            classification = await classify(request.message, state.get("recent_intents", []))
            outcome["intents"] = [s.intent.value for s in classification.intents]
        return {"classification": classification.model_dump(mode="json")}

    return run


def vision_node(vision: VisionModelPort, reporter: StageReporter) -> StateNode:
    async def run(state: ChatState) -> dict[str, Any]:
        request = ChatRequest.model_validate(state["request"])
        assert request.image_url is not None  # the graph only routes here with an image
        async with reporter.stage(state["job_id"], "vision") as outcome:
            try:
                result = await vision.classify(request.image_url, request.message)
            except DomainError as exc:
                outcome["failed"] = True
                failed = NodeResult(node="vision", status="failed", error=str(exc), text="")
                return {"vision": None, "contexts": {"vision": failed}}
            outcome["item"] = result.item_name
        text = f"사진 속 물건 (photo): {result.item_name}. {result.description}".strip()
        seen = NodeResult(
            node="vision",
            status="ok",
            text=text,
            query=request.message,
            sources=[{"title": "photo", "kind": "vision"}],
        )
        return {"vision": result.model_dump(mode="json"), "contexts": {"vision": seen}}

    return run


def router_node(
    available: set[str],
    reporter: StageReporter,
    *,
    dynamic: bool,
    multi_intent: bool,
    enrichment: bool,
) -> StateNode:
    async def run(state: ChatState) -> dict[str, Any]:
        request = ChatRequest.model_validate(state["request"])
        classification = IntentClassification.model_validate(state["classification"])
        vision = state.get("vision") or {}
        confident_item = vision.get("item_name") if vision.get("confidence", 0) >= 0.5 else None
        async with reporter.stage(state["job_id"], "router") as outcome:
            plan = plan_routes(
                classification,
                request,
                available,
                dynamic=dynamic,
                multi_intent=multi_intent,
                enrichment=enrichment,
                vision_item=confident_item,
            )
            outcome["routes"] = [r.slot for r in plan.routes]
        routes = [
            {
                "node": r.node,
                "slot": r.slot,
                "query": r.query,
                "intent": r.intent.value,
                "reason": r.reason,
            }
            for r in plan.routes
        ]
        return {"routes": routes, "unavailable": list(plan.unavailable)}

    return run


def branch_inputs(state: ChatState) -> list[tuple[str, BranchInput]]:
    """What the router fans out: (node, its input) per planned route."""
    return [
        (
            route["node"],
            BranchInput(
                job_id=state["job_id"],
                request=state["request"],
                query=route["query"],
                slot=route["slot"],
                intent=route["intent"],
                vision=state.get("vision"),
            ),
        )
        for route in state.get("routes", [])
    ]
