"""Image generation."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import GeneratedImage


class ImageGeneratorPort(ABC):
    @abstractmethod
    async def generate(self, prompt: str) -> GeneratedImage: ...
