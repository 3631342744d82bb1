"""Which image URLs the gateway hands to a model: https to public addresses (or a data URL),
unless the deployment allows more. A model fetching a URL on our behalf must not be pointed
at the deployment's own network (169.254.169.254, localhost, 10.0.0.0/8, ...)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from app.domain.errors import DomainError

Resolve = Callable[[str], Awaitable[list[str]]]  # host name -> its addresses


class ImageUrlRefused(DomainError):
    """The image URL points somewhere the gateway will not send a model."""


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_global and not ip.is_multicast


async def check_image_url(
    url: str, *, allow_http: bool, allow_private: bool, resolve: Resolve | None
) -> None:
    """Raise ImageUrlRefused unless the URL may be fetched by a model."""
    if url.startswith("data:"):
        return  # the bytes are in the request itself
    parts = urlsplit(url)
    if parts.scheme != "https" and not allow_http:
        raise ImageUrlRefused("image_url must use https")
    if allow_private:
        return
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise ImageUrlRefused("image_url must point to a public address") from None
        addresses = await resolve(host) if resolve is not None else []
    if not all(_is_public(a) for a in addresses):
        raise ImageUrlRefused("image_url must point to a public address")
