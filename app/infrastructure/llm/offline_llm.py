"""The offline provider: deterministic, no network, answers only from the given context."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from pydantic import BaseModel

from app.application.context_window import estimate_tokens
from app.application.ports.llm import ToolChoice
from app.domain.errors import DomainError, MalformedResponse
from app.domain.llm import ChatMessage, Role, TokenUsage, ToolCall, ToolReply, ToolSpec
from app.infrastructure.llm.base import LLMAdapter
from app.infrastructure.llm.offline_text import best_passages, is_korean, overlap, terms

StructuredResponder = Callable[[list[ChatMessage]], BaseModel]
LABEL_KO = "[오프라인 답변 · 언어 모델 없이 참고 자료에서 발췌했습니다]"
LABEL_EN = "[Offline answer · extracted from reference material, no language model used]"
BLOCK = re.compile(r"^### ", re.M)
WHOLE_BLOCK_LINES = 12  # a lookup this short was fetched for the question: keep it whole


class OfflineLLMClient(LLMAdapter):
    """Extractive answers from system/tool context; structured output from registered rules.

    `responders` maps our own schemas to deterministic producers (the intent classifier
    registers its lexicon there); any other schema is filled from its JSON Schema.
    """

    def __init__(
        self, responders: Mapping[type[BaseModel], StructuredResponder] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(provider="offline", **kwargs)
        self._responders = dict(responders or {})

    async def _complete(
        self, messages: list[ChatMessage], temperature: float, max_tokens: int
    ) -> tuple[str, TokenUsage]:
        answer = compose_answer(messages)
        return answer, _usage(messages, answer)

    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]:
        responder = self._responders.get(schema)
        if responder is not None:
            produced = responder(messages).model_dump(mode="json")
        else:
            produced = synthesize(schema.model_json_schema(), _question(messages))
        return produced, _usage(messages, str(produced))

    async def _stream(
        self, messages: list[ChatMessage], temperature: float, max_tokens: int
    ) -> AsyncIterator[str | TokenUsage]:
        answer = compose_answer(messages)
        for index, word in enumerate(answer.split(" ")):
            yield word if index == 0 else f" {word}"
        yield _usage(messages, answer)

    async def _tools(
        self, messages: list[ChatMessage], tools: list[ToolSpec], tool_choice: ToolChoice
    ) -> ToolReply:
        question = _question(messages)
        tool = choose_tool(question, tools, required=tool_choice == "required")
        if tool is None or tool_choice == "none":
            answer = compose_answer(messages)
            return ToolReply(text=answer, usage=_usage(messages, answer))
        arguments = synthesize(tool.parameters, question)
        call = ToolCall(id=f"offline_{tool.name}", name=tool.name, arguments=arguments)
        return ToolReply(tool_calls=(call,), usage=_usage(messages, str(arguments)))

    def _translate(self, exc: Exception) -> DomainError:
        return MalformedResponse(f"{type(exc).__name__}: {exc}", provider=self.provider)


def compose_answer(messages: list[ChatMessage]) -> str:
    """Extract the answer from the context the caller gave; never add anything of our own.

    Context is the system and tool messages. A system message may carry `### name` blocks
    (one per lookup): short blocks were fetched for this question and are kept whole, long
    ones (a reference guide) give only their passages that match the question.
    """
    question = _question(messages)
    korean = is_korean(question)
    blocks = context_blocks(messages)
    found = [line for block in blocks for line in _from_block(question, block)]
    label = LABEL_KO if korean else LABEL_EN
    if not found:
        missing = (
            "참고 자료에서 이 질문에 맞는 내용을 찾지 못했습니다. 실제 언어 모델을 쓰려면 "
            "llm.provider를 openai 또는 gemini로 설정하세요."
            if korean
            else "The reference material holds nothing that matches this question. To use a real "
            "language model, set llm.provider to openai or gemini."
        )
        return f"{label}\n{missing}"
    return label + "\n" + "\n".join(dict.fromkeys(found))


def context_blocks(messages: list[ChatMessage]) -> list[tuple[bool, str]]:
    """(is_lookup, text) per block: `### ` sections of system messages, and tool messages."""
    blocks: list[tuple[bool, str]] = []
    for message in messages:
        if message.role is Role.TOOL and message.content:
            blocks.append((True, message.content))
        elif message.role is Role.SYSTEM and message.content:
            head, *sections = BLOCK.split(message.content)
            blocks.append((False, head))
            blocks.extend((True, section.partition("\n")[2]) for section in sections)
    lookups = [b for b in blocks if b[0] and b[1].strip()]
    return lookups or [b for b in blocks if b[1].strip()]


def _from_block(question: str, block: tuple[bool, str]) -> list[str]:
    is_lookup, text = block
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if is_lookup and len(lines) <= WHOLE_BLOCK_LINES:
        return lines
    return best_passages(question, text, limit=16 if is_lookup else 8)


def choose_tool(question: str, tools: list[ToolSpec], *, required: bool) -> ToolSpec | None:
    """The tool whose name and description share the most terms with the question."""
    if not tools:
        return None
    query = terms(question)
    scored = [
        (overlap(query, f"{t.name.replace('_', ' ')} {t.description}"), -i, t)
        for i, t in enumerate(tools)
    ]
    score, _, tool = max(scored, key=lambda item: (item[0], item[1]))
    return tool if score > 0 or required else None


def synthesize(schema: dict[str, Any], question: str, defs: dict[str, Any] | None = None) -> Any:
    """A valid instance of a JSON Schema, filled deterministically from the question."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return synthesize(defs[schema["$ref"].rsplit("/", 1)[-1]], question, defs)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        query = terms(question)
        return max(schema["enum"], key=lambda v: (overlap(query, str(v)), -schema["enum"].index(v)))
    for union in ("anyOf", "oneOf"):
        if union in schema:
            options = [o for o in schema[union] if o.get("type") != "null"] or schema[union]
            return synthesize(options[0], question, defs)
    return _synthesize_type(schema, question, defs)


def _synthesize_type(schema: dict[str, Any], question: str, defs: dict[str, Any]) -> Any:
    kind = schema.get("type", "object")
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        return {name: synthesize(prop, question, defs) for name, prop in properties.items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return question.strip()


def _question(messages: list[ChatMessage]) -> str:
    return next((m.content for m in reversed(messages) if m.role is Role.USER), "")


def _usage(messages: list[ChatMessage], answer: str) -> TokenUsage:
    prompt = sum(estimate_tokens(m.content) for m in messages)
    return TokenUsage(prompt_tokens=prompt, completion_tokens=estimate_tokens(answer), calls=1)
