"""Keep prompts inside the model's context window: trim old turns or refuse, never a 400."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.application.ports.llm import ContextTooLong
from app.domain.llm import ChatMessage, Role

MESSAGE_OVERHEAD = 4  # role and separators, as chat formats count them
IMAGE_TOKENS = 1000  # a conservative flat charge per attached image


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate that needs no tokenizer download.

    BPE tokenizers give about four ASCII characters per token; Hangul and other non-ASCII
    characters are often one to two tokens each. Over-counting only trims a little early.
    """
    ascii_chars = len(text.encode("ascii", "ignore"))  # counted in C, not a Python loop
    other = len(text) - ascii_chars
    return -(-ascii_chars // 3) + other * 2


def message_tokens(message: ChatMessage) -> int:
    image = IMAGE_TOKENS if message.image_url else 0
    return estimate_tokens(message.content) + MESSAGE_OVERHEAD + image


@dataclass(frozen=True)
class ContextBudget:
    window: int
    reserved_output: int
    overflow: Literal["trim", "refuse"] = "trim"

    @property
    def prompt_limit(self) -> int:
        return max(self.window - self.reserved_output, 0)

    def fit(self, messages: list[ChatMessage], provider: str) -> list[ChatMessage]:
        """The messages, trimmed of the oldest turns if they do not fit.

        System messages and the last message are always kept; if they alone do not fit,
        ContextTooLong is raised rather than sending a request the provider would reject.
        """
        total = sum(message_tokens(m) for m in messages)
        if total <= self.prompt_limit:
            return messages
        if self.overflow == "refuse" or len(messages) < 2:
            raise self._too_long(total, provider)
        pinned = {i for i, m in enumerate(messages) if m.role is Role.SYSTEM}
        pinned.add(len(messages) - 1)
        kept = list(range(len(messages)))
        for index in range(len(messages)):
            if total <= self.prompt_limit:
                break
            if index in pinned:
                continue
            kept.remove(index)
            total -= message_tokens(messages[index])
        if total > self.prompt_limit:
            raise self._too_long(total, provider)
        return _drop_orphan_tool_results([messages[i] for i in kept])

    def _too_long(self, tokens: int, provider: str) -> ContextTooLong:
        return ContextTooLong(
            f"prompt needs about {tokens} tokens but the model accepts {self.prompt_limit} "
            f"(window {self.window} minus {self.reserved_output} reserved for the answer)",
            provider=provider,
            tokens=tokens,
            limit=self.prompt_limit,
        )


def _drop_orphan_tool_results(messages: list[ChatMessage]) -> list[ChatMessage]:
    # A tool result whose assistant turn was trimmed would be rejected by the providers.
    while len(messages) > 1 and messages[0].role is Role.TOOL:
        messages = messages[1:]
    first_non_system = next((i for i, m in enumerate(messages) if m.role is not Role.SYSTEM), None)
    if first_non_system is not None:
        while first_non_system < len(messages) - 1 and messages[first_non_system].role is Role.TOOL:
            del messages[first_non_system]
    return messages
