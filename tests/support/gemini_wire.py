"""A loopback server speaking the Gemini API's generateContent / streamGenerateContent format."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.openai_wire import TINY_PNG
from tests.support.wire_script import WireApp, WireRequest, fill_schema, send_json, send_sse

CHUNK_SIZE = 5


class GeminiWire(WireApp):
    """ASGI app for POST /{version}/models/{model}:generateContent (and :streamGenerateContent)."""

    async def handle(self, wire: WireRequest, send: Any) -> None:
        model, _, method = wire.path.rpartition("/models/")[2].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            await send_json(send, 404, _error(404, "NOT_FOUND", "no such method"), {})
            return
        request = json.loads(wire.body)
        self.script.requests.append(
            {"path": wire.path, "query": wire.query, "headers": wire.headers, "json": request}
        )
        if not wire.headers.get("x-goog-api-key"):
            await send_json(send, 403, _error(403, "PERMISSION_DENIED", "API key missing"), {})
            return
        if await self.scripted_failure(send):
            return
        parts = self.answer(request)
        if method == "streamGenerateContent":
            await send_sse(send, list(_chunks(model, request, parts)))
        else:
            await send_json(send, 200, json.dumps(_response(model, request, parts)).encode(), {})

    def answer(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        user = _last_user_text(request.get("contents", []))
        config = request.get("generationConfig") or {}
        if "IMAGE" in (config.get("responseModalities") or []):
            png = base64.b64encode(TINY_PNG).decode()
            return [{"inlineData": {"mimeType": "image/png", "data": png}}]
        if config.get("responseMimeType") == "application/json":
            schema = config.get("responseJsonSchema") or config.get("responseSchema") or {}
            return [{"text": json.dumps(fill_schema(schema, user))}]
        tools = [
            declaration
            for tool in request.get("tools") or []
            for declaration in tool.get("functionDeclarations") or []
        ]
        mode = ((request.get("toolConfig") or {}).get("functionCallingConfig") or {}).get("mode")
        if tools and mode != "NONE":
            # Proto3 JSON: the API accepts lowerCamel and original (snake_case) field names.
            declaration = tools[0]
            schema = (
                declaration.get("parametersJsonSchema")
                or declaration.get("parameters_json_schema")
                or declaration.get("parameters")
                or {}
            )
            return [{"functionCall": {"name": tools[0]["name"], "args": fill_schema(schema, user)}}]
        return [{"text": self.script.reply_text or f"echo: {user}"}]


def _last_user_text(contents: list[dict[str, Any]]) -> str:
    for content in reversed(contents):
        if content.get("role", "user") == "user":
            texts = [part["text"] for part in content.get("parts", []) if "text" in part]
            if texts:
                return " ".join(texts)
    return ""


def _usage(request: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, int]:
    prompt = len(json.dumps(request.get("contents", []))) // 4 + 1
    output = len(json.dumps(parts)) // 4 + 1
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output,
    }


def _response(model: str, request: dict[str, Any], parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": _usage(request, parts),
        "modelVersion": model,
    }


def _chunks(model: str, request: dict[str, Any], parts: list[dict[str, Any]]) -> Any:
    text = "".join(part.get("text", "") for part in parts)
    pieces = [text[i : i + CHUNK_SIZE] for i in range(0, len(text), CHUNK_SIZE)] or [""]
    for index, piece in enumerate(pieces):
        chunk: dict[str, Any] = {
            "candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}],
            "modelVersion": model,
        }
        if index == len(pieces) - 1:
            chunk["candidates"][0]["finishReason"] = "STOP"
            chunk["usageMetadata"] = _usage(request, parts)
        yield b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n"


def _error(code: int, status: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()


def gemini_error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}
