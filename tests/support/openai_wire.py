"""A loopback server speaking OpenAI's chat-completions wire format (JSON and SSE)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from tests.support.wire_script import WireApp, WireRequest, fill_schema, send_json, send_sse

CHUNK_SIZE = 4
TINY_PNG = bytes.fromhex(  # a 1x1 transparent PNG
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class OpenAIWire(WireApp):
    """ASGI app: POST {base}/chat/completions and GET {base}/models, as the API documents them.

    The "model" echoes the last user message, fills any requested JSON schema, and calls the
    first (or the forced) tool with string arguments taken from the message.
    """

    async def handle(self, wire: WireRequest, send: Any) -> None:
        if wire.path.endswith("/models") and wire.method == "GET":
            await send_json(send, 200, json.dumps({"object": "list", "data": []}).encode(), {})
            return
        if wire.path.endswith("/images/generations") and wire.method == "POST":
            request = json.loads(wire.body)
            self.script.requests.append({"path": wire.path, "json": request})
            if await self.scripted_failure(send):
                return
            body = {"created": 1, "data": [{"b64_json": base64.b64encode(TINY_PNG).decode()}]}
            await send_json(send, 200, json.dumps(body).encode(), {})
            return
        if wire.path.endswith("/embeddings") and wire.method == "POST":
            await self._embeddings(wire, send)
            return
        if not wire.path.endswith("/chat/completions"):
            await send_json(send, 404, b'{"error": {"message": "not found"}}', {})
            return
        request = json.loads(wire.body)
        self.script.requests.append({"path": wire.path, "headers": wire.headers, "json": request})
        if not wire.headers.get("authorization", "").startswith("Bearer "):
            await send_json(send, 401, _error("missing key", "invalid_api_key"), {})
            return
        if await self.scripted_failure(send):
            return
        message = self.answer(request)
        if request.get("stream"):
            await send_sse(send, list(_chunks(request, message)), self.script.chunk_delay)
        else:
            await send_json(send, 200, json.dumps(_completion(request, message)).encode(), {})

    async def _embeddings(self, wire: WireRequest, send: Any) -> None:
        request = json.loads(wire.body)
        self.script.requests.append({"path": wire.path, "headers": wire.headers, "json": request})
        if await self.scripted_failure(send):
            return
        texts = request["input"] if isinstance(request["input"], list) else [request["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": hashed_embedding(text)}
            for i, text in enumerate(texts)
        ]
        body = {
            "object": "list",
            "data": data,
            "model": request["model"],
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        }
        await send_json(send, 200, json.dumps(body).encode(), {})

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        user = _last_user_text(request["messages"])
        text = self.script.reply_text or f"echo: {user}"
        fmt = request.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return {
                "role": "assistant",
                "content": json.dumps(fill_schema(fmt["json_schema"]["schema"], user)),
            }
        tools = request.get("tools") or []
        choice = request.get("tool_choice", "auto")
        if tools and choice != "none":
            tool = tools[0]["function"]
            if isinstance(choice, dict):
                tool = next(
                    t["function"]
                    for t in tools
                    if t["function"]["name"] == choice["function"]["name"]
                )
            arguments = fill_schema(tool.get("parameters", {}), user)
            return {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": tool["name"], "arguments": json.dumps(arguments)},
                    }
                ],
            }
        return {"role": "assistant", "content": text}


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message["role"] == "user":
            content = message["content"]
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            return str(content)
    return ""


def _usage(request: dict[str, Any], message: dict[str, Any]) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in request["messages"]) // 4 + 1
    completion = len(str(message.get("content") or message.get("tool_calls"))) // 4 + 1
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(request: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request["model"],
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(request, message),
    }


def _chunks(request: dict[str, Any], message: dict[str, Any]) -> Any:
    text = message.get("content") or ""
    base = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": request["model"],
    }
    first = {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
    yield _sse({**base, "choices": [first]})
    for start in range(0, len(text), CHUNK_SIZE):
        delta = {
            "index": 0,
            "delta": {"content": text[start : start + CHUNK_SIZE]},
            "finish_reason": None,
        }
        yield _sse({**base, "choices": [delta]})
    yield _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (request.get("stream_options") or {}).get("include_usage"):
        yield _sse({**base, "choices": [], "usage": _usage(request, message)})
    yield b"data: [DONE]\n\n"


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _error(message: str, code: str, kind: str = "invalid_request_error") -> bytes:
    return json.dumps(
        {"error": {"message": message, "type": kind, "param": None, "code": code}}
    ).encode()


def openai_error(message: str, code: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def hashed_embedding(text: str, dimensions: int = 64) -> list[float]:
    """A deterministic stand-in for a model: character bigrams hashed into a vector."""
    vector = [0.0] * dimensions
    compact = "".join(text.lower().split())
    for i in range(len(compact) - 1):
        digest = hashlib.blake2s(compact[i : i + 2].encode(), digest_size=4).digest()
        vector[int.from_bytes(digest, "big") % dimensions] += 1.0
    return vector


def openai_env(url: str) -> dict[str, str]:
    """A deployment's settings for chats through an OpenAIWire server at `url`: the SDK's own
    retries off, so what a test sees is the service's policy."""
    return {
        "LLM_DEFAULT_PROVIDER": "openai",
        "OPENAI_API_KEY": "sk-test-0123456789",
        "APP_LLM__OPENAI__BASE_URL": f"{url}/v1",
        "APP_LLM__MAX_RETRIES": "0",
    }
