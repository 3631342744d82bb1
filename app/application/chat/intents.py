"""Intent classification: structured output, a confidence floor, follow-ups, character names,
and a cache for messages that do not depend on the conversation."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Sequence

from app.application.chat.lexicon import looks_like_follow_up
from app.application.ports.cache import CachePort
from app.application.ports.llm import LLMPort
from app.domain.chat import Intent, IntentClassification, IntentScore, Subject
from app.domain.llm import ChatMessage

CONFIDENCE_FLOOR = 0.45
CACHE_TTL_SECONDS = 24 * 3600
CACHE_VERSION = "v1"
SYSTEM = """\
You classify messages sent to eco2, a Korean recycling and waste-disposal assistant.
Intents: waste (how to sort or dispose of an item), character (the app's characters: {names}),
location (places on a map near somewhere), bulk_waste (furniture and large appliances: reporting,
fees, pickup), recyclable_price (what scrap or recyclables sell for), weather, collection_point
(battery, lamp, medicine, clothing bins and recycling centres nearby), web_search (news, recent
changes, facts outside disposal rules), image_generation (draw or make a picture), general.
If the message asks several things, return one intent per part, each with its own sub-question
in `query`, in the user's language. Give a confidence from 0 to 1 and a short reasoning.
Intents of the previous turns, most recent last: {recent}.
The previous turn was about: {subject}. When the message leans on it ("and the cap?",
"뚜껑은요?"), write each `query` as a self-contained question that names it."""

Classifier = Callable[[str, Sequence[str], Subject | None], Awaitable[IntentClassification]]


def make_intent_classifier(
    llm: LLMPort,
    *,
    cache: CachePort | None = None,
    character_names: Callable[[], Awaitable[list[str]]] | None = None,
    floor: float = CONFIDENCE_FLOOR,
) -> Classifier:
    """Returns `classify(message, recent_intents, subject)`."""

    async def classify(
        message: str, recent_intents: Sequence[str], subject: Subject | None = None
    ) -> IntentClassification:
        names = await character_names() if character_names else []
        follow_up = bool(recent_intents) and looks_like_follow_up(message)
        key = _cache_key(message) if not follow_up else None
        classification = await _cached(cache, key)
        if classification is None:
            prompt = SYSTEM.format(
                names=", ".join(names) or "none",
                recent=", ".join(recent_intents) or "none",
                subject=f"{subject.name_ko} ({subject.name_en})" if subject else "nothing yet",
            )
            classification = await llm.generate_structured(
                [ChatMessage.user(message)], IntentClassification, system=prompt
            )
            if cache is not None and key is not None:
                await _store(cache, key, classification)
        return refine(classification, message, recent_intents, names, floor)

    return classify


def refine(
    classification: IntentClassification,
    message: str,
    recent_intents: Sequence[str],
    character_names: Sequence[str],
    floor: float = CONFIDENCE_FLOOR,
) -> IntentClassification:
    """The rules the model is not trusted with."""
    scores = [s for s in classification.intents if s.confidence >= floor]
    if not scores:
        best = classification.primary
        scores = [
            IntentScore(
                intent=Intent.GENERAL,
                confidence=best.confidence,
                reasoning=f"below the {floor} floor: {best.intent.value}",
                query=message,
            )
        ]
    primary = max(scores, key=lambda s: s.confidence)
    if primary.intent is Intent.GENERAL and recent_intents and looks_like_follow_up(message):
        previous = Intent(recent_intents[-1])
        scores = [
            IntentScore(
                intent=previous,
                confidence=0.7,
                query=message,
                reasoning=f"follow-up to a {previous.value} question",
            )
        ]
    # A name counts as a word of its own ('페트리는', not '조건이' for '건이').
    mentioned = [
        n
        for n in character_names
        if n and re.search(rf"(?<![\w가-힣]){re.escape(n)}", message, re.I)
    ]
    if mentioned and all(s.intent is not Intent.CHARACTER for s in scores):
        scores.append(
            IntentScore(
                intent=Intent.CHARACTER,
                confidence=1.0,
                query=message,
                reasoning=f"names the character {mentioned[0]}",
            )
        )
    unique: dict[tuple[Intent, str], IntentScore] = {}
    for score in sorted(scores, key=lambda s: -s.confidence):
        filled = score if score.query.strip() else score.model_copy(update={"query": message})
        unique.setdefault((filled.intent, filled.query), filled)
    return IntentClassification(intents=list(unique.values())[:3])


def _cache_key(message: str) -> str:
    normalised = " ".join(message.lower().split())
    digest = hashlib.sha256(normalised.encode()).hexdigest()[:32]
    return f"intent:{CACHE_VERSION}:{digest}"


async def _cached(cache: CachePort | None, key: str | None) -> IntentClassification | None:
    raw = await cache.get(key) if cache is not None and key is not None else None
    return IntentClassification.model_validate_json(raw) if raw else None


async def _store(cache: CachePort, key: str, classification: IntentClassification) -> None:
    await cache.set(key, classification.model_dump_json(), CACHE_TTL_SECONDS)
