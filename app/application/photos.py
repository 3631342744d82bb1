"""A photo reference in a chat: `upload:<name>` or the gateway's photo path
(`/api/v1/images/{channel}/{name}`) for one the gateway keeps, else a URL."""

from __future__ import annotations

import base64
import re

from app.application.ports.stores import PhotoStorePort
from app.domain.chat import PHOTO_PATH
from app.domain.errors import DomainError

UPLOAD = re.compile(r"^upload:([0-9a-f]{32}\.(?:png|jpeg|webp))$")
# The cdn_url as the gateway gives it (absolute, on its own origin) or as a path; the origin is
# not looked at: the photo is read from the store, never fetched.
OWNED = re.compile(rf"^(?:https?://[^/?#\s]+)?{PHOTO_PATH}$")  # groups: channel, name, extension
# What an upload may be, by its first bytes: a MIME type claimed is not believed.
SIGNATURES = {"image/png": (b"\x89PNG\r\n\x1a\n",), "image/jpeg": (b"\xff\xd8\xff",)}


class PhotoUnavailable(DomainError):
    """The uploaded photo expired (or never existed): attach it again."""


def sniffed(data: bytes) -> str | None:
    """The image type the bytes really are (png, jpeg, webp), or None."""
    for mime, heads in SIGNATURES.items():
        if data.startswith(heads):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def upload_name(url: str | None) -> str | None:
    """The photo store's name for a photo the gateway keeps, in either form; None for a URL."""
    if owned := owned_photo(url):
        return owned[1]
    match = UPLOAD.match(url or "")
    return match.group(1) if match else None


def owned_photo(url: str | None) -> tuple[str, str] | None:
    """(channel, name) of a photo kept for its owner (`cdn_url`), else None."""
    match = OWNED.match(url or "")
    return (match.group(1), match.group(2)) if match else None


def photo_path(channel: str, name: str) -> str:
    """The path of an owned photo's `cdn_url`: the gateway serves it to its owner alone."""
    return f"/api/v1/images/{channel}/{name}"


async def usable_image_url(url: str, photos: PhotoStorePort | None) -> str:
    """What a model can be given: an uploaded photo as a data URL; any other URL as it is."""
    name = upload_name(url)
    if name is None:
        return url
    found = await photos.load(name) if photos is not None else None
    if found is None:
        raise PhotoUnavailable("the photo is no longer available; attach it again")
    data, mime = found
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
