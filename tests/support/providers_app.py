"""One loopback origin serving three wire formats, so the SDKs can share one connection."""

from __future__ import annotations

from typing import Any

from tests.support.anthropic_wire import AnthropicWire
from tests.support.gemini_wire import GeminiWire
from tests.support.openai_wire import OpenAIWire
from tests.support.wire_script import Script, lifespan


class ProvidersApp:
    """/v1/messages is Anthropic, /v1beta/... is Gemini, the rest of /v1/... is OpenAI."""

    def __init__(self) -> None:
        self.openai = OpenAIWire(Script())
        self.gemini = GeminiWire(Script())
        self.anthropic = AnthropicWire(Script())

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
        elif scope["path"].startswith("/v1beta/"):
            await self.gemini(scope, receive, send)
        elif scope["path"] == "/v1/messages":
            await self.anthropic(scope, receive, send)
        else:
            await self.openai(scope, receive, send)
