"""Where generated images live (a local folder, or Redis with a TTL) until the gateway serves
them at /v1/images/{name}."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, Protocol

from app.application.ports.stores import OwnedPhotoStorePort, PhotoStorePort
from app.application.retry import RetryPolicy
from app.infrastructure.redis_jobs import keys
from app.infrastructure.redis_jobs.publisher import REDIS_DOWN
from app.settings.services import ImageServiceSettings

NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpeg|webp)$")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


class ImageStore(Protocol):
    async def save(self, data: bytes, mime: str) -> str: ...

    async def load(self, name: str) -> tuple[bytes, str] | None: ...


class LocalImageStore:
    def __init__(self, directory: Path) -> None:
        self._directory = directory

    async def save(self, data: bytes, mime: str) -> str:
        self._directory.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}.{EXTENSIONS.get(mime, 'png')}"
        (self._directory / name).write_bytes(data)
        return name

    async def load(self, name: str) -> tuple[bytes, str] | None:
        if not NAME.match(name):  # never a path from the URL
            return None
        path = self._directory / name
        if not path.is_file():
            return None
        return path.read_bytes(), f"image/{name.rsplit('.', 1)[1]}"


class RedisImageStore(PhotoStorePort):
    """Images in Redis with a TTL: generated ones (eco2:image:) and uploaded photos
    (eco2:upload:), which the gateway and the workers both reach wherever they run.

    In a chat (`retry` given) a Redis outage is waited out: both steps are safe to repeat (a
    write under a new name, a read). The gateway answers at once instead (no `retry`)."""

    def __init__(
        self,
        redis: Any,
        ttl_seconds: int,
        *,
        prefix: str = keys.IMAGES,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._prefix = prefix
        self._retry = retry or RetryPolicy(attempts=1)

    async def save(self, data: bytes, mime: str) -> str:
        name = f"{uuid.uuid4().hex}.{EXTENSIONS.get(mime, 'png')}"
        await self._retry.run(
            lambda: self._redis.set(f"{self._prefix}{name}", data, ex=self._ttl),
            transient=REDIS_DOWN,
            what="images.save",
        )
        return name

    async def load(self, name: str) -> tuple[bytes, str] | None:
        if not NAME.match(name):
            return None
        data = await self._retry.run(
            lambda: self._redis.get(f"{self._prefix}{name}"),
            transient=REDIS_DOWN,
            what="images.load",
        )
        return (bytes(data), f"image/{name.rsplit('.', 1)[1]}") if data else None


class RedisOwnedPhotos(RedisImageStore, OwnedPhotoStorePort):
    """Uploaded photos with their owners: the bytes where every uploaded photo is (the workers
    read them by name), the owner beside them with the same TTL."""

    def __init__(self, redis: Any, ttl_seconds: int) -> None:
        super().__init__(redis, ttl_seconds, prefix=keys.UPLOADS)

    async def put(self, name: str, channel: str, owner: str, data: bytes, mime: str) -> bool:
        if not NAME.match(name):
            return False
        # The owner claims the name first (NX): of two writers one wins, and a photo is never
        # readable without its owner (the bytes come second).
        claimed = await self._redis.set(
            f"{keys.UPLOAD_OWNERS}{name}", f"{channel} {owner}", nx=True, ex=self._ttl
        )
        if not claimed:
            return False
        await self._redis.set(f"{keys.UPLOADS}{name}", data, ex=self._ttl)
        return True

    async def owner(self, name: str) -> tuple[str, str] | None:
        if not NAME.match(name):
            return None
        found = await self._redis.get(f"{keys.UPLOAD_OWNERS}{name}")
        if not found:
            return None
        channel, _, principal = bytes(found).decode().partition(" ")
        return channel, principal


def photo_store(redis: Any, ttl_seconds: int, retry: RetryPolicy | None = None) -> PhotoStorePort:
    return RedisImageStore(redis, ttl_seconds, prefix=keys.UPLOADS, retry=retry)


def image_store(
    settings: ImageServiceSettings, redis: Any, retry: RetryPolicy | None = None
) -> ImageStore:
    if settings.storage == "redis":
        return RedisImageStore(redis, settings.ttl, retry=retry)
    return LocalImageStore(settings.directory)
