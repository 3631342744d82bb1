"""What a yes-or-no question says about its item: the state it is in ('깨진', 'greasy', '반쯤
남은') and the part it asks to take off ('뚜껑 빼야 돼?'). The verdict is decided from these
and the facts the item carries, not from words the question shares with the item's text."""

from __future__ import annotations

import re
from typing import TypeVar

from app.domain.waste import Condition, ItemState, Part, WasteItem

S = ItemState
K = TypeVar("K")


def _compiled(pairs: tuple[tuple[K, str], ...]) -> tuple[tuple[K, re.Pattern[str]], ...]:
    return tuple((key, re.compile(pattern, re.I)) for key, pattern in pairs)


# Checked in this order; a state and its opposite together decide nothing ('깨끗한 부분만
# 잘라 기름 묻은 데는 버리고').
STATES = _compiled(
    (
        (S.INTACT, r"안 ?깨|깨지지 ?않|멀쩡|온전|\bintact\b|\bunbroken\b|not broken|in one piece"),
        (S.BROKEN, r"깨진|깨졌|깨져|깨뜨|께진|께졌|금 ?(?:이 )?간|금 ?갔|부서|박살|"
                   r"\bbroken\b|\bcracked\b|\bshattered\b|\bsmashed\b|\bchipped\b"),
        (S.CLEAN, r"깨끗|씻은|씻었|헹군|헹궜|\bclean\b|\brinsed\b|\bwashed\b"),
        (S.SOILED, r"기름|묻은|묻어|묻었|오염|더러|흥건|양념|찌든|얼룩|"
                   r"\bgreasy\b|\bgrease\b|\boily\b|\bdirty\b|\bsoiled\b|\bstained\b|"
                   r"\bstains?\b|food (?:on|stuck)|sauce on|with food"),
        (S.CONTENTS_LEFT, r"남았|남은|남아|들어 ?있|차 ?있|반쯤|덜 ?쓴|"
                          r"still (?:has|have|full|some)|\bleft in\b|left over|leftover|"
                          r"half[- ]full|not empty|still in (?:it|them|there)|"
                          r"(?:gas|liquid|fuel|contents?) (?:is |are )?still|"
                          r"some (?:\w+ )?left"),
        (S.EMPTY, r"다 쓴|다 먹은|비운|비웠|\bempty\b|\bemptied\b|used up"),
        (S.COLORED, r"초록|녹색|유색|갈색|파란색|색깔 ?있는|색 ?있는|\bgreen\b|\bbrown\b|"
                    r"\bcolou?red\b|\btinted\b"),
        (S.COATED, r"코팅|은박|\bcoated\b|\blaminated\b|\bglossy\b|\bfoil[- ]lined\b"),
        (S.WORN, r"구멍|찢어|찢긴|해진|늘어난|젖은|젖었|\btorn\b|\bripped\b|\bholes?\b|"
                 r"worn[- ]out|\bwet\b"),
    )
)  # fmt: skip
# Washing decides between soiled and clean: '씻으면 돼?' asks about it washed, a stain that
# 'won't wash off' stays.
STAYS_SOILED = re.compile(
    r"안 ?지워|지워지지 ?않|안 ?씻기|씻어도 안|안 ?빠지|won'?t (?:wash|come) off|"
    r"(?:doesn'?t|does not|won'?t) come (?:off|out|clean)|can'?t (?:be )?(?:wash|clean)",
    re.I,
)
ONCE_WASHED = re.compile(
    r"씻으면|헹구면|닦으면|씻어서|헹궈서|씻은 ?뒤|헹군 ?뒤|"
    r"if (?:i |you |we )?(?:rinse|wash|clean)|after (?:rinsing|washing|cleaning)|"
    r"once (?:it'?s |they'?re )?(?:rinsed|washed|cleaned)|rinsed (?:it |them )?(?:out|clean)",
    re.I,
)
OPPOSITES = ((S.INTACT, S.BROKEN), (S.CLEAN, S.SOILED), (S.EMPTY, S.CONTENTS_LEFT))
# The state that decides when several are said: a broken dirty bottle is broken glass.
PRECEDENCE = (
    S.BROKEN, S.SOILED, S.WORN, S.CONTENTS_LEFT, S.COLORED, S.COATED, S.INTACT, S.CLEAN,
    S.EMPTY,
)  # fmt: skip

