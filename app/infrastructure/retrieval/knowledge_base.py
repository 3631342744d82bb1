"""The shipped knowledge base: waste items from Korea's separate-disposal guidelines."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml

from app.domain.waste import WasteItem

DATA = Path(__file__).with_name("data") / "waste_items.yaml"


@cache
def load_items(path: Path = DATA) -> tuple[WasteItem, ...]:
    """Parsed and validated once per process; a bad entry fails loudly with its id."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    items = tuple(WasteItem.model_validate(entry) for entry in raw)
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{path}: duplicate item ids {duplicates}")
    return items
