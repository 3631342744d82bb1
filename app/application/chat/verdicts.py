"""Yes or no first: "도자기 그릇도 유리병으로 버려도 돼?" → "아니요, 도자기 그릇은 유리병으로
버리지 않습니다." Decided from the item the knowledge base found, never guessed: a question
that names a stream is answered by whether the item goes there; one about a fee, a refund or a
step by the item's own text; otherwise no verdict is given."""

from __future__ import annotations

import re

from app.domain.language import Language
from app.domain.llm import ContextEntry
from app.domain.waste import WasteCategory, WasteItem

C = WasteCategory
# stream → (how the question may name it, in Korean and English), the Korean name to say
STREAMS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "paper_pack": (("종이팩", "paper pack", "carton"), "종이팩", "paper packs"),
    "glass": (("유리병", "유리", "glass"), "유리병류", "glass"),
    "paper": (("종이류", "종이", "폐지", "paper"), "종이류", "paper"),
    # Not ' can': 'Can I put…' names no stream.
    "can": (("캔류", "캔", "cans", "can bin", "tin can", "metal can"), "캔류", "cans"),
    "metal": (("고철", "금속", "scrap", "metal"), "고철", "scrap metal"),
    "pet": (("투명 페트병 전용", "페트병 전용", "페트병 수거함", "clear pet bin", "pet bin"),
            "투명 페트병 전용 수거함", "the clear-PET bin"),
    "plastic": (("플라스틱", "plastic"), "플라스틱류", "plastics"),
    "vinyl": (("비닐", "vinyl", "plastic film"), "비닐류", "vinyl"),
    "styrofoam": (("스티로폼", "styrofoam", "polystyrene"), "스티로폼", "styrofoam"),
    "food": (("음식물", "음쓰", "food waste", "compost"), "음식물 쓰레기", "food waste"),
    "general": (("일반쓰레기", "일반 쓰레기", "종량제", "general waste", "trash", "garbage"),
                "종량제 봉투(일반 쓰레기)", "general waste"),
    "clothing": (("의류수거함", "헌옷 수거함", "헌옷수거함", "의류 수거함", "clothing bin",
                  "clothes bin"), "의류수거함", "the clothing bin"),
    # Where nothing goes: asked about, the answer is no.
    "drain": (("하수구", "싱크대", "배수구", "변기", "drain", "sink", "toilet"), "하수구",
              "the drain"),
    "recyclable": (("재활용", "recycl"), "재활용품", "recycling"),
}  # fmt: skip
CATEGORY_STREAM = {
    C.PET: "pet", C.PLASTIC: "plastic", C.VINYL: "vinyl", C.PAPER: "paper",
    C.PAPER_PACK: "paper_pack", C.CAN: "can", C.METAL: "metal", C.GLASS: "glass",
    C.STYROFOAM: "styrofoam", C.CLOTHING: "clothing", C.FOOD_WASTE: "food",
    C.GENERAL_WASTE: "general",
}  # fmt: skip
RECYCLABLE = {
    "pet", "plastic", "vinyl", "paper", "paper_pack", "can", "metal", "glass", "styrofoam",
}  # fmt: skip
YES_NO_KO = re.compile(
    r"(돼|되나요|되나|돼요|되요|되죠|되지|됨|맞아|맞지|맞나요|맞죠|맞아요|가능해|가능한가요|괜찮아|"
    r"괜찮나요|인가요|이에요|예요|야|나요|까요|어도|아도|해도|있어|있나요|가\?|나\?)\s*\??\s*$"
)
# A question with none of these asks yes or no ('뼈도 음식물로 버려?' against '어떻게 버려?').
WH_KO = re.compile(
    r"어떻게|어떡|어케|어캐|어디|어딨|뭐|무엇|무슨|뭘|언제|왜|얼마|몇|어느|누구|어떤|방법"
)
WH_EN = re.compile(r"\b(how|what|where|which|when|why|who)\b", re.I)
# '캔은?', '뚜껑은요?', '그럼 깨진 건?': what about this one, not yes or no.
WHAT_ABOUT = re.compile(r"(?:은|는|도|건|거는|것은|거|것)(?:요)?\s*[?？]?\s*$")
SLANG_YES_NO = re.compile(r"(ㄱㄴ|ㄱ|ㅇㅋ|[임됨듦줌함남봄]|가능|되냐|돼냐|됨\?)\s*[?？]?\s*$")
# The question proposes skipping a step ('안 씻고 그대로', '가스 남은 채로'): no, when the
# item has steps that prepare it.
AS_IS = re.compile(
    r"채로|그대로|안 ?씻|안 ?헹|안 ?떼|안 ?비우|안 ?빼|without (?:rinsing|washing|removing|"
    r"emptying)|unwashed|unrinsed|as it is|as is\b|still (?:on|in|full|attached)",
    re.I,
)
PREPARES = re.compile(
    r"씻|헹|떼어|떼고|비우|비웁|분리|제거|빼|rinse|wash|remove|empty|separate", re.I
)
YES_NO_EN = re.compile(r"^\s*(is|are|can|could|do|does|should|may|must|will|would)\b", re.I)
FEE = re.compile(r"돈|비용|유료|요금|수수료|수거비|처리비|\bfee|\bpay|\bcost|\bcharge", re.I)
FREE = re.compile(r"무상|무료|공짜|\bfree\b", re.I)
FREE_IN_TEXT = re.compile(
    r"무상|무료|수수료(?:는|가)? 없|\bfree\b|no (?:fee|charge)|free of charge", re.I
)
REFUND = re.compile(r"돌려받|환급|보증금|반환|\brefund|\bdeposit", re.I)


