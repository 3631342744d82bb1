"""Dataset loaders (fixture CSVs, made-up numbers) and the KMA grid and schedule rules."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from app.domain.errors import ConfigurationError
from app.infrastructure.services.bulk_waste import CsvBulkWasteFees
from app.infrastructure.services.kma import KST, forecast_base, nowcast_base, to_grid
from app.infrastructure.services.prices import CsvRecyclablePrices

FIXTURES = Path(__file__).resolve().parent.parent / "data" / "fixtures"


async def test_bulky_waste_fees_by_item_and_district() -> None:
    fees = CsvBulkWasteFees(FIXTURES / "FIXTURE_bulky_waste_fees.csv")
    found = await fees.lookup("3인용 소파", district="마포구")
    assert [(f.size, f.fee_won) for f in found] == [("3인용", 11111), ("1인용", 2222)]
    assert found[0].district == "서울특별시 마포구" and "스티커" in found[0].how_to
    assert "2099-01-01" in (found[0].source or "")
    anywhere = await fees.lookup("소파", district="부산")  # unknown district: all districts
    assert len(anywhere) == 3
    assert await fees.lookup("냉장고") == []


async def test_prices_take_the_latest_survey_and_read_cp949() -> None:
    for name in ("FIXTURE_recyclable_prices.csv", "FIXTURE_recyclable_prices_cp949.csv"):
        prices = CsvRecyclablePrices(FIXTURES / name)
        quotes = await prices.prices("고철")
        assert [(q.won_per_kg, q.surveyed) for q in quotes] == [(222.0, "2099-02")]


async def test_a_wrong_file_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        await CsvBulkWasteFees(tmp_path / "missing.csv").lookup("소파")
    bad = tmp_path / "bad.csv"
    bad.write_text("name,price\n소파,1\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="lacks columns"):
        await CsvRecyclablePrices(bad).prices("소파")


@pytest.mark.parametrize(
    ("latitude", "longitude", "grid"),
    [(37.5665, 126.9780, (60, 127)), (35.1796, 129.0756, (98, 76)), (33.4996, 126.5312, (53, 38))],
)
def test_kma_grid_conversion(latitude: float, longitude: float, grid: tuple[int, int]) -> None:
    assert to_grid(latitude, longitude) == grid


def test_kma_issue_times() -> None:
    assert forecast_base(datetime(2026, 11, 27, 14, 5, tzinfo=KST)) == ("20261127", "1100")
    assert forecast_base(datetime(2026, 11, 27, 14, 15, tzinfo=KST)) == ("20261127", "1400")
    assert forecast_base(datetime(2026, 11, 27, 1, 0, tzinfo=KST)) == ("20261126", "2300")
    assert nowcast_base(datetime(2026, 11, 27, 14, 30, tzinfo=KST)) == ("20261127", "1300")


async def test_district_rules_say_how_to_put_bulky_waste_out() -> None:
    fees = CsvBulkWasteFees(
        FIXTURES / "FIXTURE_bulky_waste_fees.csv",
        rules_path=FIXTURES / "FIXTURE_district_rules.csv",
    )
    mapo = (await fees.lookup("소파", district="마포구"))[0]
    assert mapo.how_to == "FIXTURE 구청 누리집에서 신고 후 스티커 부착 (배출 장소: FIXTURE 대문 앞)"
    gangnam = (await fees.lookup("소파", district="강남구"))[0]
    assert "스티커" in gangnam.how_to and "FIXTURE" not in gangnam.how_to  # no rule: general
