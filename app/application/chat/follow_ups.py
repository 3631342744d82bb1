"""Follow-ups: "뚜껑은요?" after a glass-bottle question asks about the glass bottle's cap.

The retrieval query joins the current turn with the thread's last item; deterministic, so the
offline deployment does it too. When a language model classifies the intents it is shown the
item and asked for self-contained sub-questions; a query that already names the item is left
as the model wrote it.
"""

from __future__ import annotations

import re

from app.application.chat.conditions import names_only_a_state, part_asked, without_states
from app.application.chat.verdicts import is_yes_no, without_bins
from app.application.ports.tools import RetrieverPort
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
# '그럼 영수증도?', '캔은요?': one noun and a particle, leaning on the whole last question.
ELLIPTICAL = re.compile(r"^([가-힣]{1,10}?)(?:도|은|는|이|가)(?:요)?\s*[?？]?$")
# A short question about a fee, a place or a number names no item: it asks about the last one
# ('얼마야?', '돈 내야 돼?', 'Where is the bin?', 'What number do I call?').
ABOUT_THE_LAST = re.compile(
    r"^(?:얼마|돈|비용|요금|수수료|어디|어딨|언제|무료|유료|공짜|전화|번호|수거함)"
    r"|\b(?:how much|what number|which number|the bin|the box|the fee|the cost|the number|"
    r"is it free|do i pay|(?:need|have) to pay|pay for|does it cost|cost anything|charge)\b",
    re.I,
)
EN_PRONOUN = re.compile(r"\b(?:it|they|them|this|that|these|those)\b", re.I)
# Pronouns that never stand before a noun: the turn leans on the last item, whatever its length.
THE_LAST_ONE = re.compile(r"\b(?:it|they|them)\b", re.I)
POINTS_BACK = re.compile(rf"{THE_LAST_ONE.pattern}|그거|그것|이거|이것", re.I)
EN_FILLER = re.compile(r"\b(?:the|its|it's|their|a|an|one|ones)\b\s*", re.I)


def _borrowed(body: str, subject: Subject) -> str:
    """The previous yes-or-no question with its item swapped for this turn's, or ''."""
    match = ELLIPTICAL.match(body)
    if not match or not subject.asked or not is_yes_no(subject.asked):
        return ""
    item = match.group(1)
    keys = [w for w in re.split(r"[\s·/()]+", subject.name_ko) if len(w) >= 2]
    words = subject.asked.split()
    for index, word in enumerate(words):
        key = next((k for k in keys if k in word), None)
        if key is not None:
            suffix = word[word.index(key) + len(key) :]
            words[index] = item + _same_particle(suffix, item)
            return " ".join(words)
    return ""


def _same_particle(suffix: str, noun: str) -> str:
    """The particle the old word had, in the form the new noun takes (신문지는 → 영수증은)."""
    final = "가" <= noun[-1] <= "힣" and (ord(noun[-1]) - 0xAC00) % 28 != 0
    for consonant, vowel in (("은", "는"), ("이", "가"), ("을", "를"), ("으로", "로")):
        if suffix in (consonant, vowel):
            return consonant if final else vowel
    return suffix


def asks_only_about_the_last(message: str) -> bool:
    """A short question about a fee, a place or a number, a state and nothing else, or a
    yes or no that names only a bin ('종이랑 같이 내도 돼?'): it names no item, it asks about
    the last one."""
    stripped = message.strip()
    if len(stripped.split()) <= 6 and ABOUT_THE_LAST.search(stripped):
        return True
    return names_only_a_state(stripped) or names_only_a_bin(stripped)


# What is left of a question that names only a bin: particles, adverbs, the verb.
TOGETHER = re.compile(r"같이|함께|랑 |이랑|하고|\bwith\b|together")
FILLER = frozenset("그냥 같이 함께 다 또 랑 이랑 하고 and with together the a".split())
VERB_END = re.compile(r"(?:도|돼|요|까|나|니|지|죠|냐|됨|음)$")


