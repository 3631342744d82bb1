"""Bulky-waste fees (전국대형폐기물표준데이터) and each district's disposal rules
(전국생활쓰레기배출정보표준데이터, published under the Ministry of the Interior and Safety's
standard-data programme), as CSVs the user downloads and points config at. Nothing here ships
fee numbers or rules."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from app.application.ports.tools import BulkWastePort
from app.domain.tools import BulkWasteInfo
from app.infrastructure.services.tables import matches, read_table

COLUMNS = {"시도명", "시군구명", "대형폐기물명", "대형폐기물규격", "수수료"}
RULE_COLUMNS = {"시군구명", "일시적다량폐기물배출방법"}
HOW_TO = (
    "구청·주민센터 또는 지자체 누리집/앱에서 대형폐기물 배출 신고 후 수수료를 내고, "
    "받은 스티커(신고번호)를 붙여 지정 장소에 내놓습니다."
)


class CsvBulkWasteFees(BulkWastePort):
    """Fees per item and size; with `rules_path`, the district's own bulky-waste method."""

    def __init__(self, path: Path, *, rules_path: Path | None = None, limit: int = 5) -> None:
        self._path = path
        self._rules_path = rules_path
        self._limit = limit

    @cached_property
    def _rows(self) -> list[dict[str, str]]:
        return read_table(self._path, COLUMNS)

    @cached_property
    def _rules(self) -> list[dict[str, str]]:
        return read_table(self._rules_path, RULE_COLUMNS) if self._rules_path else []

    async def lookup(self, item: str, district: str | None = None) -> list[BulkWasteInfo]:
        rows = [r for r in self._rows if matches(item, r["대형폐기물명"])]
        if district:
            local = [r for r in rows if matches(district, r["시군구명"])]
            rows = local or rows
        return [_info(r, self._how_to(r["시군구명"])) for r in rows[: self._limit]]

    def _how_to(self, district: str) -> str:
        rule = next((r for r in self._rules if matches(district, r["시군구명"])), None)
        if rule is None or not rule["일시적다량폐기물배출방법"]:
            return HOW_TO
        place = rule.get("일시적다량폐기물배출장소", "")
        return rule["일시적다량폐기물배출방법"] + (f" (배출 장소: {place})" if place else "")


def _info(row: dict[str, str], how_to: str = HOW_TO) -> BulkWasteInfo:
    fee = row["수수료"].replace(",", "")
    return BulkWasteInfo(
        item=row["대형폐기물명"],
        district=f"{row['시도명']} {row['시군구명']}".strip(),
        size=row.get("대형폐기물규격") or None,
        fee_won=int(fee) if fee.isdigit() else None,
        how_to=how_to,
        source=f"전국대형폐기물표준데이터 ({row.get('데이터기준일자') or 'date unknown'})",
    )
