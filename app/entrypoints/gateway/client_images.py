"""The eco2 client's photos (`/api/v1/images`, ../shared/CLIENT_API.md "Photos"): ask for an
upload URL, PUT the bytes there, put `cdn_url` in a message. Wiring only: PhotoUploads decides.

The PUT carries no identity: its signed URL is the credential (as an S3 presigned URL is), so a
client on another origin needs no cookie for it. The GET is the owner's alone (cookie or key).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.application.photo_uploads import PhotoUploads
from app.application.photos import photo_path
from app.entrypoints.gateway.client_api import Caller
from app.entrypoints.gateway.routes import PHOTOS, errors

router = APIRouter(prefix="/api/v1/images", tags=["eco2 client"])
Channel = Literal["chat", "scan", "my"]
KEY = r"^[0-9a-f]{32}\.(png|jpeg|webp)$"
# The PUT's path, for the body limit (app.py): the photo limit, not the JSON bodies' one.
UPLOAD_PATH = r"^/api/v1/images/(chat|scan|my)/[^/]+/upload$"
ContentType = Literal["image/png", "image/jpeg", "image/webp"]


class ImageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(
        min_length=1,
        max_length=255,
        pattern=r"^[^/\\\x00-\x1f\x7f]+$",
        description="the photo's file name (no folders); only for the record",
    )
    content_type: ContentType = Field(description="what the PUT will send")
    uploader_id: str | None = Field(
        default=None, max_length=128, description="ignored: the photo's owner is the caller"
    )
    metadata: dict[str, Any] | None = Field(default=None, description="ignored")

    @field_validator("filename")
    @classmethod
    def _a_file(cls, value: str) -> str:
        if value.strip(".") == "":
            raise ValueError("a file name, not a folder")
        return value


class ImageUpload(BaseModel):
    key: str = Field(description="the photo's name (unguessable)")
    upload_url: str = Field(description="PUT the raw bytes here before `expires_in` runs out")
    cdn_url: str = Field(description="the photo, for its owner; send it as a message's image_url")
    expires_in: int = Field(description="seconds the upload_url works")
    required_headers: dict[str, str] = Field(description="headers the PUT must send")


class ImageStored(BaseModel):
    key: str = Field(description="the photo's name")
    cdn_url: str = Field(description="the photo, for its owner; a message's image_url")
    size: int = Field(description="bytes kept")


def uploads(request: Request) -> PhotoUploads:
    found: PhotoUploads = request.app.state.photo_uploads
    return found


def _url(request: Request, path: str) -> str:
    """Absolute, on this gateway: the client's page may live on another origin."""
    return str(request.base_url).rstrip("/") + path


@router.post(
    "/{channel}", response_model=ImageUpload, responses=errors(400, 401, 413, 422, 429, 503)
)
async def new_upload(
    channel: Channel, body: ImageRequest, request: Request, caller: Caller
) -> ImageUpload:
    """A presigned upload for one photo (png, jpeg or webp, at most gateway.max_upload_bytes).
    Counts against the caller's rate like a chat."""
    photos = uploads(request)
    key, signature = await photos.grant(caller, channel, body.content_type)
    return ImageUpload(
        key=key,
        upload_url=_url(request, f"/api/v1/images/{channel}/{key}/upload?sig={signature}"),
        cdn_url=_url(request, photo_path(channel, key)),
        expires_in=photos.expires_in,
        required_headers={"Content-Type": body.content_type},
    )


@router.put(
    "/{channel}/{key}/upload",
    response_model=ImageStored,
    responses=errors(
        403,
        409,
        413,
        415,
        422,
        429,
        503,
        _403="the upload URL is forged, altered or expired",
        _409="this upload URL was used already",
        _429="the principal's photos (or bytes) for the day are used up; see Retry-After",
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the photo's bytes, with the Content-Type the URL was made for",
            "content": {m: {"schema": {"type": "string", "format": "binary"}} for m in PHOTOS},
        }
    },
)
async def put_photo(
    channel: Channel,
    key: Annotated[str, Path(pattern=KEY)],
    request: Request,
    sig: Annotated[str | None, Query(max_length=1024)] = None,
) -> ImageStored:
    """The upload itself: the URL's grant decides who owns the photo (no cookie needed)."""
    photos = uploads(request)
    grant = photos.granted(channel, key, sig)  # before the body is read
    claimed = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data = await request.body()
    await photos.receive(grant, claimed, data)
    return ImageStored(key=key, cdn_url=_url(request, photo_path(channel, key)), size=len(data))


@router.get("/{channel}/{key}", response_class=Response, responses=errors(401, 404, 422, 503))
async def photo(
    channel: Channel, key: Annotated[str, Path(pattern=KEY)], request: Request, caller: Caller
) -> Response:
    """The photo, for its owner (cookie or key); 404 for anyone else, as for no photo."""
    data, mime = await uploads(request).photo(caller, channel, key)
    return Response(
        content=data,
        media_type=mime,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
