"""The shipped knowledge base: provenance, size and the loader's checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from app.domain.waste import WasteCategory
from app.infrastructure.retrieval.knowledge_base import DATA, SOURCES, load_items

MIN_ITEMS = 370


def _entry(**overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": "test-item",
        "name_ko": "시험 품목",
        "name_en": "test item",
        "category": "plastic",
        "source": SOURCES[0],
        "steps_ko": ["플라스틱류로 배출합니다."],
        "steps_en": ["Put it out with plastics."],
    }
    return {**entry, **overrides}


def _load(tmp_path: Path, *entries: dict[str, Any]) -> None:
    path = tmp_path / "items.yaml"
    path.write_text(yaml.safe_dump(list(entries), allow_unicode=True), encoding="utf-8")
    load_items.__wrapped__(path)


def test_every_item_names_a_source_from_the_fixed_vocabulary() -> None:
    items = load_items()
    assert all(item.source in SOURCES for item in items)
    assert len(set(SOURCES)) == len(SOURCES)


def test_the_yaml_header_lists_the_same_vocabulary() -> None:
    header = DATA.read_text(encoding="utf-8").split("\n- id:", 1)[0]
    listed = tuple(re.findall(r"^#\s+- (.+?)\s*$", header, flags=re.MULTILINE))
    assert listed == SOURCES


def test_the_knowledge_base_is_big_unique_and_covers_every_category() -> None:
    items = load_items()
    assert len(items) >= MIN_ITEMS
    assert len({i.id for i in items}) == len(items)
    assert len({i.name_ko for i in items}) == len(items)
    assert len({i.name_en.lower() for i in items}) == len(items)
    assert {i.category for i in items} == set(WasteCategory)


def test_every_item_has_steps_in_both_languages() -> None:
    for item in load_items():
        assert item.steps_ko and item.steps_en, item.id
        assert all(step.strip() for step in (*item.steps_ko, *item.steps_en)), item.id


def test_an_item_without_a_source_is_rejected(tmp_path: Path) -> None:
    entry = _entry()
    del entry["source"]
    with pytest.raises(ValidationError):
        _load(tmp_path, entry)


@pytest.mark.parametrize("source", ["", "  ", " 생활폐기물 분리배출 누리집"])
def test_a_blank_or_padded_source_is_rejected(tmp_path: Path, source: str) -> None:
    with pytest.raises(ValidationError):
        _load(tmp_path, _entry(source=source))


def test_a_source_outside_the_vocabulary_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vocabulary"):
        _load(tmp_path, _entry(source="어느 블로그"))


@pytest.mark.parametrize(
    ("second", "field"),
    [
        ({"name_ko": "다른 품목", "name_en": "other item"}, "ids"),
        ({"id": "other-item", "name_en": "other item"}, "Korean names"),
        ({"id": "other-item", "name_ko": "다른 품목", "name_en": "Test Item"}, "English names"),
    ],
)
def test_duplicates_are_rejected(tmp_path: Path, second: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"duplicate item {field}"):
        _load(tmp_path, _entry(), _entry(**second))


def test_a_valid_file_loads(tmp_path: Path) -> None:
    _load(tmp_path, _entry(), _entry(id="other-item", name_ko="다른 품목", name_en="other item"))
