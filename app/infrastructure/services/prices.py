"""Recyclable-material prices (won/kg by material and region) from the public price survey,
as a CSV the user points config at. Nothing here ships prices."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from app.application.ports.tools import RecyclablePricePort
from app.domain.tools import PriceQuote
from app.infrastructure.services.tables import matches, read_table

COLUMNS = {"품목", "지역", "가격", "조사년월"}


class CsvRecyclablePrices(RecyclablePricePort):
    """Columns: 품목 (material), 지역 (region), 가격 (won/kg), 조사년월 (survey month)."""

    def __init__(self, path: Path, *, source: str = "재활용가능자원 가격조사") -> None:
        self._path = path
        self._source = source

    @cached_property
    def _rows(self) -> list[dict[str, str]]:
        return read_table(self._path, COLUMNS)

    async def prices(self, material: str, region: str | None = None) -> list[PriceQuote]:
        rows = [r for r in self._rows if matches(material, r["품목"])]
        if region:
            rows = [r for r in rows if matches(region, r["지역"])] or rows
        latest = max((r["조사년월"] for r in rows), default="")
        return [
            PriceQuote(
                material=r["품목"],
                region=r["지역"] or None,
                won_per_kg=float(r["가격"].replace(",", "")),
                surveyed=r["조사년월"],
                source=self._source,
            )
            for r in rows
            if r["조사년월"] == latest and _number(r["가격"])
        ]


def _number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True
