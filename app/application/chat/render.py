"""Tool results as the context entries the answer is written from (Korean or English)."""

from __future__ import annotations

from app.domain.language import Language
from app.domain.llm import ContextEntry
from app.domain.tools import (
    BulkWasteInfo,
    Character,
    CollectionPoint,
    Place,
    PriceQuote,
    RetrievedItem,
    SearchResult,
    WeatherReport,
)
from app.domain.waste import WasteItem

CLOSE_SECOND = 0.85  # a runner-up this close to an unsure top hit is shown in full too
RELATED = 0.5  # a hit at least this close to the top one is named as related


def waste_items(hits: list[RetrievedItem], language: Language) -> tuple[ContextEntry, ...]:
    """The top hit in full; a close runner-up too where it may be what was meant: the question
    names it, or does not name the top one, or it is another kind of thing ('스티커': a
    parcel's label or the bulky-waste sticker). A close variant of the item the question
    names (a carton with a cap, for a milk carton) is only named. The rest: one line of
    names."""
    top = hits[0]
    shown = [top.item] + [
        h.item
        for h in hits[1:2]
        if h.score >= top.score * CLOSE_SECOND
        and (h.exact or not top.exact or h.item.category != top.item.category)
    ]
    # Only near neighbours are related: a weak match is noise (a sofa's 'related' gypsum board).
    related = [h.item for h in hits if h.item not in shown and h.score >= top.score * RELATED]
    entries = [waste_item(item, language) for item in shown]
    if related:
        label = "관련 항목" if language == "ko" else "Related"
        names = ", ".join(i.name_ko if language == "ko" else i.name_en for i in related)
        entries.append(ContextEntry(lines=(f"{label}: {names}",)))
    return tuple(entries)


def waste_item(item: WasteItem, language: Language) -> ContextEntry:
    """Its disposal steps on their own; mistakes and notes as the entry's other lines."""
    ko = language == "ko"
    title = f"{item.name_ko} ({item.name_en})" if ko else f"{item.name_en} ({item.name_ko})"
    mistakes = item.mistakes_ko if ko else item.mistakes_en
    notes = item.notes_ko if ko else item.notes_en
    lines = []
    if mistakes:
        lines.append(("자주 하는 실수: " if ko else "Common mistakes: ") + "; ".join(mistakes))
    if notes:
        lines.append(("참고: " if ko else "Note: ") + notes)
    steps = item.steps_ko if ko else item.steps_en
    return ContextEntry(title=title, steps=steps, lines=tuple(lines))


def places(found: list[Place]) -> ContextEntry:
    return ContextEntry(
        lines=tuple(
            f"- {p.name} · {p.address}"
            + (f" · {p.distance_m} m" if p.distance_m is not None else "")
            for p in found
        )
    )


def collection_points(found: list[CollectionPoint]) -> ContextEntry:
    return ContextEntry(
        lines=tuple(
            f"- {p.name} ({p.kind}) · {p.address}"
            + (f" · {p.distance_m} m" if p.distance_m is not None else "")
            for p in found
        )
    )


def weather(report: WeatherReport) -> ContextEntry:
    parts = [report.summary]
    if report.temperature_c is not None:
        parts.append(f"{report.temperature_c:.0f}°C")
    if report.precipitation_probability is not None:
        parts.append(f"rain {report.precipitation_probability}%")
    return ContextEntry(lines=(" · ".join(parts),))


def bulk_waste(found: list[BulkWasteInfo]) -> ContextEntry:
    lines = []
    for info in found:
        fee = f" · {info.fee_won:,}원" if info.fee_won is not None else ""
        where = f"{info.district} " if info.district else ""
        size = f" ({info.size})" if info.size else ""
        lines.append(f"- {where}{info.item}{size}{fee}: {info.how_to}")
    return ContextEntry(lines=tuple(lines))


def prices(found: list[PriceQuote]) -> ContextEntry:
    return ContextEntry(
        lines=tuple(
            f"- {q.material} {q.region or ''} {q.won_per_kg:,.0f}원/kg ({q.surveyed})".replace(
                "  ", " "
            )
            for q in found
        )
    )


def search_results(found: list[SearchResult]) -> ContextEntry:
    return ContextEntry(lines=tuple(f"- {r.title}: {r.snippet} ({r.url})" for r in found))


def character(found: Character) -> ContextEntry:
    return ContextEntry(lines=(f"{found.name} ({found.category.value}): {found.description}",))


def reference(text: str) -> ContextEntry:
    """A reference text (the general guide), one line of it per line."""
    return ContextEntry(
        lines=tuple(line for line in text.splitlines() if line.strip()), role="reference"
    )
