"""Tool results as the text the answer is written from (Korean or English)."""

from __future__ import annotations

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

CLOSE_SECOND = 0.85  # a runner-up this close to the top hit is shown in full too


def waste_items(hits: list[RetrievedItem], language: str) -> str:
    top = hits[0].score
    shown = [h.item for h in hits if h.score >= top * CLOSE_SECOND][:2]
    related = [h.item for h in hits if h.item not in shown]
    blocks = [waste_item(item, language) for item in shown]
    if related:
        label = "관련 항목" if language == "ko" else "Related"
        names = ", ".join(i.name_ko if language == "ko" else i.name_en for i in related)
        blocks.append(f"{label}: {names}")
    return "\n".join(blocks)


def waste_item(item: WasteItem, language: str) -> str:
    ko = language == "ko"
    title = f"{item.name_ko} ({item.name_en}):" if ko else f"{item.name_en} ({item.name_ko}):"
    steps = item.steps_ko if ko else item.steps_en
    mistakes = item.mistakes_ko if ko else item.mistakes_en
    notes = item.notes_ko if ko else item.notes_en
    lines = [title, *(f"- {step}" for step in steps)]
    if mistakes:
        lines.append(("자주 하는 실수: " if ko else "Common mistakes: ") + "; ".join(mistakes))
    if notes:
        lines.append(("참고: " if ko else "Note: ") + notes)
    return "\n".join(lines)


def places(found: list[Place]) -> str:
    return "\n".join(
        f"- {p.name} · {p.address}" + (f" · {p.distance_m} m" if p.distance_m is not None else "")
        for p in found
    )


def collection_points(found: list[CollectionPoint]) -> str:
    return "\n".join(
        f"- {p.name} ({p.kind}) · {p.address}"
        + (f" · {p.distance_m} m" if p.distance_m is not None else "")
        for p in found
    )


def weather(report: WeatherReport) -> str:
    parts = [report.summary]
    if report.temperature_c is not None:
        parts.append(f"{report.temperature_c:.0f}°C")
    if report.precipitation_probability is not None:
        parts.append(f"rain {report.precipitation_probability}%")
    return " · ".join(parts)


def bulk_waste(found: list[BulkWasteInfo]) -> str:
    lines = []
    for info in found:
        fee = f" · {info.fee_won:,}원" if info.fee_won is not None else ""
        where = f"{info.district} " if info.district else ""
        size = f" ({info.size})" if info.size else ""
        lines.append(f"- {where}{info.item}{size}{fee}: {info.how_to}")
    return "\n".join(lines)


def prices(found: list[PriceQuote]) -> str:
    return "\n".join(
        f"- {q.material} {q.region or ''} {q.won_per_kg:,.0f}원/kg ({q.surveyed})".replace(
            "  ", " "
        )
        for q in found
    )


def search_results(found: list[SearchResult]) -> str:
    return "\n".join(f"- {r.title}: {r.snippet} ({r.url})" for r in found)


def character(found: Character) -> str:
    return f"{found.name} ({found.category.value}): {found.description}"
