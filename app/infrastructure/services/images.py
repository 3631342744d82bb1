"""Image generation through the container's OpenAI or Gemini client; images are stored (local
directory or Redis with a TTL) and served by the gateway at /v1/images/{name}."""

from __future__ import annotations

import base64
import re
import uuid
from pathlib import Path
from typing import Any, Protocol

from app.application.ports.image_generator import ImageGeneratorPort
from app.domain.errors import DomainError, MalformedResponse
from app.domain.tools import GeneratedImage

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


class RedisImageStore:
    def __init__(self, redis: Any, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def save(self, data: bytes, mime: str) -> str:
        name = f"{uuid.uuid4().hex}.{EXTENSIONS.get(mime, 'png')}"
        await self._redis.set(f"eco2:image:{name}", data, ex=self._ttl)
        return name

    async def load(self, name: str) -> tuple[bytes, str] | None:
        if not NAME.match(name):
            return None
        data = await self._redis.get(f"eco2:image:{name}")
        return (bytes(data), f"image/{name.rsplit('.', 1)[1]}") if data else None


class OpenAIImageGenerator(ImageGeneratorPort):
    def __init__(
        self, client: Any, store: ImageStore, *, model: str, size: str, url_prefix: str
    ) -> None:
        self._client = client
        self._store = store
        self._model = model
        self._size = size
        self._prefix = url_prefix.rstrip("/")

    async def generate(self, prompt: str) -> GeneratedImage:
        from app.infrastructure.llm.openai_llm import translate_error

        try:
            response = await self._client.images.generate(
                model=self._model, prompt=prompt, size=self._size, n=1
            )
        except DomainError:
            raise
        except Exception as exc:
            raise translate_error(exc) from exc
        encoded = response.data[0].b64_json if response.data else None
        if not encoded:
            raise MalformedResponse("no image in the answer", provider="openai")
        name = await self._store.save(base64.b64decode(encoded), "image/png")
        return GeneratedImage(url=f"{self._prefix}/{name}", prompt=prompt)


class GeminiImageGenerator(ImageGeneratorPort):
    """An image model through generateContent (Imagen's generate_images is deprecated)."""

    def __init__(self, client: Any, store: ImageStore, *, model: str, url_prefix: str) -> None:
        self._client = client
        self._store = store
        self._model = model
        self._prefix = url_prefix.rstrip("/")

    async def generate(self, prompt: str) -> GeneratedImage:
        from google.genai import errors as genai_errors
        from google.genai import types

        from app.infrastructure.llm.errors import from_status, from_transport

        try:
            response = await self._client.aio.models.generate_content(
                model=self._model,
                contents=prompt,
                config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
            )
        except genai_errors.APIError as exc:
            raise from_status(exc.code or 500, str(exc.message), "gemini") from exc
        except Exception as exc:
            raise (
                from_transport(exc, "gemini") or MalformedResponse(str(exc), provider="gemini")
            ) from exc
        image = next(
            (
                part.inline_data
                for candidate in response.candidates or ()
                for part in (candidate.content.parts if candidate.content else None) or ()
                if part.inline_data and part.inline_data.data
            ),
            None,
        )
        if image is None or not image.data:
            raise MalformedResponse("no image in the answer", provider="gemini")
        name = await self._store.save(image.data, image.mime_type or "image/png")
        return GeneratedImage(url=f"{self._prefix}/{name}", prompt=prompt)
