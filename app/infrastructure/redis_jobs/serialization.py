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


# arq's envelope of a job and of a result, and the type each field must have. arq does
# arithmetic on `et` and `t` before it runs the job (the max-tries check, the job's context):
# a string there raised inside arq on every try, so the job was picked again each time its
# lease lapsed (every 10 s for as long as the job key lived) and max tries never applied.
# (`t` is None in a job nobody gave a try count.)
ENVELOPE: dict[str, type | tuple[type, ...]] = {
    "f": str,
    "a": list,
    "k": dict,
    "t": (int, type(None)),
    "et": int,
}


def loads(raw: bytes) -> Any:
    """JSON, and arq's envelope fields of the right type: anything else is unreadable (arq
    ends such a job at once as a DeserializationError: one `error` event, never a retry)."""
    value = json.loads(raw)
    if isinstance(value, dict):
        for name, kind in ENVELOPE.items():
            field = value.get(name)
            if name in value and (not isinstance(field, kind) or isinstance(field, bool)):
                raise ValueError(f"arq's {name!r} is a {type(field).__name__}")
    return value
