"""Bulky-waste rules and fees per district."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.tools import BulkWasteInfo


class BulkWasteClientPort(ABC):
    @abstractmethod
    async def lookup(self, item: str, district: str | None = None) -> list[BulkWasteInfo]: ...
