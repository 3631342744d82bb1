"""Event ids: where an event sits in its job's stream, the SSE id a reader resumes after.

A stream entry holds one event or a batch of them (lua/publish.lua): the first event of entry
`E` has the id `E` (Redis's `<ms>-<n>`), the k-th further one `E.k`. Ids order as
(ms, n, k), numbers compared as numbers.
"""

from __future__ import annotations

import re

from app.domain.errors import UnknownEventId

EVENT_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})(?:\.([0-9]{1,2}))?")
LARGEST = 2**64 - 1  # each part of a Redis stream id is an unsigned 64-bit number


def position(event_id: str) -> tuple[int, int, int]:
    """(ms, n, k) of an id this module made or checked."""
    entry, _, k = event_id.partition(".")
    ms, _, n = entry.partition("-")
    return int(ms), int(n or 0), int(k or 0)


def after(a: str, b: str) -> bool:
    """Event id `a` comes after `b`."""
    return position(a) > position(b)


def entry_of(event_id: str) -> str:
    """The stream entry an event sits in."""
    return event_id.partition(".")[0]


def before(event_id: str) -> str:
    """A stream id just before the event's entry: reading after it reads that entry too."""
    ms, n, _ = position(event_id)
    if n > 0:
        return f"{ms}-{n - 1}"
    return f"{ms - 1}-{LARGEST}" if ms > 0 else "0-0"


def checked(event_id: str) -> str:
    """`event_id` spelled as this module spells it; UnknownEventId for anything that cannot
    be an event id (Redis would refuse its entry part: too large, malformed)."""
    found = EVENT_ID.fullmatch(event_id)
    if found is None or max(int(found.group(1)), int(found.group(2))) > LARGEST:
        raise UnknownEventId(f"{event_id[:48]!r} is not an event id of this stream")
    ms, n, k = position(event_id)
    return f"{ms}-{n}" if k == 0 else f"{ms}-{n}.{k}"