PARTS = _compiled(
    (
        (Part.CAP, r"뚜껑|마개|\bcaps?\b|\blids?\b"),
        (Part.LABEL, r"라벨|상표|\blabels?\b"),
        (Part.SPRING, r"스프링|\bsprings?\b|spiral|coil"),
        (Part.BATTERY, r"건전지|배터리|\bbatter(?:y|ies)\b"),
        (Part.TAPE, r"테이프|송장|\btape\b"),
        (Part.STRAW, r"빨대|\bstraws?\b"),
        (Part.PACKAGING, r"포장|껍데기|\bpackag|\bblister|\bwrapp"),
    )
)  # fmt: skip
REMOVE = re.compile(
    r"빼|떼|분리|제거|벗겨|벗기|따로|\bremov|take (?:\w+ )?(?:off|out)|taking (?:\w+ )?(?:off|out)|"
    r"\bdetach|\bseparat|\bpeel",
    re.I,
)
# '라벨 안 떼고', 'without taking the cap off': it proposes leaving the part on.
NOT_REMOVED = re.compile(
    r"안 ?(?:떼|빼|벗기|벗겨|분리|제거)|(?:떼|빼|벗기|분리하|제거하)지 ?(?:않|말|마)|"
    r"without (?:removing|taking|peeling)|(?:not|n't) (?:remov|tak|peel)",
    re.I,
)
KEEP = re.compile(
    r"닫아|닫은|닫고|끼운 ?채|붙인 ?채|붙어 ?있|달린 ?채|그대로|통째|with the \w+ on|\bleave\b|"
    r"\bkeep\b|still (?:on|attached|inside)",
    re.I,
)


def states_in(question: str) -> list[ItemState]:
    """The states the question puts its item in, the deciding one first."""
    found = {state for state, pattern in STATES if pattern.search(question)}
    if S.INTACT in found:
        found.discard(S.BROKEN)  # '안 깨진' holds '깨진'
    if STAYS_SOILED.search(question):
        found = (found - {S.CLEAN}) | {S.SOILED}
    elif ONCE_WASHED.search(question):
        found = (found - {S.SOILED}) | {S.CLEAN}
    for one, other in OPPOSITES:
        if one in found and other in found:
            found -= {one, other}
    return [state for state in PRECEDENCE if state in found]


def without_states(question: str) -> str:
    """The question less the words that put its item in a state ('구멍 난', 'greasy')."""
    for _, pattern in STATES:
        question = pattern.sub(" ", question)
    return question


def settle(item: WasteItem, question: str) -> tuple[WasteItem, Condition | None]:
    """The item as the question has it: a broken bottle is broken glass, an intact tube found
    as the broken one is the tube. The first state the item has a condition for decides."""
    for state in states_in(question):
        condition = item.condition(state)
        if condition is not None:
            return (condition.item or item), condition
        if item.state is state:
            return item, None
    return item, None


POINTING = re.compile(r"\b(?:them|it|they)\b|그거|이거|그것|이것", re.I)


def part_asked(question: str, item: WasteItem | None = None) -> tuple[Part, bool] | None:
    """The part the question asks about and whether it proposes taking it off (True) or
    leaving it on (False); None when it names no part. 'Should I take them out?' of the
    batteries found asks about the one part that item is."""
    for part, pattern in PARTS:
        if pattern.search(question):
            if KEEP.search(question) or NOT_REMOVED.search(question):
                return part, False
            if REMOVE.search(question):
                return part, True
    pointing = POINTING.search(question) and REMOVE.search(question)
    if item is not None and len(item.parts) == 1 and pointing:
        return item.parts[0].part, True
    return None


# Words that say what soils a thing or which one is meant, not what it is ('음식 묻은 건?').
NOT_A_NAME = frozenset(
    "그럼 그러면 그건 그 건 거 것 걸 게 음식 음식물 기름 양념 소스 국물 and so what about how the"
    " one ones with on it food grease sauce oil".split()
)


def names_only_a_state(message: str) -> bool:
    """Whether a turn says a state and nothing else ('음식 묻은 건?', 'and the broken one?'):
    it asks about the last item in that state."""
    if not states_in(message):
        return False
    words = re.findall(r"[가-힣]+|[a-z]+", message.lower())
    rest = [
        w
        for w in words
        if w not in NOT_A_NAME
        and re.sub(r"(?:은요|는요|이요|요|은|는|이|가|도)$", "", w) not in NOT_A_NAME
        and not any(pattern.search(w) for _, pattern in STATES)
    ]
    return not rest
