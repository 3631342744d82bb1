"""The autouse guard: no test can reach a host off this machine."""

from __future__ import annotations

import socket

import pytest

from app.infrastructure.http import LIBRARIES
from tests.conftest import PublicHostBlocked


def test_public_names_are_not_resolved() -> None:
    with pytest.raises(PublicHostBlocked):
        socket.getaddrinfo("api.openai.com", 443)


def test_public_addresses_are_not_connected() -> None:
    with socket.socket() as sock, pytest.raises(PublicHostBlocked):
        sock.connect(("8.8.8.8", 53))


@pytest.mark.parametrize("library", sorted(LIBRARIES))
async def test_sdk_style_requests_fail_fast(library: str) -> None:
    lib = LIBRARIES[library].module  # the pool runs on either
    async with lib.AsyncClient() as client:
        with pytest.raises(lib.ConnectError, match="network guard"):
            await client.get("https://generativelanguage.googleapis.com/v1beta/models")


def test_loopback_is_allowed() -> None:
    assert socket.getaddrinfo("127.0.0.1", 6379)