def as_asked(query: str, message: str) -> str:
    """A sub-question with the message's closing '?', which splitting takes off: '수거해 가'
    says nothing, '수거해 가?' asks yes or no."""
    if message.rstrip().endswith(("?", "？")) and not re.search(r"[?？.!]\s*$", query):
        return f"{query.rstrip()}?"
    return query


def is_yes_no(question: str) -> bool:
    text = question.strip()
    if YES_NO_EN.match(text):
        return True
    if not re.search(r"[가-힣ㄱ-ㅎ]", text):
        return False
    if WH_KO.search(text) or WHAT_ABOUT.search(text):
        return False
    return bool(
        YES_NO_KO.search(text) or SLANG_YES_NO.search(text) or re.search(r"[?？]\s*$", text)
    )


def verdict(question: str, item: WasteItem, language: Language) -> ContextEntry | None:
    """The yes or no to open the answer with, or None when the item's text does not decide."""
    if not is_yes_no(question):
        return None
    if AS_IS.search(question) and PREPARES.search(" ".join((*item.steps_ko, *item.steps_en))):
        answer: bool | None = False
    elif _claims(question, item):
        answer = _by_stream(question, item)
    else:
        answer = _by_text(question, item)
    if answer is None:
        return None
    return ContextEntry(lines=(_say(answer, question, item, language),), role="lead")


def _without_names(question: str, item: WasteItem, *, aliases: bool = True) -> str:
    """The question with the item's names taken out, longest first ('우유팩' is no claim).
    Without aliases for comparing steps: an alias like '택배 상자 테이프' holds the very word
    the question asks about."""
    text = f" {question.lower()} "
    names = (item.name_ko, item.name_en, *((*item.aliases_ko, *item.aliases_en) if aliases else ()))
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name.lower(), " ")
    return text


def _claims(question: str, item: WasteItem) -> list[str]:
    """The streams the question names, outside the item's own names."""
    text = _without_names(question, item)
    found = []
    for stream, (phrases, _, _) in STREAMS.items():
        if any(phrase in text for phrase in phrases) and not (
            stream == "paper" and "paper_pack" in found
        ):
            found.append(stream)
    return found


def item_streams(item: WasteItem) -> set[str]:
    """Where the item goes: its category's stream; for a category with no stream of its own
    (hazardous, e-waste...), the streams its steps send it to, less those its mistakes name."""
    if item.category in CATEGORY_STREAM:
        return {CATEGORY_STREAM[item.category]}
    steps = " ".join((*item.steps_ko, *item.steps_en)).lower()
    mistakes = " ".join((*item.mistakes_ko, *item.mistakes_en)).lower()
    return {
        stream
        for stream, (phrases, _, _) in STREAMS.items()
        if stream != "recyclable"
        and any(p in steps for p in phrases)
        and not any(p in mistakes for p in phrases)
    }


def _by_stream(question: str, item: WasteItem) -> bool:
    claims = _claims(question, item)
    goes = item_streams(item)
    if claims == ["recyclable"]:
        return bool(goes & RECYCLABLE) and CATEGORY_STREAM.get(item.category) in RECYCLABLE
    right = any(c in goes for c in claims if c != "recyclable")
    # The right stream, but what the question adds is one of the item's common mistakes
    # ("헌옷 수거함에 젖은 옷 넣어도 돼?"): no.
    return right and _by_steps(question, item) is not False


def _by_text(question: str, item: WasteItem) -> bool | None:
    text = " ".join(
        (item.name_ko, item.name_en, *item.steps_ko, *item.steps_en, item.notes_ko, item.notes_en)
    )
    if REFUND.search(question):
        return bool(REFUND.search(text))
    if FREE.search(question):
        return bool(FREE_IN_TEXT.search(text))
    if FEE.search(question):
        return not FREE_IN_TEXT.search(text)
    return _by_steps(question, item)


