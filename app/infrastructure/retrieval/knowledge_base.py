"""The shipped knowledge base: waste items from Korea's separate-disposal guidelines."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

from app.domain.waste import Condition, PartRule, WasteCategory, WasteItem

DATA = Path(__file__).with_name("data") / "waste_items.yaml"
CONDITIONS = DATA.with_name("conditions.yaml")

# Every item names the guideline its rule comes from, with exactly one of these names (the
# YAML lists them in its header comment too).
SOURCES = (
    "환경부 「재활용품 분리배출 가이드라인」(2019)",
    "환경부 「투명 페트병 별도 분리배출」(2020)",
    "환경부 「분리배출 표시에 관한 지침」",
    "환경부 「음식물류 폐기물 분리배출 기준」",
    "환경부 「쓰레기 수수료 종량제 시행지침」",
    "한국환경공단 폐가전제품 무상방문수거 안내",
    "지자체 대형폐기물 배출 안내 (공통)",
    "생활폐기물 분리배출 누리집",
    "한국순환자원유통지원센터 빈용기보증금 안내",
)


@cache
def load_items(path: Path = DATA) -> tuple[WasteItem, ...]:
    """Parsed and validated once per process; a bad entry fails loudly with its id."""
    # libyaml's loader when present: ten times the pure-Python one on this file.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    items = with_conditions(tuple(WasteItem.model_validate(entry) for entry in raw))
    for field, values in (
        ("ids", [i.id for i in items]),
        ("Korean names", [i.name_ko for i in items]),
        ("English names", [i.name_en.lower() for i in items]),
    ):
        duplicates = _duplicates(values)
        if duplicates:
            raise ValueError(f"{path}: duplicate item {field} {duplicates}")
    unknown = sorted({f"{i.id}: {i.source}" for i in items if i.source not in SOURCES})
    if unknown:
        raise ValueError(f"{path}: sources outside the vocabulary {unknown}")
    return items


def with_conditions(items: tuple[WasteItem, ...], path: Path = CONDITIONS) -> tuple[WasteItem, ...]:
    """Each item with its category's conditions and parts beside its own, and each `see`
    resolved to the item it names (a missing one fails loudly)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    defaults = {
        WasteCategory(category): tuple(Condition.model_validate(c) for c in conditions)
        for category, conditions in raw["conditions"].items()
    }
    part_defaults = {
        WasteCategory(category): tuple(PartRule.model_validate(r) for r in rules)
        for category, rules in raw["parts"].items()
    }
    by_id = {item.id: item for item in items}
    missing = sorted(
        f"{item.id} → {c.see}"
        for item in items
        for c in (*item.conditions, *defaults.get(item.category, ()))
        if c.see is not None and c.see not in by_id
    )
    if missing:
        raise ValueError(f"conditions naming no item: {missing}")

    def completed(item: WasteItem) -> WasteItem:
        own = {c.state for c in item.conditions}
        inherited = tuple(c for c in defaults.get(item.category, ()) if c.state not in own)
        conditions = tuple(
            c.model_copy(update={"item": by_id[c.see]}) if c.see and c.see != item.id else c
            for c in (*item.conditions, *inherited)
        )
        known = {r.part for r in item.parts}
        parts = (
            *item.parts,
            *(r for r in part_defaults.get(item.category, ()) if r.part not in known),
        )
        return item.model_copy(update={"conditions": conditions, "parts": parts})

    return tuple(completed(item) for item in items)


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)
