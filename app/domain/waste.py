"""Waste items and disposal categories, as the knowledge base describes them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class WasteCategory(StrEnum):
    """Korea's separate-disposal streams (분리배출 품목)."""

    PET = "pet"  # 투명 페트병
    PLASTIC = "plastic"  # 플라스틱
    VINYL = "vinyl"  # 비닐류
    PAPER = "paper"  # 종이
    PAPER_PACK = "paper_pack"  # 종이팩
    CAN = "can"  # 캔류
    METAL = "metal"  # 고철
    GLASS = "glass"  # 유리병
    STYROFOAM = "styrofoam"  # 스티로폼
    CLOTHING = "clothing"  # 의류
    FOOD_WASTE = "food_waste"  # 음식물 쓰레기
    GENERAL_WASTE = "general_waste"  # 일반(종량제) 쓰레기
    BULKY_WASTE = "bulky_waste"  # 대형 폐기물
    E_WASTE = "e_waste"  # 폐가전
    BATTERY = "battery"  # 폐건전지
    FLUORESCENT_LAMP = "fluorescent_lamp"  # 폐형광등
    MEDICINE = "medicine"  # 폐의약품
    HAZARDOUS = "hazardous"  # 기타 유해 폐기물 (부탄가스, 폐식용유 등)
    CONSTRUCTION = "construction"  # 생활계 건설 폐기물 (불연성 마대)


class WasteItem(BaseModel):
    """One thing people throw away, and how to do it right."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    name_ko: str
    name_en: str
    category: WasteCategory
    # The official guideline the rule comes from; the knowledge base keeps a fixed vocabulary.
    source: str = Field(min_length=1, pattern=r"^\S(.*\S)?$")
    aliases_ko: tuple[str, ...] = ()
    aliases_en: tuple[str, ...] = ()
    steps_ko: tuple[str, ...] = Field(min_length=1)
    steps_en: tuple[str, ...] = Field(min_length=1)
    mistakes_ko: tuple[str, ...] = ()
    mistakes_en: tuple[str, ...] = ()
    notes_ko: str = ""
    notes_en: str = ""
