"""Yes or no first: "도자기 그릇도 유리병으로 버려도 돼?" → "아니요, 도자기 그릇은 유리병류로
버리지 않고 종량제 봉투(일반 쓰레기)로 배출합니다." Decided from the facts the item carries
(its bins, the conditions that change them, the parts that come off), with the state the
question puts it in: a broken bottle is broken glass, a greasy box is not paper. Only a
question that names no bin, state or part falls back to the item's own text (a fee, a refund,
a step); where nothing decides, no verdict is given."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.application.chat.conditions import part_asked, settle
from app.domain.language import Language, detect_language
from app.domain.llm import ContextEntry
from app.domain.waste import (
    CATEGORY_BIN,
    RECYCLING,
    Bin,
    Condition,
    ItemState,
    Part,
    WasteItem,
)

# bin → (how a question may name it), what to call it in Korean and in English
STREAMS: dict[str, tuple[tuple[str, ...], str, str]] = {
    Bin.PAPER_PACK: (("종이팩", "paper pack", "carton"), "종이팩 전용 수거함",
                     "a separate paper-pack (carton) bin"),
    Bin.GLASS: (("유리병", "유리", "glass"), "유리병류", "glass recycling"),
    Bin.PAPER: (("종이류", "종이", "폐지", "paper"), "종이류", "paper recycling"),
    # Not ' can': 'Can I put…' names no stream.
    Bin.CAN: (("캔류", "캔", "cans", "can bin", "tin can", "metal can"), "캔류", "can recycling"),
    Bin.METAL: (("고철", "금속", "scrap", "metal"), "고철", "scrap metal"),
    Bin.PET: (("투명 페트병 전용", "페트병 전용", "페트병 수거함", "투명 페트병으로",
               "투명페트병으로", "투명 페트병 수거", "clear pet bin", "pet bin", "clear pet"),
              "투명 페트병 전용 수거함", "the clear-PET bin"),
    Bin.PLASTIC: (("플라스틱", "plastic"), "플라스틱류", "plastic recycling"),
    Bin.VINYL: (("비닐", "vinyl", "plastic film"), "비닐류", "vinyl (plastic film) recycling"),
    Bin.STYROFOAM: (("스티로폼", "styrofoam", "polystyrene"), "스티로폼", "styrofoam recycling"),
    Bin.FOOD: (("음식물", "음쓰", "food waste", "compost"), "음식물 쓰레기", "food waste"),
    Bin.GENERAL: (("일반쓰레기", "일반 쓰레기", "종량제", "general waste", "trash", "garbage"),
                  "종량제 봉투(일반 쓰레기)", "general waste (a 종량제 bag)"),
    Bin.CLOTHING: (("의류수거함", "헌옷 수거함", "헌옷수거함", "의류 수거함", "clothing bin",
                    "clothes bin"), "의류수거함", "the clothing bin"),
    Bin.LAMP: (("형광등 수거함", "폐형광등 수거함", "lamp bin", "lamp collection"),
               "폐형광등 수거함", "the fluorescent-lamp collection box"),
    Bin.BATTERY: (("건전지 수거함", "배터리 수거함", "battery bin", "battery box"),
                  "폐건전지 수거함", "the battery collection box"),
    Bin.MEDICINE: (("의약품 수거함", "약국", "pharmacy", "medicine box"), "폐의약품 수거함",
                   "a pharmacy's medicine collection box"),
    Bin.BULKY: (("대형 폐기물", "대형폐기물", "bulky waste"), "대형 폐기물", "bulky waste"),
    # Where nothing goes: asked about, the answer is no.
    "drain": (("하수구", "싱크대", "배수구", "변기", "drain", "sink", "toilet"), "하수구",
              "the drain"),
    "recyclable": (("재활용", "분리수거", "recycl"), "재활용품", "recycling"),
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
# 'If I rinse it, can it go…?', 'After eating the meat, can I…?': a leading condition first.
YES_NO_EN = re.compile(
    r"^\s*(?:(?:if|after|once|when|now that)\b[^,?]*,\s*)?"
    r"(is|are|can|could|do|does|should|may|must|will|would)\b",
    re.I,
)
# 'kept separate from paper', '종이류랑 따로': asks whether it stays apart from the bin named.
APART = re.compile(
    r"separate(?:ly)? from|apart from|kept? (?:away|apart)|(?:랑|이랑|하고|과|와)\s*(?:는\s*)?"
    r"(?:따로|별도|구분)",
    re.I,
)
FEE = re.compile(
    r"돈|비용|유료|요금|수수료|수거비|처리비|\bfees?\b|\bpa(?:y|id)\b|\bcosts?\b|\bcharges?\b", re.I
)
FREE = re.compile(r"무상|무료|공짜|\bfree\b", re.I)
FREE_IN_TEXT = re.compile(
    r"무상|무료|수수료(?:는|가)? 없|\bfree\b|no (?:fee|charge)|free of charge", re.I
)
COLLECTION_BOX = re.compile(
    r"수거함|회수함|collection (?:bin|box)|(?:appliance|battery|lamp|clothing|clothes|phone) bin",
    re.I,
)
REFUND = re.compile(
    r"돌려받|환급|보증금|반환|돈\s?(?:을\s?)?(?:주|줘|받|돌려|나와|생기)|\brefund|\bdeposit|"
    r"give (?:me |you )?(?:money|cash)|get (?:money|cash|paid)|pay (?:me|you) (?:back|for)",
    re.I,
)


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


@dataclass(frozen=True)
class Decision:
    """A yes or a no and what decided it: the item (as the question has it), the condition
    that moved it, the bin the question named or the part it asked about."""

    yes: bool
    item: WasteItem
    condition: Condition | None = None
    claim: str | None = None
    part: tuple[Part, bool] | None = None
    by: str = "text"  # part, mention, stream, mistake, apart, as_is, must, money or text
    reason: str = ""  # the item's own sentence that decided a fee, a refund or a must


def verdict(question: str, item: WasteItem, language: Language) -> ContextEntry | None:
    """The yes or no to open the answer with, or None when nothing decides it."""
    decision = decide(question, item)
    if decision is None:
        return None
    return ContextEntry(lines=(say(decision, question, language),), role="lead")


def decide(question: str, item: WasteItem) -> Decision | None:
    """The yes or no a question gets from the item's facts; None when it asks none or the
    facts do not decide it."""
    if not is_yes_no(question):
        return None
    settled, condition = settle(item, question)
    part = part_asked(question, settled)
    rule = settled.part(part[0]) if part is not None else None
    if part is not None and rule is not None:
        return Decision(rule.remove == part[1], settled, condition, part=part, by="part")
    claims = _claims(question, item, settled)
    claims = [c for c in claims if c != "recyclable"] or claims
    said = _by_a_sentence(question, settled, condition, claims)
    if said is not None:
        return said
    if claims:
        return _by_claims(question, settled, condition, claims)
    if condition is not None and not condition.bins:
        return Decision(False, settled, condition, by="as_is")
    if AS_IS.search(question) and PREPARES.search(" ".join((*item.steps_ko, *item.steps_en))):
        return Decision(False, settled, condition, by="as_is")
    money = _by_money(question, settled)
    if money is not None:
        return Decision(money[0], settled, condition, by="money", reason=money[1])
    answer = _by_steps(question, settled)
    if answer is None:
        return None
    return Decision(answer, settled, condition, by="text")


def _by_a_sentence(
    question: str, settled: WasteItem, condition: Condition | None, claims: list[str]
) -> Decision | None:
    """Where one of the item's sentences answers the very thing asked: whether a step must be
    done ('Do I have to crush cans?'), or where a thing the item speaks of goes ('치킨 뼈')."""
    if MUST.search(question):
        step = _step_asked(question, settled)
        if step is not None:
            return Decision(not OPTIONAL.search(step), settled, condition, by="must", reason=step)
    mentioned = _mentioned(question, settled) if claims and condition is None else None
    if mentioned is None:
        return None
    goes, sentence = mentioned
    right = [c for c in claims if c in goes or (c == "recyclable" and goes & RECYCLING)]
    return Decision(bool(right), settled, None, claims[0], by="mention", reason=sentence)


def _by_claims(
    question: str, settled: WasteItem, condition: Condition | None, claims: list[str]
) -> Decision:
    """A question naming a bin: does the item, in the state asked about, go there?"""
    if condition is not None and not condition.bins:
        return Decision(False, settled, condition, claims[0], by="as_is")
    goes = set(condition.bins) if condition is not None else bins(settled)
    right = [c for c in claims if c in goes or (c == "recyclable" and goes & RECYCLING)]
    if APART.search(question):  # apart from the bin named: yes when it goes elsewhere
        return Decision(not right, settled, condition, claims[0], by="apart")
    if right and condition is None and _by_steps(question, settled) is False:
        # The right bin, the way the item's common mistakes put it ('뚜껑 닫은 채로').
        return Decision(False, settled, condition, right[0], by="mistake")
    return Decision(bool(right), settled, condition, (right or claims)[0], by="stream")


# 'Do I have to crush cans?', '꼭 헹궈야 돼?': whether a step is required, not where it goes.
MUST = re.compile(
    r"\b(?:have to|has to|need to|needs to|must|required|necessary)\b|꼭|반드시|필수|"
    r"[어아여해]야 ?(?:돼|되|하|해|됨|함)",
    re.I,
)
# A step said as optional: not having to do it is the answer.
OPTIONAL = re.compile(
    r"가능하면|가능한 한|되도록|할 수 있으면|if you can|if possible|where possible|if you like",
    re.I,
)


KO_PARTICLE = (
    "까지", "이랑", "에서", "으로", "랑", "과", "와", "는", "를", "가", "도", "만", "로", "에",
)  # fmt: skip
KO_PARTICLE_AFTER_NOUN = ("은", "이", "을")  # also a verb's ending ('남은'): after 2+ syllables
NOT_A_NOUN = re.compile(r"(?:려|어|아|해|돼|되|지|고|서|면|요|까|니|나|데|야|게|죠|음|함)$")


def _mentioned(question: str, item: WasteItem) -> tuple[set[str], str] | None:
    """The item's own sentence about the thing the question asks of it, where that sentence
    says where it goes: '치킨 뼈 음식물로 버려도 돼?' of leftover chicken is decided by '뼈와
    기름종이는 종량제 봉투에 버립니다.', not by where the chicken goes."""
    language = detect_language(question)
    unnamed = _without_names(question, item)
    if unnamed.strip() != question.lower().strip():
        return None  # the question names the item itself: where the item goes decides
    rest = without_bins(unnamed)
    # Not a word of the item's own names: '치킨' in '치킨 뼈' is the chicken, not the bones.
    names = {
        word
        for name in (item.name_ko, item.name_en, *item.aliases_ko, *item.aliases_en)
        for word in re.split(r"[\s·/()]+", name.lower())
    }
    words = [w for w in _nouns(rest, language) if w.lower() not in names]
    if not words:
        return None
    steps = item.steps_en if language == "en" else item.steps_ko
    notes = item.notes_en if language == "en" else item.notes_ko
    sentences = [s for line in (*steps, notes) for s in re.split(r"(?<=[.!?])\s+", line) if s]
    for sentence in sentences:
        lowered = sentence.lower()
        if NOT_THERE.search(lowered) or not any(_names_word(lowered, w, language) for w in words):
            continue
        goes = {  # a bin's word where a word starts: '기름종이' is no paper bin
            stream
            for phrase, stream in PHRASES
            if stream not in ("recyclable", "drain")
            and re.search(rf"(?<![가-힣a-z]){re.escape(phrase)}", lowered)
        }
        if len(goes) == 1:
            return goes, sentence
    return None


