"""Per-principal limits: requests per minute, tokens per day, and a daily cost budget."""

from __future__ import annotations

from abc import ABC, abstractmethod

from app.domain.llm import TokenUsage, UsageLimits


class UsageLimiterPort(ABC):
    @abstractmethod
    async def admit(self, principal: str) -> None:
        """Count one request; raise LimitExceeded (with retry_after) when over a limit."""

    @abstractmethod
    async def remaining(self, principal: str) -> UsageLimits:
        """What the principal may still spend today (None where there is no limit)."""

    @abstractmethod
    async def record(self, principal: str, usage: TokenUsage) -> None:
        """Add a finished chat's tokens and cost to the principal's day."""
