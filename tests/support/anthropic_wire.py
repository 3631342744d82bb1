"""A loopback server speaking Anthropic's Messages API (JSON and SSE events)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.wire_script import WireApp, WireRequest, fill_schema, send_json, send_sse


class AnthropicWire(WireApp):
    """ASGI app for POST /v1/messages: echoes, fills tool input schemas, streams events."""

    async def handle(self, wire: WireRequest, send: Any) -> None:
        request = json.loads(wire.body)
        self.script.requests.append({"path": wire.path, "headers": wire.headers, "json": request})
        # API versions before 2026 sent x-api-key; anthropic 2.x sends a bearer token.
        auth = wire.headers.get("x-api-key") or wire.headers.get("authorization", "")
        if not auth or auth == "Bearer ":
            await send_json(send, 401, anthropic_error("authentication_error", "no key"), {})
            return
        if await self.scripted_failure(send):
            return
        content = self.answer(request)
        usage = {
            "input_tokens": len(wire.body) // 4 + 1,
            "output_tokens": len(json.dumps(content)) // 4 + 1,
        }
        if request.get("stream"):
            await send_sse(send, list(_events(request, content, usage)))
            return
        message = {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": content,
            "stop_reason": "tool_use" if content[0]["type"] == "tool_use" else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        await send_json(send, 200, json.dumps(message).encode(), {})

    def answer(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        user = _last_user_text(request["messages"])
        output_format = (request.get("output_config") or {}).get("format") or {}
        if output_format.get("type") == "json_schema":
            return [
                {"type": "text", "text": json.dumps(fill_schema(output_format["schema"], user))}
            ]
        tools = request.get("tools") or []
        choice = request.get("tool_choice") or {"type": "auto"}
        if tools and choice.get("type") != "none":
            tool = next((t for t in tools if t["name"] == choice.get("name")), tools[0])
            return [
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": tool["name"],
                    "input": fill_schema(tool["input_schema"], user),
                }
            ]
        return [{"type": "text", "text": f"echo: {user}"}]


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, str):
                return content
            return " ".join(block.get("text", "") for block in content if block["type"] == "text")
    return ""


def _events(request: dict[str, Any], content: list[dict[str, Any]], usage: dict[str, int]) -> Any:
    text = content[0].get("text", "")
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_test",
            "type": "message",
            "role": "assistant",
            "model": request["model"],
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
        },
    }
    yield _event(start)
    yield _event(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    )
    for i in range(0, len(text), 4):
        delta = {"type": "text_delta", "text": text[i : i + 4]}
        yield _event({"type": "content_block_delta", "index": 0, "delta": delta})
    yield _event({"type": "content_block_stop", "index": 0})
    yield _event(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
    )
    yield _event({"type": "message_stop"})


def _event(payload: dict[str, Any]) -> bytes:
    return f"event: {payload['type']}\ndata: {json.dumps(payload)}\n\n".encode()


def anthropic_error(kind: str, message: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()
