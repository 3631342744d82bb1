"""Intent classification over the registered tools' intents: structured output, a confidence
floor, follow-ups, names that mark a tool (the characters'), and a cache for messages that do
not depend on the conversation."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationError, create_model

from app.application.chat.built_in import BUILT_IN, LEXICON
from app.application.chat.lexicon import Lexicon, classify_with_lexicon, looks_like_follow_up
from app.application.chat.registry import Toolset
from app.application.ports.llm import LLMPort
from app.application.ports.stores import CachePort
from app.domain.chat import (
    Intent,
    IntentClassification,
    IntentScore,
    Subject,
    intent_named,
)
from app.domain.llm import ChatMessage, Role

CONFIDENCE_FLOOR = 0.45
CACHE_TTL_SECONDS = 24 * 3600
CACHE_VERSION = "v1"
SYSTEM = """\
You classify messages sent to eco2, a Korean recycling and waste-disposal assistant.
Intents: {intents}.
If the message asks several things, return one intent per part, each with its own sub-question
in `query`, in the user's language. Give a confidence from 0 to 1 and a short reasoning.
Intents of the previous turns, most recent last: {recent}.
The previous turn was about: {subject}. When the message leans on it ("and the cap?",
"뚜껑은요?"), write each `query` as a self-contained question that names it."""

Classifier = Callable[[str, Sequence[str], Subject | None], Awaitable[IntentClassification]]


class RegisteredIntents(IntentClassification):
    """The classification's schema for one registry: its JSON schema lists the registered
    intents, and the offline provider classifies with `lexicon`, their keyword cues."""

    lexicon: ClassVar[Lexicon] = LEXICON


def classification_schema(tools: Toolset) -> type[RegisteredIntents]:
    """A schema per registry (the names keep the wire format of IntentClassification)."""
    named: Any = Literal[tools.intents]
    score = create_model("IntentScore", __base__=IntentScore, intent=(named, ...))
    schema = create_model(
        "IntentClassification",
        __base__=RegisteredIntents,
        intents=(list[score], Field(min_length=1, max_length=5)),
    )
    schema.lexicon = Lexicon.of(tools.tools)
    return schema


def lexicon_responder(messages: list[ChatMessage], schema: type[Any]) -> IntentClassification:
    """The offline provider's answer for a classification: the last user message, classified
    with the cues of the tools the schema was made for (the built-ins' for the bare schema)."""
    message = next((m.content for m in reversed(messages) if m.role is Role.USER), "")
    lexicon = schema.lexicon if issubclass(schema, RegisteredIntents) else LEXICON
    return classify_with_lexicon(message, lexicon)


def make_intent_classifier(
    llm: LLMPort,
    tools: Toolset = BUILT_IN,
    *,
    cache: CachePort | None = None,
    floor: float = CONFIDENCE_FLOOR,
) -> Classifier:
    """Returns `classify(message, recent_intents, subject)`."""
    schema = classification_schema(tools)

    async def classify(
        message: str, recent_intents: Sequence[str], subject: Subject | None = None
    ) -> IntentClassification:
        named = {intent: await names() for intent, names in tools.names.items()}
        # A thread may remember the intent of a tool since unregistered: it leads nowhere.
        recent_intents = [i for i in recent_intents if i in tools.node_for_intent]
        follow_up = bool(recent_intents) and looks_like_follow_up(message)
        key = _cache_key(message) if not follow_up else None
        classification = await _cached(cache, key, schema)
        if classification is None:
            prompt = SYSTEM.format(
                intents=described(tools, named),
                recent=", ".join(recent_intents) or "none",
                subject=f"{subject.name_ko} ({subject.name_en})" if subject else "nothing yet",
            )
            answer = await llm.generate_structured(
                [ChatMessage.user(message)], schema, system=prompt
            )
            # Back to the domain's own class: a checkpoint must hold no per-registry class.
            classification = IntentClassification.model_validate(answer.model_dump())
            if cache is not None and key is not None:
                await _store(cache, key, classification)
        return refine(classification, message, recent_intents, named, floor)

    return classify


def described(tools: Toolset, named: Mapping[str, Sequence[str]]) -> str:
    """'waste (how to sort or dispose of an item), character (the app's characters: 페트리)…'"""
    parts = []
    for tool in tools.tools:
        for intent in tool.intents:
            about = tool.describes
            if named.get(intent):
                about = f"{about}: {', '.join(named[intent])}"
            parts.append(f"{intent} ({about})" if about else intent)
    return ", ".join(parts)


def refine(
    classification: IntentClassification,
    message: str,
    recent_intents: Sequence[str],
    named: Mapping[str, Sequence[str]],
    floor: float = CONFIDENCE_FLOOR,
) -> IntentClassification:
    """The rules the model is not trusted with. `named` maps an intent to the names that make
    a message its own (the characters')."""
    scores = [s for s in classification.intents if s.confidence >= floor]
    if not scores:
        best = classification.primary
        scores = [
            IntentScore(
                intent=Intent.GENERAL,
                confidence=best.confidence,
                reasoning=f"below the {floor} floor: {best.intent}",
                query=message,
            )
        ]
    primary = max(scores, key=lambda s: s.confidence)
    if primary.intent == Intent.GENERAL and recent_intents and looks_like_follow_up(message):
        previous = intent_named(recent_intents[-1])
        scores = [
            IntentScore(
                intent=previous,
                confidence=0.7,
                query=message,
                reasoning=f"follow-up to a {previous} question",
            )
        ]
    scores += _named_in(message, named, scores)
    unique: dict[tuple[str, str], IntentScore] = {}
    for score in sorted(scores, key=lambda s: -s.confidence):
        filled = score if score.query.strip() else score.model_copy(update={"query": message})
        unique.setdefault((filled.intent, filled.query), filled)
    return IntentClassification(intents=list(unique.values())[:3])


def _named_in(
    message: str, named: Mapping[str, Sequence[str]], scores: Sequence[IntentScore]
) -> list[IntentScore]:
    """An intent whose name the message uses: a name counts as a word of its own ('페트리는',
    not '조건이' for '건이')."""
    found = []
    lowered = message.lower()
    for intent, names in named.items():
        mentioned = [
            n for n in names if n and n.lower() in lowered and _name_start(n).search(message)
        ]
        if mentioned and all(s.intent != intent for s in scores):
            found.append(
                IntentScore(
                    intent=intent_named(intent),
                    confidence=1.0,
                    query=message,
                    reasoning=f"names the {intent} {mentioned[0]}",
                )
            )
    return found


def _cache_key(message: str) -> str:
    normalised = " ".join(message.lower().split())
    digest = hashlib.sha256(normalised.encode()).hexdigest()[:32]
    return f"intent:{CACHE_VERSION}:{digest}"


@functools.lru_cache(maxsize=4096)  # the tools' names: 18 today, bounded all the same
def _name_start(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w가-힣]){re.escape(name)}", re.I)


async def _cached(
    cache: CachePort | None, key: str | None, schema: type[IntentClassification]
) -> IntentClassification | None:
    """A stored classification, if its intents are still registered."""
    raw = await cache.get(key) if cache is not None and key is not None else None
    if not raw:
        return None
    try:
        schema.model_validate_json(raw)
    except ValidationError:
        return None
    return IntentClassification.model_validate_json(raw)


async def _store(cache: CachePort, key: str, classification: IntentClassification) -> None:
    await cache.set(key, classification.model_dump_json(), CACHE_TTL_SECONDS)
