"""Vision over the LLM port: the multimodal model names the item in a photo."""

from __future__ import annotations

from pydantic import BaseModel

from app.application.ports.llm import LLMPort, VisionModelPort
from app.domain.llm import ChatMessage
from app.domain.tools import VisionResult

PROMPT = (
    "Look at the photo and name the one object the user wants to throw away, in Korean if the "
    "question is Korean. Give its disposal category, your confidence (0-1) and one sentence on "
    "its material and condition (dirty, broken, mixed materials)."
)


class LLMVisionModel(VisionModelPort):
    """Any multimodal LLM behind our port (OpenAI, Gemini and Anthropic take image URLs)."""

    def __init__(self, llm: LLMPort) -> None:
        self._llm = llm

    async def classify(self, image_url: str, question: str = "") -> VisionResult:
        message = ChatMessage.user(question or "What is this?", image_url=image_url)
        return await self._llm.generate_structured([message], VisionResult, system=PROMPT)


def offline_vision(messages: list[ChatMessage], schema: type[BaseModel]) -> VisionResult:
    """The offline provider cannot see; it says so instead of guessing."""
    return VisionResult(
        item_name="unknown",
        confidence=0.0,
        description="offline mode cannot analyse photos; name the item in words",
    )
