"""Conversation, tool and usage types that cross the LLM port."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.domain.language import Language


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class ToolCall(BaseModel):
    """A call the model asked for, with arguments already parsed from JSON."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ChatMessage(BaseModel):
    """One turn of a conversation. `name` names the tool for `Role.TOOL` messages."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    image_url: str | None = None

    @classmethod
    def system(cls, content: str) -> ChatMessage:
        return cls(role=Role.SYSTEM, content=content)

    @classmethod
    def user(cls, content: str, image_url: str | None = None) -> ChatMessage:
        return cls(role=Role.USER, content=content, image_url=image_url)

    @classmethod
    def assistant(cls, content: str, tool_calls: Sequence[ToolCall] = ()) -> ChatMessage:
        return cls(role=Role.ASSISTANT, content=content, tool_calls=tuple(tool_calls))

    @classmethod
    def tool_result(cls, call: ToolCall, content: str) -> ChatMessage:
        return cls(role=Role.TOOL, content=content, name=call.name, tool_call_id=call.id)


Prompt = str | Sequence[ChatMessage]


def as_messages(prompt: Prompt, system: str | None = None) -> list[ChatMessage]:
    """Normalise a bare string or a message list, prepending `system` when given."""
    messages = [ChatMessage.user(prompt)] if isinstance(prompt, str) else list(prompt)
    if system is not None:
        messages.insert(0, ChatMessage.system(system))
    return messages


class ContextEntry(BaseModel):
    """One thing a lookup found: a waste item, the places nearby, a forecast.

    An item's disposal `steps` are kept apart from its other `lines` (mistakes, notes), so a
    provider can always show the steps even when it shortens the rest.
    """

    model_config = ConfigDict(frozen=True)

    title: str = ""
    steps: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    # "lead": said first, before every other entry (the yes or no a question asked for);
    # "reference": a long text (a guide) that an answer quotes only in part.
    role: Literal["lead", "found", "reference"] = "found"

    def text_lines(self) -> list[str]:
        """The title as a heading, the steps as a list under it, then the other lines."""
        heading = [f"{self.title}:"] if self.title else []
        return [*heading, *(f"- {step}" for step in self.steps), *self.lines]


class ContextBlock(BaseModel):
    """What one lookup found for the question: the reference an answer is written from.

    `slot` names the lookup (`waste_rag#2`), `kind` the node that made it, `query` the
    sub-question it answers; `language` is the language its text was written in, when the
    lookup chose one.
    """

    model_config = ConfigDict(frozen=True)

    slot: str
    kind: str
    query: str = ""
    language: Language | None = None
    entries: tuple[ContextEntry, ...] = ()

    def text_lines(self) -> list[str]:
        return [line for entry in self.entries for line in entry.text_lines()]


class ToolSpec(BaseModel):
    """A function the model may call; `parameters` is a JSON Schema object."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class TokenUsage(BaseModel):
    """Tokens one call (or a sum of calls) consumed, and what they cost (USD, from the price
    table; 0 for a model the table does not list)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            calls=self.calls + other.calls,
            cost_usd=round(self.cost_usd + other.cost_usd, 8),
        )


class ModelPrice(BaseModel):
    """USD per million tokens, as the provider's price list gives it."""

    model_config = ConfigDict(frozen=True)

    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)

    def cost(self, usage: TokenUsage) -> float:
        return round(
            (
                usage.prompt_tokens * self.input_per_mtok
                + usage.completion_tokens * self.output_per_mtok
            )
            / 1_000_000,
            8,
        )


class UsageLimits(BaseModel):
    """What one chat may consume (pydantic-ai's UsageLimits, in spirit); None: no limit."""

    model_config = ConfigDict(frozen=True)

    max_tokens: int | None = Field(default=None, gt=0)
    max_cost_usd: float | None = Field(default=None, ge=0)

    def exceeded_by(self, usage: TokenUsage) -> str | None:
        """Which limit `usage` is over ('tokens' or 'cost'), or None."""
        if self.max_tokens is not None and usage.total_tokens > self.max_tokens:
            return "tokens"
        if self.max_cost_usd is not None and usage.cost_usd > self.max_cost_usd:
            return "cost"
        return None

    def tightened(self, *, tokens: int | None, cost_usd: float | None) -> UsageLimits:
        """These limits, no looser than what remains of a larger budget."""

        def least(a: float | None, b: float | None) -> float | None:
            return b if a is None else a if b is None else min(a, b)

        max_tokens = least(self.max_tokens, tokens)
        return UsageLimits(
            max_tokens=None if max_tokens is None else max(1, int(max_tokens)),
            max_cost_usd=least(self.max_cost_usd, cost_usd),
        )


class ToolReply(BaseModel):
    """What `generate_with_tools` returns: text, tool calls, or both."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    usage: TokenUsage = TokenUsage()
