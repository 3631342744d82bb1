"""The offline provider: deterministic, no network, answers only from the given context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.application.context_window import estimate_tokens
from app.application.ports.llm import MalformedResponse, ToolChoice
from app.domain.errors import DomainError
from app.domain.llm import (
    ChatMessage,
    ContextBlock,
    Role,
    TokenUsage,
    ToolCall,
    ToolReply,
    ToolSpec,
)
from app.infrastructure.llm.base import LLMAdapter
from app.infrastructure.llm.offline_text import best_passages, is_korean, overlap, terms

# Given the messages and the schema asked for (a subclass of the one it was registered for).
StructuredResponder = Callable[[list[ChatMessage], type[BaseModel]], BaseModel]


class OfflineLLMClient(LLMAdapter):
    """Extractive answers from the context blocks and tool messages; structured output from
    registered rules.

    `responders` maps our own schemas to deterministic producers (the intent classifier
    registers its lexicon there), which also answer for their subclasses; any other schema is
    filled from its JSON Schema.
    """

    def __init__(
        self, responders: Mapping[type[BaseModel], StructuredResponder] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(provider="offline", **kwargs)
        self._responders = dict(responders or {})

    def _with_context(
        self, messages: list[ChatMessage], context: Sequence[ContextBlock]
    ) -> list[ChatMessage]:
        """Nothing rendered: the blocks reach `_complete` and `_stream` as they are."""
        return messages

    async def _complete(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> tuple[str, TokenUsage]:
        answer = compose_answer(messages, context)
        return answer, _usage(messages, answer, context)

    async def _structured(
        self, messages: list[ChatMessage], schema: type[BaseModel], temperature: float
    ) -> tuple[str | dict[str, Any], TokenUsage]:
        mine = [self._responders[c] for c in schema.__mro__ if c in self._responders]
        responder = mine[0] if mine else None
        if responder is not None:
            produced = responder(messages, schema).model_dump(mode="json")
        else:
            produced = synthesize(schema.model_json_schema(), _question(messages))
        return produced, _usage(messages, str(produced))

    async def _stream(
        self,
        messages: list[ChatMessage],
        temperature: float,
        max_tokens: int,
        context: Sequence[ContextBlock],
    ) -> AsyncIterator[str | TokenUsage]:
        answer = compose_answer(messages, context)
        # A line at a time: the whole answer exists already, so words would only multiply
        # the events a reader gets without showing it any sooner.
        for line in answer.splitlines(keepends=True):
            yield line
        yield _usage(messages, answer, context)

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


def compose_answer(messages: list[ChatMessage], context: Sequence[ContextBlock] = ()) -> str:
    """Extract the answer from the context the caller gave; never add anything of our own.

    Lookups are the context blocks and tool messages: what was found for this question is kept
    whole, a reference (a guide) gives only its passages that match the question. The system
    prompt instructs a model; it is never quoted. That no model wrote it is said beside the
    text (the `done` event's and the stored message's `provider`), not in it.
    """
    question = _question(messages)
    korean = is_korean(question)
    found = [
        line for material in materials(messages, context) for line in material.extract(question)
    ]
    if not found:
        return (
            "참고 자료에서 이 질문에 맞는 내용을 찾지 못했습니다. 실제 언어 모델을 쓰려면 "
            "llm.provider를 openai 또는 gemini로 설정하세요."
            if korean
            else "The reference material holds nothing that matches this question. To use a real "
            "language model, set llm.provider to openai or gemini."
        )
    return "\n".join(dict.fromkeys(found))


@dataclass(frozen=True)
class Material:
    """Lines to answer from: what a lookup found for this question (said whole), or a
    reference text (quoted only where it matches the question)."""

    lines: list[str]
    lookup: bool

    def extract(self, question: str) -> list[str]:
        if self.lookup:
            return self.lines
        return best_passages(question, self.lines, limit=8)


def materials(messages: list[ChatMessage], context: Sequence[ContextBlock]) -> list[Material]:
    """What the blocks found, leads first (a yes or a no opens the answer), then the tool
    messages. An item's decisive steps are never cut."""
    entries = [entry for block in context for entry in block.entries]
    ordered = [e for e in entries if e.role == "lead"] + [e for e in entries if e.role != "lead"]
    found = [
        Material(_lines(entry.text_lines()), lookup=entry.role != "reference") for entry in ordered
    ]
    found += [Material(_lines([m.content]), lookup=True) for m in messages if m.role is Role.TOOL]
    # System messages are instructions to a model, never material to quote from.
    return [m for m in found if m.lines]


def _lines(texts: Iterable[str]) -> list[str]:
    return [line.strip() for text in texts for line in text.splitlines() if line.strip()]


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


def _usage(
    messages: list[ChatMessage], answer: str, context: Sequence[ContextBlock] = ()
) -> TokenUsage:
    prompt = sum(estimate_tokens(m.content) for m in messages)
    prompt += sum(estimate_tokens(line) for block in context for line in block.text_lines())
    return TokenUsage(prompt_tokens=prompt, completion_tokens=estimate_tokens(answer), calls=1)
