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


class Bin(StrEnum):
    """Where a thing can be put out: the separate-disposal streams and the special routes."""

    PET = "pet"
    PLASTIC = "plastic"
    VINYL = "vinyl"
    PAPER = "paper"
    PAPER_PACK = "paper_pack"
    CAN = "can"
    METAL = "metal"
    GLASS = "glass"
    STYROFOAM = "styrofoam"
    CLOTHING = "clothing"
    FOOD = "food"
    GENERAL = "general"
    LAMP = "lamp"  # the fluorescent-lamp box
    BATTERY = "battery"  # the battery box
    MEDICINE = "medicine"  # a pharmacy's or health centre's medicine box
    E_WASTE = "e_waste"  # free appliance pickup or the small-appliance box
    BULKY = "bulky"  # reported bulky waste, with a fee sticker


RECYCLING = frozenset(
    {Bin.PET, Bin.PLASTIC, Bin.VINYL, Bin.PAPER, Bin.PAPER_PACK, Bin.CAN, Bin.METAL, Bin.GLASS,
     Bin.STYROFOAM}
)  # fmt: skip
CATEGORY_BIN = {
    WasteCategory.PET: Bin.PET, WasteCategory.PLASTIC: Bin.PLASTIC,
    WasteCategory.VINYL: Bin.VINYL, WasteCategory.PAPER: Bin.PAPER,
    WasteCategory.PAPER_PACK: Bin.PAPER_PACK, WasteCategory.CAN: Bin.CAN,
    WasteCategory.METAL: Bin.METAL, WasteCategory.GLASS: Bin.GLASS,
    WasteCategory.STYROFOAM: Bin.STYROFOAM, WasteCategory.CLOTHING: Bin.CLOTHING,
    WasteCategory.FOOD_WASTE: Bin.FOOD, WasteCategory.GENERAL_WASTE: Bin.GENERAL,
    WasteCategory.BULKY_WASTE: Bin.BULKY, WasteCategory.E_WASTE: Bin.E_WASTE,
    WasteCategory.BATTERY: Bin.BATTERY, WasteCategory.FLUORESCENT_LAMP: Bin.LAMP,
    WasteCategory.MEDICINE: Bin.MEDICINE,
}  # fmt: skip


class ItemState(StrEnum):
    """A state a question may put an item in, which can change where it goes."""

    BROKEN = "broken"
    INTACT = "intact"
    SOILED = "soiled"  # greasy, food on it, stained
    CLEAN = "clean"
    CONTENTS_LEFT = "contents_left"  # not empty: sauce, gas, pills still in it
    EMPTY = "empty"
    WORN = "worn"  # clothing torn, wet or stained beyond wearing
    COLORED = "colored"  # a green or brown PET bottle is no clear PET
    COATED = "coated"  # paper coated with vinyl or foil is no paper


class Condition(BaseModel):
    """Where the item goes in one state: a broken bottle goes in general waste, wrapped, as
    the broken-glass item says. No bins: not as it is (empty it or clean it first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    state: ItemState
    bins: tuple[Bin, ...] = ()
    see: str | None = None  # the item whose steps hold in that state
    # `see` resolved by the knowledge base when it loads (one level: its own conditions are not)
    item: WasteItem | None = None


class Part(StrEnum):
    """A part a question may ask to take off before putting the item out."""

    CAP = "cap"
    LABEL = "label"
    SPRING = "spring"
    BATTERY = "battery"
    TAPE = "tape"
    STRAW = "straw"
    PACKAGING = "packaging"  # a pill's blister pack, a product's wrapping
    CONTENTS = "contents"


class PartRule(BaseModel):
    """Whether the part comes off (a glass bottle's metal cap) or stays (a PET bottle's cap)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    part: Part
    remove: bool


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
    # The facts a yes or a no is decided from. `state`: this item is another item in that
    # state (broken glass, greasy paper); `bins`: where it goes when none is said (else its
    # category's bin, or the bins its steps name); `conditions` and `parts` as above.
    state: ItemState | None = None
    bins: tuple[Bin, ...] = ()
    conditions: tuple[Condition, ...] = ()
    parts: tuple[PartRule, ...] = ()

    def condition(self, state: ItemState) -> Condition | None:
        return next((c for c in self.conditions if c.state is state), None)

    def part(self, part: Part) -> PartRule | None:
        return next((r for r in self.parts if r.part is part), None)


Condition.model_rebuild()