# A sentence saying where a thing does not go, or what it spoils, says nothing of where it goes.
NOT_THERE = re.compile(
    r"\b(?:not|cannot|can't|never|ruin|spoil)\b|않|없|말고|말아|안 되|안 돼|금지|망칩|못 ",
)


def _nouns(text: str, language: Language) -> list[str]:
    if language == "en":
        return [
            w[:-1] if w.endswith("s") and not w.endswith("ss") else w
            for w in re.findall(r"[a-z]{3,}", text.lower())
            if w not in EN_STOP and not YES_NO_WORDS.match(w)
        ]
    found = []
    for word in re.findall(r"[가-힣]+", text):
        stem = next((word[: -len(p)] for p in KO_PARTICLE if word.endswith(p) and word != p), word)
        if stem == word and len(word) >= 3 and word.endswith(KO_PARTICLE_AFTER_NOUN):
            stem = word[:-1]
        if stem and not NOT_A_NOUN.search(stem) and stem not in KO_NOT_NOUNS:
            found.append(stem)
    return found


def _names_word(sentence: str, word: str, language: Language) -> bool:
    if language == "en":
        return re.search(rf"\b{re.escape(word)}", sentence) is not None
    return re.search(rf"(?<![가-힣]){re.escape(word)}(?![가-힣]{{2,}})", sentence) is not None