def names_only_a_bin(message: str) -> bool:
    """'종이랑 같이 내도 돼?', '그냥 종이류랑 같이 묶어도 돼?': a yes or no whose words, less the
    bin, are particles and a verb."""
    if len(message.split()) > 6 or not is_yes_no(message) or not TOGETHER.search(message):
        return False
    words = re.findall(r"[가-힣]+|[a-z]+", without_bins(message))
    return all(w in FILLER or VERB_END.search(w) for w in words)


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
    """The query with the last item put where the question leaves it out; an elliptical
    '그럼 영수증도?' after '신문지는 종이로 버리면 되지?' asks that question of 영수증."""
    language: Language = detect_language(query)
    name = subject.name(language)
    body = LEAD.sub("", query.strip()) or query.strip()
    borrowed = _borrowed(body, subject)
    if borrowed:
        return borrowed
    if language == "en":
        if EN_PRONOUN.search(body):
            return EN_PRONOUN.sub(name, body, count=1)
        return f"{name} {EN_FILLER.sub('', body).strip()}".strip()
    if PLACEHOLDER.search(body):
        return PLACEHOLDER.sub(lambda m: _placeholder_for(m.group(0), name), body, count=1)
    return f"{name} {body}"


# The particle each placeholder holds (건 = 것은, 걸 = 것을, 게 = 것이; a bare 거 asks "what
# about" as 건 does), kept on the name so the rewrite asks what the message asked: '그럼 깨진
# 건?' is "what about", not yes or no.
PLACEHOLDER_PARTICLE = {"건": "은", "거": "은", "것": "은", "걸": "을", "게": "이"}


def _placeholder_for(placeholder: str, name: str) -> str:
    particle = PLACEHOLDER_PARTICLE.get(placeholder)
    return name + _same_particle(particle, name) if particle else name


async def follow_up_hits(
    retriever: RetrieverPort, original: str, subject: Subject, k: int
) -> list[RetrievedItem]:
    """Hits for a follow-up: the turn's own ranking, plus a share of the last item's.

    The turn's words choose among its own candidates ('뚜껑은요?' → caps), the last item
    breaks the tie towards its neighbours (a glass bottle → the metal cap, not the plastic
    one), and a turn that names no item of its own stays on the last item ('어디에 버려?',
    '음식 묻은 건?').
    Each ranking is scaled by its best score, so a short English turn counts as much as a
    long Korean one; a turn with no confident hit names nothing, and counts for nothing.
    """
    # A bin the turn names is no item ('종이류랑 같이 묶어도 돼?' is about the carton); nor is a
    # part it asks to take off ('포장은 뜯어야 돼?' is about the pills).
    # Nor is a state: '구멍 꼭 뚫어야 돼?' after butane names nothing, though socks have holes.
    own_query = without_states(without_bins(original))
    own = await retriever.search(own_query, OWN_CANDIDATES) if own_query.strip() else []
    context = await retriever.search(subject.name(detect_language(original)), CONTEXT_CANDIDATES)
    fused: dict[str, tuple[float, RetrievedItem]] = {}
    # '얼마야?' or '음식 묻은 건?' names nothing, whatever fee or stain words it shares with
    # other items: it stays on the last item.
    # A turn pointing at the last item ('can someone pick them up?') leaves it only for an
    # item it names outright.
    pointing = POINTS_BACK.search(original) is not None
    names = (
        any(hit.confident and (hit.exact or not pointing) for hit in own)
        and not asks_only_about_the_last(original)
        and part_asked(original) is None
    )
    own_weight = 1.0 if names else 0.0
    for hits, weight in ((own, own_weight), (context, CONTEXT_WEIGHT)):
        top = max((hit.score for hit in hits), default=1.0) or 1.0
        for hit in hits:
            score, first = fused.get(hit.item.id, (0.0, hit))
            # The item's hit as the surer ranking has it: the last item stays confident
            # where the turn's own words only brushed it.
            kept = first if first.confident or not hit.confident else hit
            fused[hit.item.id] = (score + weight * hit.score / top, kept)
    ranked = sorted(fused.values(), key=lambda pair: -pair[0])[:k]
    return [hit.model_copy(update={"score": round(score, 4)}) for score, hit in ranked]
