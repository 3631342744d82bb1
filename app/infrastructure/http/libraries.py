"""The two libraries the shared pool runs on: httpx, and httpx2 (pydantic's drop-in fork)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TypeAlias

import httpx
import httpx2

from app.settings import HttpClientLibrary

# What code outside this package holds: either library's client and responses. The two
# share one API, so adapters call them alike.
SharedClient: TypeAlias = httpx.AsyncClient | httpx2.AsyncClient
SharedResponse: TypeAlias = httpx.Response | httpx2.Response

# Either library's failures, for adapters that translate transport errors into ours: the
# pool may run on either, and the SDKs raise theirs through it.
TIMEOUT_ERRORS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx2.TimeoutException)
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.TransportError, httpx2.TransportError)


@dataclass(frozen=True)
class HttpLibrary:
    """One library under the pool. httpx2 keeps httpx's names, so the pool and its transport
    are written once against `module`; what differs is the exception classes."""

    name: HttpClientLibrary
    module: ModuleType
    # "The connection went away", not "the server said no": a fresh connection fixes these.
    # Servers recycle connections (HTTP/2 GOAWAY after N requests, idle close); the pool then
    # fails requests that were queued or in flight on the dying connection.
    connection_lost: tuple[type[Exception], ...]
    # A refused connect: the server is down, not recycling.
    connect_error: type[Exception]
    # A connect (TCP or TLS handshake) that did not finish in time: nothing was sent, so it is
    # always safe to try again; under load it is how a replacement connection fails.
    connect_timeout: type[Exception]


LIBRARIES: Mapping[HttpClientLibrary, HttpLibrary] = {
    "httpx": HttpLibrary(
        name="httpx",
        module=httpx,
        connection_lost=(
            httpx.ConnectError,
            httpx.ReadError,
            httpx.WriteError,
            httpx.RemoteProtocolError,
            httpx.LocalProtocolError,
        ),
        connect_error=httpx.ConnectError,
        connect_timeout=httpx.ConnectTimeout,
    ),
    "httpx2": HttpLibrary(
        name="httpx2",
        module=httpx2,
        connection_lost=(
            httpx2.ConnectError,
            httpx2.ReadError,
            httpx2.WriteError,
            httpx2.RemoteProtocolError,
            httpx2.LocalProtocolError,
        ),
        connect_error=httpx2.ConnectError,
        connect_timeout=httpx2.ConnectTimeout,
    ),
}
