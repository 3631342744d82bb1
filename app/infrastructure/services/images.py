"""Image generation through the container's OpenAI or Gemini client; the images go to a store."""

from __future__ import annotations

import base64
from typing import Any

from app.application.ports.llm import MalformedResponse
from app.application.ports.tools import ImageGeneratorPort
from app.domain.errors import DomainError
from app.domain.tools import GeneratedImage
from app.infrastructure.services.image_store import ImageStore


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
        from app.infrastructure.llm.openai_errors import translate_error

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