YES_NO_WORDS = re.compile(
    r"^(?:is|are|can|could|do|does|should|may|must|will|would|okay|fine|alright|really|also|too)$"
)
KO_NOT_NOUNS = frozenset(
    "그냥 같이 함께 다 또 꼭 좀 이거 그거 이건 그건 저거 혹시 진짜 정말 먹고 남은"
    " 쓰레기 분리수거 재활용 수거함 봉투 버리 배출".split()
)


def _step_asked(question: str, item: WasteItem) -> str | None:
    """The step whose action a must-question asks about ('crush' → 'Crush it flat if you
    can.'), in the question's language; None when no step shares a word with it beyond the
    item's name and the bins."""
    asked = _grams(without_bins(_without_names(question, item, aliases=True)))
    if not asked:
        return None
    steps = item.steps_en if detect_language(question) == "en" else item.steps_ko
    scored = [(len(asked & _grams(step)), -index, step) for index, step in enumerate(steps)]
    best = max(scored, default=(0, 0, ""))
    return best[2] if best[0] else None


BIN_NAME = re.compile(r"수거함|\bbins?\b|collection box", re.I)


def _without_names(question: str, item: WasteItem, *, aliases: bool = True) -> str:
    """The question with the item's names taken out, longest first ('우유팩' is no claim).
    Without aliases for comparing steps: an alias like '택배 상자 테이프' holds the very word
    the question asks about. A name that is a bin's ('헌옷·의류수거함') stays: it names the
    bin the question asks about."""
    text = f" {question.lower()} "
    names = (item.name_ko, item.name_en, *((*item.aliases_ko, *item.aliases_en) if aliases else ()))
    for name in sorted(names, key=len, reverse=True):
        if BIN_NAME.search(name):
            continue
        # Not where it starts a bin's name: '의류수거함' keeps '의류', 'glass bin' 'glass'.
        text = re.sub(rf"{re.escape(name.lower())}(?!\s*(?:수거함|bins?\b|recycling))", " ", text)
    return text