def _by_steps(question: str, item: WasteItem) -> bool | None:
    """A question about doing something: yes when the item's steps say to do it, no when its
    common mistakes do (what the question shares with each, besides the item's name)."""
    asked = _grams(_without_names(question, item, aliases=False))
    says = len(asked & _grams(" ".join((*item.steps_ko, *item.steps_en))))
    warns = len(asked & _grams(" ".join((*item.mistakes_ko, *item.mistakes_en))))
    if warns > says:
        return False
    return True if says else None


def _grams(text: str) -> set[str]:
    """Hangul syllable pairs and English words, less the ones every question has."""
    lowered = text.lower()
    pairs = {
        word[i : i + 2]
        for word in map(_plain_verb, re.findall(r"[가-힣]+", lowered))
        for i in range(len(word) - 1)
    }
    english = {w for w in re.findall(r"[a-z]{3,}", lowered) if w not in EN_STOP}
    # A verb's first syllable stands for its stem: '헹궈야' asks what '헹굽니다' says.
    stems = {
        f"{word[0]}~"
        for word in re.findall(r"[가-힣]{2,}", lowered)
        if VERB_ENDING.search(word) and word[0] not in STEM_STOP
    }
    return (pairs - KO_STOP) | english | stems


def _plain_verb(word: str) -> str:
    """'떼야' asks what the steps say as '떼어', '씻어야' as '씻어': the must-form compared as
    the plain one."""
    if re.search(r"[어아여]야$", word):
        return word[:-1]
    if len(word) >= 2 and word.endswith("야") and _final(word[:-1]) == 0 and word[-2] not in "해돼":
        return word[:-1] + "어"
    return word


VERB_ENDING = re.compile(r"(야|어|아|여|워|고|서|요|니다|다)$")
STEM_STOP = frozenset("버넣해되돼있하같그안다모이내나")
KO_STOP = frozenset(
    "버려 려도 버리 리면 넣어 어도 돼요 되나 나요 해도 해야 야돼 어요 습니 니다 합니 있어 있나 "
    "도돼 같이 그냥 되요 가능 하나 할까 까요 어서 에서 으로 니까 는데 아서".split()
)
EN_STOP = frozenset(
    "the and can put need does should into with from for are you its it's this that them"
    " before after out putting leave take get have has will would my your any there one old"
    " used empty regular just still".split()
)


def _say(yes: bool, question: str, item: WasteItem, language: Language) -> str:
    claims = [c for c in _claims(question, item) if c != "recyclable"] or _claims(question, item)
    if language == "en":
        where = STREAMS[claims[0]][2] if claims else ""
        if where:
            if yes:
                return f"Yes, {item.name_en} goes in {where}."
            return f"No, {item.name_en} does not go in {where}."
        return _with_reason("Yes" if yes else "No", question, item, "en", yes)
    where = STREAMS[claims[0]][1] if claims else ""
    topic = _particle(item.name_ko, "은", "는")
    if where:
        if yes:
            return f"네, {topic} {_ro(where)} 배출합니다."
        return f"아니요, {topic} {_ro(where)} 버리지 않습니다."
    return _with_reason("네" if yes else "아니요", question, item, "ko", yes)


def _with_reason(word: str, question: str, item: WasteItem, language: Language, yes: bool) -> str:
    """'네, 내용물을 비우고 물로 헹굽니다.': the yes or no with the line that decided it."""
    asked = _grams(_without_names(question, item, aliases=False))
    steps = item.steps_en if language == "en" else item.steps_ko
    mistakes = item.mistakes_en if language == "en" else item.mistakes_ko
    lines = steps if yes else (*mistakes, *steps)
    best = max(lines, key=lambda line: len(asked & _grams(line)), default="")
    if not best or not asked & _grams(best):
        return f"{word}."
    if not yes and best in mistakes:
        best = f"{'a common mistake' if language == 'en' else '흔한 실수'}: {best}"
    return f"{word}, {best[0].lower() + best[1:] if language == 'en' else best}".rstrip(".") + "."


def _final(word: str) -> int:
    """The final consonant index of the word's last Hangul syllable (0: none)."""
    base = word.split("(")[0].strip()
    last = base[-1] if base else ""
    return (ord(last) - 0xAC00) % 28 if "가" <= last <= "힣" else 0


def _particle(word: str, after_consonant: str, after_vowel: str) -> str:
    return word + (after_consonant if _final(word) else after_vowel)


def _ro(word: str) -> str:
    """'유리병류로', '종이팩으로': 으로 after a final consonant other than ㄹ (8)."""
    final = _final(word)
    return word + ("으로" if final and final != 8 else "로")
