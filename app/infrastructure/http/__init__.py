"""The one shared HTTP pool (httpx or httpx2), and a transport that survives recycling."""

from app.infrastructure.http.libraries import (
    LIBRARIES,
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    HttpLibrary,
    SharedClient,
    SharedResponse,
)
from app.infrastructure.http.limit import AdaptiveLimit
from app.infrastructure.http.pool import build_http_client, http_client_resource, ssl_context
from app.infrastructure.http.transport import RecyclingSafeTransport

__all__ = [
    "LIBRARIES",
    "TIMEOUT_ERRORS",
    "TRANSPORT_ERRORS",
    "AdaptiveLimit",
    "HttpLibrary",
    "RecyclingSafeTransport",
    "SharedClient",
    "SharedResponse",
    "build_http_client",
    "http_client_resource",
    "ssl_context",
]