PHRASES = sorted(
    ((phrase, stream) for stream, (phrases, _, _) in STREAMS.items() for phrase in phrases),
    key=lambda pair: -len(pair[0]),
)


def _claims(question: str, item: WasteItem, *others: WasteItem) -> list[str]:
    """The streams the question names, outside the items' own names, in the order it names
    them; the longest phrase wins ('plastic film' is vinyl, not plastic; '종이팩' not paper)."""
    text = _without_names(question, item)
    for other in others:
        text = _without_names(text, other)
    found: dict[str, tuple[bool, int]] = {}
    for phrase, stream in PHRASES:
        at = text.find(phrase)
        if at >= 0:
            found.setdefault(stream, (not _as_a_bin(text, at, phrase), at))
            text = text.replace(phrase, " " * len(phrase))
    return sorted(found, key=found.__getitem__)


AS_BIN_AFTER = re.compile(r"^(?:류)?(?:으로|로|에|수거함|\s*수거함|\s*통)")
AS_BIN_BEFORE = re.compile(r"\b(?:in|into|with|to|as)\s+(?:the\s+|a\s+)?(?:\w+\s+)?$")


def _as_a_bin(text: str, at: int, phrase: str) -> bool:
    """Whether the phrase is said as where the thing goes ('종이류로', 'into the paper bin'),
    not as what it is made of ('비닐 코팅된 전단지'): those count first."""
    return bool(
        AS_BIN_AFTER.match(text[at + len(phrase) :])
        or AS_BIN_BEFORE.search(text[max(0, at - 30) : at])
    )


