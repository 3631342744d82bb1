"""The knowledge base's two lookups: the disposal rules for an item (leading with a yes or a
no where the question asks one), and the general guide when no tool fits."""

from __future__ import annotations

from app.application.chat import follow_ups, render
from app.application.chat.compound import companions, without_companions
from app.application.chat.conditions import settle
from app.application.chat.registry import Lookup
from app.application.chat.routing import Route
from app.application.chat.state import BranchInput, NodeResult
from app.application.chat.tools import found
from app.application.chat.verdicts import (
    as_asked,
    condition_lead,
    decide,
    is_yes_no,
    say,
    without_bins,
)
from app.application.ports.tools import RetrieverPort
from app.application.prompts import disposal_guide
from app.domain.chat import Source, Subject
from app.domain.language import Language, detect_language
from app.domain.llm import ContextEntry
from app.domain.tools import RetrievedItem
from app.domain.waste import WasteItem


async def search(
    retriever: RetrieverPort, route: Route, k: int, question: str
) -> list[RetrievedItem]:
    """The route's hits; a follow-up's joined query may yield to the item the turn names. A
    yes-or-no `question` is searched without the bin it names: '남은 약 변기에 버려도 돼?' asks
    about the pills, not the toilet, '먹다 남은 약 일반쓰레기로' not about what goes there; and
    without what it compares its item with: '거울도 유리병이랑 같이 버려?' asks about the
    mirror."""
    if route.subject is None:
        query = route.query
        if is_yes_no(question):
            query = without_bins(query, whole=True)
            query = without_companions(query)
        hits = await retriever.search(query, k) if query.strip() else []
        return named_first(hits or await retriever.search(route.query, k))
    return await follow_ups.follow_up_hits(retriever, route.original, route.subject, k)


NAMED_SHARE = 0.5  # an item the question names leads a state's item scoring up to twice as high


def named_first(hits: list[RetrievedItem]) -> list[RetrievedItem]:
    """An item the question names outranks an item that is a state of something ('깨진
    형광등', 'broken glass') and only shares the state's word with it: 'a broken TV' is the TV
    (the state is the TV's). The items of a state are reached from their own item's
    conditions, as the question has it."""
    if not hits or hits[0].exact or hits[0].item.state is None:
        return hits
    for index, hit in enumerate(hits[1:], 1):
        if hit.exact and hit.score >= NAMED_SHARE * hits[0].score:
            return [hit, *hits[:index], *hits[index + 1 :]]
    return hits


def the_item_first(hits: list[RetrievedItem], question: str) -> list[RetrievedItem]:
    """'우유팩을 신문지랑 같이 버려도 돼?' is about the carton, however well 신문지 scores."""
    beside = companions(question)
    if len(hits) < 2 or not beside or not _named(hits[0], beside):
        return hits
    for index, hit in enumerate(hits[1:], 1):
        if hit.exact and not _named(hit, beside):
            return [hit, *hits[:index], *hits[index + 1 :]]
    return hits


def as_the_question_has_it(hits: list[RetrievedItem], question: str) -> list[RetrievedItem]:
    """The top item in the state the question puts it in: '깨진 유리병' leads with broken
    glass, '안 깨진 형광등' found as the broken lamp leads with the lamp."""
    item, _ = settle(hits[0].item, question)
    if item.id == hits[0].item.id:
        return hits
    rest = [h for h in hits if h.item.id != item.id]
    return [hits[0].model_copy(update={"item": item}), *rest]


def _named(hit: RetrievedItem, words: set[str]) -> bool:
    item = hit.item
    return any(w in (item.name_ko, *item.aliases_ko) for w in words)


def asked(branch: BranchInput) -> str:
    """The question a yes or no answers: a follow-up's rewrite when it reads as one ('영수증은
    종이로 버리면 되지?'), else the turn as put ('Is it free?', where 'TV Is free?' is none)."""
    route = branch.route
    rewritten = as_asked(route.query, branch.request.message)
    if route.subject is None or is_yes_no(rewritten):
        return rewritten
    return as_asked(route.original, branch.request.message)


def waste_rag(retriever: RetrieverPort, k: int = 3) -> Lookup:
    async def lookup(branch: BranchInput) -> NodeResult:
        hits = await search(retriever, branch.route, k, asked(branch))
        hits = the_item_first(hits, branch.route.query)
        if not hits:
            return found(branch, ())
        hits = as_the_question_has_it(hits, asked(branch))
        language = detect_language(branch.route.query)
        sources = [Source(title=h.item.name_ko, kind="knowledge_base") for h in hits[:2]]
        entries = render.waste_items(hits, language)
        lead, yes = _lead(asked(branch), hits[0].item, language)
        result = found(branch, (lead, *entries) if lead else entries, sources, language)
        return result.model_copy(update={"subject": subject_of(hits[0]), "verdict": yes})

    return lookup


def general(retriever: RetrieverPort) -> Lookup:
    """No tool fits: an item the question confidently names, else the general rules."""

    async def lookup(branch: BranchInput) -> NodeResult:
        hits = [h for h in await search(retriever, branch.route, 2, asked(branch)) if h.confident]
        if hits:
            language = detect_language(branch.route.query)
            source = Source(title=hits[0].item.name_ko, kind="knowledge_base")
            hits = as_the_question_has_it(hits, asked(branch))
            entry = render.waste_item(hits[0].item, language)
            lead, yes = _lead(asked(branch), hits[0].item, language)
            result = found(branch, [lead, entry] if lead else [entry], [source], language)
            return result.model_copy(update={"subject": subject_of(hits[0]), "verdict": yes})
        guide = render.reference(disposal_guide())
        return found(branch, [guide], [Source(title="분리배출 가이드", kind="guide")])

    return lookup


def _lead(
    question: str, item: WasteItem, language: Language
) -> tuple[ContextEntry | None, bool | None]:
    """The yes or no the question asks for (and which), else what the state it names
    changes."""
    decision = decide(question, item)
    if decision is not None:
        return ContextEntry(lines=(say(decision, question, language),), role="lead"), decision.yes
    return condition_lead(question, item, language), None


def subject_of(hit: RetrievedItem) -> Subject:
    return Subject(name_ko=hit.item.name_ko, name_en=hit.item.name_en)
