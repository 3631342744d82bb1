"""JSON for arq's jobs and results, never pickle: data from Redis must not be able to run code.

arq pickles by default, so anyone who can write `arq:job:*` or `arq:result:*` would run code
in every worker and gateway that reads them. JSON can only ever give back plain data.
"""

from __future__ import annotations

import json
from typing import Any


def _plain(value: Any) -> Any:
    # arq stores the exception of a failed job as its result; keep only its kind.
    if isinstance(value, BaseException):
        return {"error": type(value).__name__}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    return json.dumps(value, default=_plain, ensure_ascii=False, separators=(",", ":")).encode()


def loads(raw: bytes) -> Any:
    return json.loads(raw)