def without_bins(question: str, *, whole: bool = False) -> str:
    """The question with the bins it names taken out ('종이류랑 같이 묶어도 돼?' → '랑 같이
    묶어도 돼?'): what is left names the item, if anything does. `whole`: only a bin's own
    words, standing alone ('변기에', '일반쓰레기로', 'the glass bin'), never part of an item's
    name ('종이컵', 'plastic bottle')."""
    text = question.lower()
    for phrase, stream in PHRASES:
        # Food waste is as often the thing asked about ('음쓰 같이 넣어도 돼?') as the bin.
        if stream == "recyclable" or (whole and stream == Bin.FOOD):
            continue
        if not whole:
            text = text.replace(phrase, " ")
        elif BIN_WORDS.search(phrase):
            text = re.sub(rf"(?<![\w가-힣]){re.escape(phrase)}(?={PARTICLE})", " ", text)
        else:  # '유리병 수거함에', 'the glass bin': the item word said as a bin
            text = re.sub(
                rf"(?<![\w가-힣]){re.escape(phrase)}(?:류)?\s*(?:수거함|{BIN_NOUN})(?={PARTICLE})",
                " ",
                text,
            )
    # Any '<word> 수거함' or '<word> collection box' is a bin, named or not ('폐건전지 수거함에').
    return ANY_BIN.sub(" ", text) if whole else text


# Phrases that name only a bin, never an item ('유리' may be a glass pot; '유리병 수거함' is not).
BIN_WORDS = re.compile(
    r"류$|수거함|종량제|쓰레기|하수구|싱크대|배수구|변기|bin|recycling|waste|trash|garbage|drain|"
    r"sink|toilet"
)
PARTICLE = r"(?:으로|로|에다|에는|에|이랑|랑|과|와|은|는|이|가|을|를)?(?:[\s?？.!,]|$)"
BIN_NOUN = r"(?:collection |recycling )?(?:bins?|box(?:es)?)\b"

ANY_BIN = re.compile(
    rf"(?<![\w가-힣])[가-힣]+\s?수거함(?={PARTICLE})|"
    r"\b[a-z-]+\s+(?:collection |recycling )?bins?\b|"
    r"\b[a-z-]+\s+(?:collection|recycling) box(?:es)?\b"
)


def bins(item: WasteItem) -> set[str]:
    """Where the item goes: its own bins, else its category's; for a category with no bin of
    its own (hazardous, construction), the streams its steps send it to, less those its
    mistakes name."""
    if item.bins:
        return set(item.bins)
    if item.category in CATEGORY_BIN:
        return {CATEGORY_BIN[item.category]}
    steps = " ".join((*item.steps_ko, *item.steps_en)).lower()
    mistakes = " ".join((*item.mistakes_ko, *item.mistakes_en)).lower()
    return {
        stream
        for stream, (phrases, _, _) in STREAMS.items()
        if stream != "recyclable"
        and any(p in steps for p in phrases)
        and not any(p in mistakes for p in phrases)
    }


def _by_money(question: str, item: WasteItem) -> tuple[bool, str] | None:
    """A refund, 'is it free' or 'do I pay': decided by whether the item's text says so, with
    the sentence that says it (in the question's language)."""
    language = "en" if question.isascii() else "ko"
    sentences = [
        sentence
        for line in (
            *(item.steps_en if language == "en" else item.steps_ko),
            item.notes_en if language == "en" else item.notes_ko,
        )
        for sentence in re.split(r"(?<=[.!?])\s+", line)
        if sentence
    ]

    def saying(pattern: re.Pattern[str]) -> str:
        return next((s for s in sentences if pattern.search(s)), "")

    def box_is_free() -> str:
        # Collection boxes (batteries, lamps, small appliances, medicine, clothes) cost nothing.
        lead = "Collection bins are free:" if language == "en" else "수거함 배출은 무료입니다."
        said = saying(COLLECTION_BOX)
        return f"{lead} {_lower_first(said) if language == 'en' else said}"

    text = " ".join(
        (item.name_ko, item.name_en, *item.steps_ko, *item.steps_en, item.notes_ko, item.notes_en)
    )
    if REFUND.search(question):
        return bool(REFUND.search(text)), saying(REFUND)
    if FREE.search(question):
        # Free when the text says so; not free when it says what is paid ('수수료를 냅니다');
        # undecided when it says neither.
        if FREE_IN_TEXT.search(text):
            return True, saying(FREE_IN_TEXT)
        if FEE.search(text):
            return False, saying(FEE)
        return (True, box_is_free()) if saying(COLLECTION_BOX) else None
    if FEE.search(question):
        if FREE_IN_TEXT.search(text):
            return False, saying(FREE_IN_TEXT)
        if FEE.search(text):
            return True, saying(FEE)
        return (False, box_is_free()) if saying(COLLECTION_BOX) else None
    return None


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


