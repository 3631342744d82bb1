"""CPU cost of the grading step's rules, per chat, beside the whole offline chat it grades.

    .venv/bin/python bench/grader.py

The goal (issue 21): the rules cost at most 0.3 ms CPU per chat offline. The states graded
are those of real turns (the blind set 4 questions through the offline service over the real
knowledge base), captured as the grading step receives them; each is then graded again
ROUNDS times and timed with the process's CPU clock.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml

from app.application.chat import grading
from app.application.chat.service import ChatService
from app.application.chat.state import ChatState
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.chat import ChatRequest
from app.settings import Settings

QUESTIONS = Path(__file__).resolve().parent.parent / "tests/data/answer_eval_blind4.yaml"
ROUNDS = 50
BUDGET_MS = 0.3


async def graded_states() -> tuple[list[ChatState], float]:
    """The states the grading step saw, and the CPU ms per whole offline chat."""
    seen: list[ChatState] = []
    rules = grading.rules_grade

    def recording(state: ChatState) -> Any:
        seen.append(state)
        return rules(state)

    grading.rules_grade = recording  # type: ignore[assignment]
    settings = Settings()
    settings = settings.model_copy(
        update={"checkpoint": settings.checkpoint.model_copy(update={"backend": "memory"})}
    )
    cases = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    async with running(CliContainer(settings=settings)) as container:
        container.notifier.override(None)
        service: ChatService = await resolve(container.chat.service)
        started = time.process_time()
        chats = 0
        for index, case in enumerate(cases):
            for turn in [*case.get("history", []), case["question"]]:
                await service.run(ChatRequest(message=turn, thread_id=f"grader-{index}"))
                chats += 1
        per_chat = (time.process_time() - started) * 1000 / chats
    grading.rules_grade = rules  # type: ignore[assignment]
    return seen, per_chat


def main() -> None:
    states, per_chat = asyncio.run(graded_states())
    started = time.process_time()
    for _ in range(ROUNDS):
        for state in states:
            grading.rules_grade(state)
    per_grade = (time.process_time() - started) * 1000 / (ROUNDS * len(states))
    passed = sum(grading.rules_grade(s)[0].passed for s in states)
    print(f"states graded         {len(states)} ({passed} passed the rules)")
    print(f"rules, CPU per chat   {per_grade:.4f} ms   (budget {BUDGET_MS} ms)")
    print(f"whole offline chat    {per_chat:.2f} ms CPU   (grading: {per_grade / per_chat:.1%})")
    print("within budget" if per_grade <= BUDGET_MS else "OVER BUDGET")


if __name__ == "__main__":
    main()
