"""Reading the public datasets people download from the data portal (CSV, UTF-8 or CP949)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from app.domain.errors import ConfigurationError


def read_table(path: Path, required: set[str]) -> list[dict[str, str]]:
    """Rows as dicts; the error names the file and the missing columns."""
    if not path.is_file():
        raise ConfigurationError(f"{path} does not exist (set its path in config)")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp949"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ConfigurationError(f"{path} is neither UTF-8 nor CP949 text")
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = set(rows[0]) if rows else set()
    missing = required - columns
    if missing:
        raise ConfigurationError(f"{path} lacks columns {sorted(missing)}; found {sorted(columns)}")
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in rows]


def matches(query: str, name: str) -> bool:
    """Either contains the other, ignoring spaces ('3인용 소파' ~ '소파')."""
    q, n = "".join(query.split()), "".join(name.split())
    return bool(q and n) and (n in q or q in n)