STATE_KO = {
    ItemState.BROKEN: "깨진", ItemState.INTACT: "깨지지 않은", ItemState.SOILED: "오염된",
    ItemState.CLEAN: "깨끗한", ItemState.CONTENTS_LEFT: "내용물이 남은",
    ItemState.EMPTY: "다 비운", ItemState.WORN: "낡고 해지거나 오염된", ItemState.COLORED: "유색",
    ItemState.COATED: "코팅된",
}  # fmt: skip
STATE_EN = {
    ItemState.BROKEN: "broken", ItemState.INTACT: "intact", ItemState.SOILED: "soiled",
    ItemState.CLEAN: "clean", ItemState.CONTENTS_LEFT: "not-yet-empty",
    ItemState.EMPTY: "emptied", ItemState.WORN: "worn-out", ItemState.COLORED: "colored",
    ItemState.COATED: "coated",
}  # fmt: skip
# What to do first when a state keeps the item from its bin as it is.
FIX_KO = {
    ItemState.CONTENTS_LEFT: "내용물을 다 비운 뒤 배출합니다",
    ItemState.SOILED: "깨끗이 씻은 뒤 배출하고, 씻어도 지워지지 않으면 종량제 봉투에 버립니다",
}
FIX_EN = {
    ItemState.CONTENTS_LEFT: "empty it completely first",
    ItemState.SOILED: "rinse it clean first, and if it will not come clean, it goes in "
    "general waste",
}
PART_KO = {
    Part.CAP: "뚜껑", Part.LABEL: "라벨", Part.SPRING: "스프링", Part.BATTERY: "건전지",
    Part.TAPE: "테이프", Part.STRAW: "빨대", Part.PACKAGING: "포장", Part.CONTENTS: "내용물",
}  # fmt: skip


def condition_lead(question: str, item: WasteItem, language: Language) -> ContextEntry | None:
    """For a question that is not yes or no, what the state it names changes: '오염된
    비닐봉지는 깨끗이 씻은 뒤 배출하고, …'. None when the state's own item is shown instead."""
    settled, condition = settle(item, question)
    if condition is None or condition.item is not None:
        return None
    en = language == "en"
    state = (STATE_EN if en else STATE_KO)[condition.state]
    name = f"{state} {settled.name_en if en else settled.name_ko}"
    if condition.bins:
        where = " / ".join(stream_name(b, language) for b in condition.bins if b in STREAMS)
        if not where:
            return None
        line = (
            f"A {name} goes in {where}."
            if en
            else f"{particle(name, '은', '는')} {_ro(where)} 배출합니다."
        )
    elif condition.state in FIX_KO:
        line = (
            f"For a {name}: {FIX_EN[condition.state]}."
            if en
            else f"{particle(name, '은', '는')} {FIX_KO[condition.state]}."
        )
    else:
        return None
    return ContextEntry(lines=(line,), role="lead")


