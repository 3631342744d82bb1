"""Image understanding."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import VisionResult


class VisionModelPort(ABC):
    """Says what item a photo shows, for disposal purposes."""

    @abstractmethod
    async def classify(self, image_url: str, question: str = "") -> VisionResult: ...
