"""The context guard: trims oldest turns, keeps system and the question, refuses what cannot fit."""

from __future__ import annotations

import pytest

from app.application.context_window import ContextBudget, estimate_tokens, message_tokens
from app.application.ports.llm import ContextTooLong
from app.domain.llm import ChatMessage, ToolCall


def test_estimates_are_conservative_for_korean_and_english() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("recycling") >= 2
    assert estimate_tokens("페트병") == 6  # two per Hangul syllable
    assert message_tokens(ChatMessage.user("hi", image_url="https://x/y.jpg")) > 1000


def test_fitting_prompt_is_untouched() -> None:
    messages = [ChatMessage.system("rules"), ChatMessage.user("question")]
    assert ContextBudget(window=1000, reserved_output=100).fit(messages, "p") == messages


def test_oldest_turns_go_first_system_and_question_stay() -> None:
    history = [ChatMessage.user(f"turn {i} " + "x" * 90) for i in range(10)]
    messages = [ChatMessage.system("rules"), *history, ChatMessage.user("now?")]
    fitted = ContextBudget(window=200, reserved_output=50).fit(messages, "p")
    assert fitted[0].content == "rules" and fitted[-1].content == "now?"
    assert fitted[1:-1] == history[-len(fitted) + 2 :]
    assert sum(message_tokens(m) for m in fitted) <= 150


def test_refuse_mode_raises_instead_of_trimming() -> None:
    messages = [ChatMessage.user("x" * 900), ChatMessage.user("now")]
    with pytest.raises(ContextTooLong) as caught:
        ContextBudget(window=200, reserved_output=50, overflow="refuse").fit(messages, "openai")
    assert caught.value.limit == 150 and caught.value.provider == "openai"
    assert caught.value.tokens is not None and caught.value.tokens > 150


def test_a_question_that_alone_is_too_long_is_refused() -> None:
    with pytest.raises(ContextTooLong):
        ContextBudget(window=100, reserved_output=10).fit([ChatMessage.user("쓰" * 200)], "p")


def test_tool_results_are_not_left_without_their_call() -> None:
    call = ToolCall(id="c1", name="weather")
    messages = [
        ChatMessage.system("rules"),
        ChatMessage.user("x" * 600),
        ChatMessage.assistant("", tool_calls=[call]),
        ChatMessage.tool_result(call, "y" * 30),
        ChatMessage.user("and?"),
    ]
    fitted = ContextBudget(window=60, reserved_output=10).fit(messages, "p")
    assert fitted[0].role.value == "system"
    assert fitted[1].role.value != "tool"
