"""Follow-ups: "뚜껑은요?" after a glass-bottle question asks about the glass bottle's cap.

The retrieval query joins the current turn with the thread's last item; deterministic, so the
offline deployment does it too. When a language model classifies the intents it is shown the
item and asked for self-contained sub-questions; a query that already names the item is left
as the model wrote it.
"""

from __future__ import annotations

import re

from app.application.ports.retriever import RetrieverPort
from app.domain.chat import Subject
from app.domain.language import Language, detect_language
from app.domain.tools import RetrievedItem

LEAD = re.compile(
    r"^(?:그럼|그러면|그리고|그건|근데|또|and|so|what about|how about|also)\s*,?\s+", re.I
)
# "그럼 깨진 건?": the thing (건/것/거) is the last item, so "깨진 유리병".
PLACEHOLDER = re.compile(r"(?<=\S\s)(?:건|것|거|걸|게)(?=\s*(?:요|은요|는요)?\s*[?？.!]*$)")
OWN_CANDIDATES = 8
CONTEXT_CANDIDATES = 30  # the last item's neighbours reach far down its ranking (caps, labels)
CONTEXT_WEIGHT = 0.5  # how much the last item's ranking counts beside the turn's own
EN_FILLER = re.compile(r"\b(?:the|its|it's|their|a|an|one|ones)\b\s*", re.I)


def mentions(query: str, subject: Subject) -> bool:
    """Whether a query already names the item (a model's self-contained rewrite does)."""
    compact = re.sub(r"\s+", "", query).lower()
    names = (subject.name_ko, subject.name_en)
    return any(
        len(word) >= 2 and word.lower() in compact
        for name in names
        for word in re.split(r"[\s·/()]+", name)
    )


def rewrite(query: str, subject: Subject) -> str:
    """The query with the last item put where the question leaves it out."""
    language: Language = detect_language(query)
    name = subject.name(language)
    body = LEAD.sub("", query.strip()) or query.strip()
    if language == "en":
        return f"{name} {EN_FILLER.sub('', body).strip()}".strip()
    if PLACEHOLDER.search(body):
        return PLACEHOLDER.sub(name, body, count=1)
    return f"{name} {body}"


async def follow_up_hits(
    retriever: RetrieverPort, original: str, subject: Subject, k: int
) -> list[RetrievedItem]:
    """Hits for a follow-up: the turn's own ranking, plus a share of the last item's.

    The turn's words choose among its own candidates ('뚜껑은요?' → caps), the last item
    breaks the tie towards its neighbours (a glass bottle → the metal cap, not the plastic
    one), and a turn that names no item of its own stays on the last item ('어디에 버려?').
    Each ranking is scaled by its best score, so a short English turn counts as much as a
    long Korean one; a turn with no confident hit names nothing, and counts for nothing.
    """
    own = await retriever.search(original, OWN_CANDIDATES)
    context = await retriever.search(subject.name(detect_language(original)), CONTEXT_CANDIDATES)
    fused: dict[str, tuple[float, RetrievedItem]] = {}
    own_weight = 1.0 if any(hit.confident for hit in own) else 0.0
    for hits, weight in ((own, own_weight), (context, CONTEXT_WEIGHT)):
        top = max((hit.score for hit in hits), default=1.0) or 1.0
        for hit in hits:
            score, first = fused.get(hit.item.id, (0.0, hit))
            fused[hit.item.id] = (score + weight * hit.score / top, first)
    ranked = sorted(fused.values(), key=lambda pair: -pair[0])[:k]
    return [hit.model_copy(update={"score": round(score, 4)}) for score, hit in ranked]
