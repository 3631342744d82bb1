"""Compound questions split into one question per item, each keeping the shared ending:
"택배 상자, 뽁뽁이, 아이스팩은 어디에 버려요?" → "택배 상자 어디에 버려요", "뽁뽁이 어디에
버려요", "아이스팩은 어디에 버려요"; "how do I get rid of a sofa and a laptop" → "how do I get
rid of a sofa", "how do I get rid of a laptop". Items may be several words long."""

from __future__ import annotations

import itertools
import re

# A word that ends in one of these joins its item to the next one (페트병이랑, 세탁기와).
JOINING = ("이랑", "랑", "하고", "와", "과")
# Standalone joiners: 건전지 및 형광등, 캔, 병 그리고 종이
JOINERS = frozenset({"및", "그리고", "또는", "혹은", "and", "&", "or"})
# Words that end in 과/와/하고 without joining anything (사과 is an apple; 정리하고 a verb).
AFTER_CONSONANT = frozenset({"이랑", "과"})
AFTER_VOWEL = frozenset({"와"})
# Nouns ending in 이, so that '종이랑' is read as 종이 + 랑, not 종 + 이랑.
ENDS_IN_I = tuple(f"{noun}랑" for noun in ("종이", "오이", "아이", "고양이", "놀이"))
TOPIC = re.compile(r"[가-힣](은|는|을|를)$")
# '신문지랑 같이 버려도 돼?' puts two things together; it does not list two questions.
LIKE = "처럼"  # '냉장고처럼': what the item is compared with
TOGETHER = frozenset({"같이", "함께", "섞어", "섞어서", "같은", "처럼", "한꺼번에", "together"})
NOT_JOINING = frozenset({"사과", "효과", "결과", "부과", "통과", "초과", "과", "와"})
VERB_HADA = re.compile(
    r"(분리|정리|청소|세척|처리|배출|사용|이용|수거|신고|구매|포장|보관|제거)"
    r"하고$"
)
# Where the shared ending of a Korean question starts (the first of these words).
KO_ENDING = re.compile(
    r"^(어떻게|어디|어디에|어디로|어디다|어딨|뭐|무엇|무슨|각각|다|모두|같이|함께|버리|버려|버릴|"
    r"버림|처리|분리|배출|수거|재활용|ㅇㄷ|어케|어캐|방법|하나요|해요|되나요|돼요|돼)"
)
# The question's lead ends at its verb ("how do I throw away "); only without one does an
# auxiliary end it ("where do " batteries and bulbs go).
EN_LEADS = (
    re.compile(
        r"^(.*?\b(?:throw away|throw out|dispose of|get rid of|recycle|discard|put out|"
        r"with|about)\s+)",
        re.I,
    ),
    re.compile(r"^(.*?\b(?:do|does|should|can|could|must|put)\s+)", re.I),
)
EN_TAIL = re.compile(
    r"\s+(?:go|belong|get (?:thrown|recycled)|be (?:thrown|recycled)\b.*)[?.!]*$", re.I
)


def split_items(clause: str) -> list[str]:
    """One question per item of a clause that lists several; the clause itself otherwise."""
    if TOGETHER & set(clause.lower().replace("?", " ").split()):
        return [clause]
    if re.search(r"[가-힣]", clause):
        return _split_korean(clause)
    return _split_english(clause)


def _split_korean(clause: str) -> list[str]:
    words = clause.replace(",", " , ").split()
    items: list[list[str]] = [[]]
    for word in words:
        if word == ",":
            items.append([])
            continue
        if word in JOINERS:
            items.append([])
            continue
        stem = _joined(word)
        if stem is not None:
            if any(TOPIC.search(earlier) for earlier in items[-1]):
                return [clause]  # '병은 종이랑 버려?': the topic goes with the other thing
            items[-1].append(stem)
            items.append([])
        else:
            items[-1].append(word)
    items = [item for item in items if item]
    if len(items) < 2:
        return [clause]
    head, ending = _head_and_ending(items[-1])
    parts = [" ".join(item) for item in items[:-1]] + [" ".join(head)]
    return [f"{part} {ending}".strip() for part in parts if part]


def _joined(word: str) -> str | None:
    """The item a joining word carries ('페트병이랑' → '페트병'), or None if it joins nothing."""
    if word in NOT_JOINING or VERB_HADA.search(word):
        return None
    for particle in JOINING:
        if word.endswith(particle) and len(word) > len(particle):
            stem = word[: -len(particle)]
            # 이랑 and 과 follow a final consonant, 랑 and 와 a vowel: '종이랑' is 종이 + 랑.
            if particle in AFTER_CONSONANT and (not _has_final(stem) or word.endswith(ENDS_IN_I)):
                continue
            if particle in AFTER_VOWEL and _has_final(stem):
                return None
            return stem
    return None


def _has_final(word: str) -> bool:
    last = word[-1]
    return "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 != 0


def _head_and_ending(words: list[str]) -> tuple[list[str], str]:
    """Split the last item's words into the item and the question's shared ending."""
    for index, word in enumerate(words):
        if index and KO_ENDING.match(word):
            return words[:index], " ".join(words[index:])
        rest = words[index + 1 :]
        if re.search(r"(은|는|을|를|도|이|가)$", word) and rest and _predicate(rest):
            return words[: index + 1], " ".join(rest)
    return words, ""


def _predicate(words: list[str]) -> bool:
    """Whether words after a particle ask something ('어디에 버려요') rather than finish a
    name ('남은 면': 남은 is a modifier, not 남 with a topic marker)."""
    return any(KO_ENDING.match(w) for w in words) or bool(
        re.search(r"(요|까|나|니|어|야|지|죠|다|돼)[?？]?$", words[-1])
    )


def _split_english(clause: str) -> list[str]:
    prefix = ""
    for pattern in EN_LEADS:
        lead = pattern.match(clause)
        if lead:
            prefix = lead.group(1)
            break
    rest = clause[len(prefix) :]
    tail_match = EN_TAIL.search(rest)
    tail = tail_match.group(0) if tail_match else ""
    body = rest[: len(rest) - len(tail)] if tail else rest
    parts = [p.strip() for p in re.split(r",\s*(?:and\s+)?|\s+and\s+|\s*&\s*", body) if p.strip()]
    if len(parts) < 2:
        return [clause]
    return [f"{prefix}{part}{tail}".strip() for part in parts]


def companions(question: str) -> set[str]:
    """What a question puts beside its item ('우유팩을 신문지랑 같이' → {'신문지'}) or compares
    it with ('소파도 냉장고처럼 무료야?' → {'냉장고'}): the item asked about is the other one."""
    return {stem for _, stem in _companion_words(question)}


def without_companions(question: str) -> str:
    """The question without the words naming what it puts beside its item."""
    words = {word for word, _ in _companion_words(question)}
    return " ".join(w for w in question.split() if w.rstrip("?？") not in words)


def _companion_words(question: str) -> list[tuple[str, str]]:
    words = question.replace("?", " ").replace("？", " ").split()
    found = [
        (word, word[: -len(LIKE)])
        for word in words
        if word.endswith(LIKE) and len(word) - len(LIKE) >= 2
    ]
    for word, following in itertools.pairwise(words):
        stem = _joined(word)
        if stem is not None and following in TOGETHER:
            found.append((word, stem))
    return found
