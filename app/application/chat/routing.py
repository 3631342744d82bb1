"""Which nodes answer a message: one per intent (the tool serving it), fanned out, plus helpful
neighbours."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from app.application.chat import follow_ups
from app.application.chat.lexicon import looks_like_follow_up
from app.application.chat.registry import Toolset
from app.domain.chat import ChatRequest, Intent, IntentClassification, IntentName, Subject

RECENT_EVENTS = re.compile(
    r"뉴스|최근|최신|올해|요즘|바뀌|news|latest|recent|this year|\b20\d\d\b", re.I
)
LOW_CONFIDENCE = 0.6


@dataclass(frozen=True)
class Route:
    node: str
    intent: IntentName
    query: str
    reason: str
    slot: str = ""
    # A follow-up's query is rewritten with the thread's last item; the turn as asked is kept
    # so retrieval can still prefer an item the turn names itself.
    subject: Subject | None = None
    original: str = ""


@dataclass(frozen=True)
class RoutePlan:
    routes: tuple[Route, ...]
    unavailable: tuple[str, ...]  # nodes the intents wanted but this deployment lacks


def plan_routes(
    classification: IntentClassification,
    request: ChatRequest,
    available: set[str] | frozenset[str],
    *,
    tools: Toolset,
    dynamic: bool = True,
    multi_intent: bool = True,
    enrichment: bool = True,
    vision_item: str | None = None,
    subject: Subject | None = None,
) -> RoutePlan:
    if not dynamic:  # one fixed path: the knowledge base answers everything
        return _slotted([Route("waste_rag", Intent.WASTE, request.message, "fixed route")], ())
    scores = sorted(classification.intents, key=lambda s: -s.confidence)
    if not multi_intent:
        scores = scores[:1]
    wanted = [
        Route(tools.node_for_intent[s.intent], s.intent, s.query or request.message, "intent")
        for s in scores
    ]
    if vision_item:
        wanted = [_with_photo(route, vision_item) for route in wanted]
    elif subject is not None and looks_like_follow_up(request.message):
        wanted = [_leaning_on(route, subject, tools) for route in wanted]
    # Only what the user asked for counts as unavailable; enrichment is best effort.
    unavailable = tuple(dict.fromkeys(r.node for r in wanted if r.node not in available))
    if unavailable and "waste_rag" in available:
        wanted = [_stand_in(route, available, tools) for route in wanted]
    if enrichment:
        wanted += enrich(wanted, classification, request)
    routes = [r for r in wanted if r.node in available]
    if not routes:
        routes = [Route("general", Intent.GENERAL, request.message, "fallback")]
    return _slotted(routes, unavailable)


def enrich(
    routes: list[Route], classification: IntentClassification, request: ChatRequest
) -> list[Route]:
    """Neighbours worth asking too. Each rule names why, for the logs and the tests."""
    nodes = {r.node for r in routes}
    extra: list[Route] = []
    waste = next((r for r in routes if r.intent == Intent.WASTE), None)
    if waste and request.location is not None:
        extra.append(Route("weather", Intent.WEATHER, waste.query, "enrichment: disposal + place"))
        extra.append(
            Route(
                "collection_point",
                Intent.COLLECTION_POINT,
                waste.query,
                "enrichment: disposal + place",
            )
        )
    for route in routes:
        if route.intent in (Intent.COLLECTION_POINT, Intent.LOCATION) and "waste_rag" not in nodes:
            extra.append(
                Route("waste_rag", Intent.WASTE, route.query, "enrichment: where + how to dispose")
            )
            break
    primary = classification.primary
    if primary.intent == Intent.GENERAL and (
        primary.confidence < LOW_CONFIDENCE or RECENT_EVENTS.search(request.message)
    ):
        extra.append(
            Route(
                "web_search",
                Intent.WEB_SEARCH,
                request.message,
                "enrichment: open or recent question",
            )
        )
    return [r for r in extra if r.node not in nodes]


def _leaning_on(route: Route, subject: Subject, tools: Toolset) -> Route:
    if route.intent not in tools.about_an_item or follow_ups.mentions(route.query, subject):
        return route
    query = follow_ups.rewrite(route.query, subject)
    return replace(
        route,
        query=query,
        reason=f"{route.reason} + follow-up",
        subject=subject,
        original=route.query,
    )


def _stand_in(route: Route, available: set[str] | frozenset[str], tools: Toolset) -> Route:
    if route.node in available or route.intent not in tools.kb_stands_in:
        return route
    return replace(
        route, node="waste_rag", intent=Intent.WASTE, reason=f"knowledge base: {route.node} is off"
    )


def _with_photo(route: Route, item: str) -> Route:
    if route.intent in (Intent.WASTE, Intent.GENERAL):
        return replace(
            route,
            node="waste_rag",
            intent=Intent.WASTE,
            query=f"{item} {route.query}",
            reason="intent + photo",
        )
    return route


def _slotted(routes: list[Route], unavailable: tuple[str, ...]) -> RoutePlan:
    """Drop repeats; name each branch's slot (`waste_rag`, then `waste_rag#2`)."""
    seen: set[tuple[str, str]] = set()
    counts: Counter[str] = Counter()
    slotted: list[Route] = []
    for route in routes:
        if (route.node, route.query) in seen:
            continue
        seen.add((route.node, route.query))
        counts[route.node] += 1
        n = counts[route.node]
        slot = route.node if n == 1 else f"{route.node}#{n}"
        slotted.append(replace(route, slot=slot))
    return RoutePlan(tuple(slotted), unavailable)