def say(decision: Decision, question: str, language: Language) -> str:
    """One whole sentence (two where a step says why), in the asker's language."""
    if language == "en":
        return _say_en(decision, question)
    if decision.by == "part" and decision.part is not None:
        return _part_ko(decision, decision.part)
    if decision.by == "money":
        return _money_ko(decision, question)
    if decision.by in ("must", "mention", "mistake"):
        return _said_by_text(decision, question, language)
    item, condition = decision.item, decision.condition
    named = item.name_ko
    if condition is not None and condition.item is None:
        named = f"{STATE_KO[condition.state]} {named}"
    if BIN_NAME.search(named):  # the item found is the bin itself: the thing asked about
        named = "그런 것"
    topic = particle(named, "은", "는")
    where = STREAMS[decision.claim][1] if decision.claim else ""
    if decision.by == "as_is" and condition is not None and condition.state in FIX_KO:
        head = f"아니요, {topic} 그대로 {_ro(where)} 버리지 않고" if where else f"아니요, {topic}"
        return f"{head} {FIX_KO[condition.state]}."
    if where:
        return _bin_ko(decision, topic, where)
    return _with_reason("네" if decision.yes else "아니요", question, item, "ko", decision.yes)


def _bin_ko(decision: Decision, topic: str, where: str) -> str:
    """'네, 신문지는 종이류로 배출합니다.', '아니요, … 버리지 않고 따로 …로 배출합니다.'"""
    instead = _instead(decision, "ko")
    goes = f" {_ro(instead)} 배출합니다." if instead else " 배출합니다."
    if decision.by == "apart":
        if decision.yes:
            return f"네, {topic} {particle(where, '과', '와')} 따로{goes}"
        return f"아니요, {topic} {_ro(where)} 함께 배출합니다."
    if decision.yes:
        return f"네, {topic} {_ro(where)} 배출합니다."
    if instead:
        return f"아니요, {topic} {_ro(where)} 버리지 않고 따로{goes}"
    return f"아니요, {topic} {_ro(where)} 버리지 않습니다."


def _part_ko(decision: Decision, asked: tuple[Part, bool]) -> str:
    """'네, 뚜껑은 빼서 따로 배출합니다.' with the step that says how, when one does."""
    part = PART_KO[asked[0]]
    step = _step_naming(decision.item, part, "ko")
    word = "네" if decision.yes else "아니요"
    comes_off = decision.yes == asked[1]  # the rule: the part comes off
    said = (
        f"{particle(part, '은', '는')} 빼서 따로 배출합니다."
        if comes_off
        else f"{particle(part, '은', '는')} 빼지 않고 함께 배출합니다."
    )
    return f"{word}, {said}" + (f" {step}" if step and step not in said else "")


def _money_ko(decision: Decision, question: str) -> str:
    word = "네" if decision.yes else "아니요"
    if decision.reason:
        return f"{word}, {decision.reason}"
    if FEE.search(question) and not (FREE.search(question) or REFUND.search(question)):
        return f"{word}, 수수료가 {'있습니다' if decision.yes else '없습니다'}."
    return f"{word}."


def _say_en(decision: Decision, question: str) -> str:
    item, condition, yes = decision.item, decision.condition, decision.yes
    if decision.by == "part" and decision.part is not None:
        part = decision.part[0].value
        step = _step_naming(item, part, "en")
        if yes:
            return f"Yes, {_lower_first(step)}" if step else f"Yes, take the {part} off."
        if decision.part[1]:
            return f"No, the {part} can stay on." + (f" {step}" if step else "")
        return f"No, take the {part} off first." + (f" {step}" if step else "")
    if decision.by == "money":
        word = "Yes" if yes else "No"
        return f"{word}, {_lower_first(decision.reason)}" if decision.reason else f"{word}."
    if decision.by in ("must", "mention", "mistake"):
        return _said_by_text(decision, question, "en")
    if decision.by == "as_is" and condition is not None and condition.state in FIX_EN:
        return f"No, {FIX_EN[condition.state]}."
    if decision.claim:
        return _bin_en(decision, STREAMS[decision.claim][2])
    return _with_reason("Yes" if yes else "No", question, item, "en", yes)


def _bin_en(decision: Decision, where: str) -> str:
    """'No, chicken bones do not go in food waste; they go in general waste (a 종량제 bag).'"""
    item, condition = decision.item, decision.condition
    name = item.name_en
    if condition is not None and condition.item is None:
        name = f"{STATE_EN[condition.state]} {name}"
    plural = _plural(item.name_en)
    subject = name if plural else f"the {name}"
    go, goes_not = ("go", "do not go") if plural else ("goes", "does not go")
    instead = _instead(decision, "en")
    tail = f"; {'they go' if plural else 'it goes'} in {instead}" if instead else ""
    if decision.by == "apart":
        if decision.yes:
            return f"Yes, keep {subject} apart from {where}{tail}."
        return f"No, {subject} {go} in {where} with the rest."
    if decision.yes:
        return f"Yes, {subject} {go} in {where}."
    return f"No, {subject} {goes_not} in {where}{tail}."


