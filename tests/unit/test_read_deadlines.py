"""ReadDeadlines overrides uvicorn's httptools protocol: the hooks it overrides, and the
attributes it reads, must still be uvicorn's (a rename would silently disarm the deadlines)."""

from __future__ import annotations

import inspect

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.entrypoints.gateway.read_deadlines import ReadDeadlines, read_deadlines

HOOKS = (
    "connection_made",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
    "connection_lost",
)


def test_every_overridden_hook_is_uvicorns_with_its_signature() -> None:
    for name in HOOKS:
        ours, theirs = getattr(ReadDeadlines, name), getattr(HttpToolsProtocol, name)
        assert ours is not theirs, name
        assert inspect.signature(ours) == inspect.signature(theirs), name


def test_the_attributes_it_reads_are_set_by_uvicorn() -> None:
    source = inspect.getsource(HttpToolsProtocol)
    for attribute in ("self.loop =", "self.transport =", "self.client ="):
        assert attribute in source, attribute


def test_each_gateway_gets_its_own_deadlines() -> None:
    fast, slow = read_deadlines(1, 2), read_deadlines(10, 120)
    assert (fast.header_seconds, fast.body_seconds) == (1, 2)
    assert (slow.header_seconds, slow.body_seconds) == (10, 120)
    assert issubclass(fast, ReadDeadlines) and ReadDeadlines.header_seconds == 10.0