def _said_by_text(decision: Decision, question: str, language: Language) -> str:
    """The sentence of the item's that decided: its step, its mention, its common mistake."""
    if decision.by == "must":
        return _must(decision, language)
    word = (
        ("Yes" if decision.yes else "No")
        if language == "en"
        else ("네" if decision.yes else "아니요")
    )
    if decision.by == "mention":
        reason = _lower_first(decision.reason) if language == "en" else decision.reason
        return f"{word}, {reason}"
    return _with_reason(word, question, decision.item, language, False)


def _must(decision: Decision, language: Language) -> str:
    """'No, it is not required: crush it flat if you can.', '네, 내용물을 비우고 헹굽니다.'"""
    step = decision.reason if decision.reason.endswith(".") else f"{decision.reason}."
    if language == "en":
        if decision.yes:
            return f"Yes, {_lower_first(step)}"
        return f"No, it is not required: {_lower_first(step)}"
    return f"네, {step}" if decision.yes else f"아니요, 꼭 그래야 하는 것은 아닙니다. {step}"


def _instead(decision: Decision, language: Language) -> str:
    """Where the item goes instead, when that is one bin."""
    condition = decision.condition
    goes = set(condition.bins) if condition is not None and condition.bins else bins(decision.item)
    if len(goes) != 1:
        return ""
    only = next(iter(goes))
    return stream_name(only, language) if only in STREAMS else ""


def stream_name(stream: str, language: Language) -> str:
    _, korean, english = STREAMS[stream]
    return english if language == "en" else korean


def _step_naming(item: WasteItem, word: str, language: Language) -> str:
    """The step that names the part; the first step when the item is the part itself."""
    steps = item.steps_en if language == "en" else item.steps_ko
    own_name = item.name_en if language == "en" else item.name_ko
    first = steps[0] if word.lower() in own_name.lower() else ""
    found = next((step for step in steps if word.lower() in step.lower()), first)
    return found if not found or found.endswith(".") else f"{found}."


def _plural(name: str) -> bool:
    words = name.split("(")[0].split()
    last = words[-1].lower() if words else ""
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _with_reason(word: str, question: str, item: WasteItem, language: Language, yes: bool) -> str:
    """'네, 내용물을 비우고 물로 헹굽니다.': the yes or no with the line that decided it; a
    common mistake is said as one ('아니요, '…'는 흔히 하는 실수입니다.')."""
    asked = _grams(_without_names(question, item, aliases=False))
    steps = item.steps_en if language == "en" else item.steps_ko
    mistakes = item.mistakes_en if language == "en" else item.mistakes_ko
    lines = steps if yes else (*mistakes, *steps)
    best = max(lines, key=lambda line: len(asked & _grams(line)), default="")
    if not best or not asked & _grams(best):
        return f"{word}."
    if not yes and best in mistakes:
        best = best.rstrip(".")
        if language == "en":
            return f"No, that is a common mistake: {_lower_first(best)}."
        return f"아니요, '{best}'{'은' if _final(best) else '는'} 흔히 하는 실수입니다."
    return f"{word}, {_lower_first(best) if language == 'en' else best}".rstrip(".") + "."


def _final(word: str) -> int:
    """The final consonant index of the word's last Hangul syllable (0: none)."""
    base = word.split("(")[0].strip()
    last = base[-1] if base else ""
    return (ord(last) - 0xAC00) % 28 if "가" <= last <= "힣" else 0


def particle(word: str, after_consonant: str, after_vowel: str) -> str:
    return word + (after_consonant if _final(word) else after_vowel)


def _ro(word: str) -> str:
    """'유리병류로', '종이팩으로': 으로 after a final consonant other than ㄹ (8)."""
    final = _final(word)
    return word + ("으로" if final and final != 8 else "로")
