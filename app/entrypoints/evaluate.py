"""`python -m app eval FILE.yaml`: answer every question of an evaluation set in one process
and print accuracy per kind, per half (tuning / held-out) and the misses."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import TextIO

import yaml

from app.application.chat.service import ChatService
from app.application.evaluation import EvalCase, Verdict, accuracy, judge, report
from app.containers import CliContainer
from app.containers_core import resolve, running
from app.domain.chat import ChatRequest
from app.settings import Settings


def load_cases(path: Path) -> list[EvalCase]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return [EvalCase.model_validate(entry) for entry in raw]


async def answer_all(settings: Settings, cases: list[EvalCase]) -> list[Verdict]:
    """Each case on a thread of its own; a follow-up's earlier questions are asked first."""
    quiet = settings.model_copy(
        update={"checkpoint": settings.checkpoint.model_copy(update={"backend": "memory"})}
    )
    async with running(CliContainer(settings=quiet)) as container:
        container.notifier.override(None)  # no progress on the terminal: only the report
        service: ChatService = await resolve(container.chat.service)
        verdicts = []
        for case in cases:
            thread = f"eval-{uuid.uuid4().hex[:12]}"
            for earlier in case.history:
                await service.run(ChatRequest(message=earlier, thread_id=thread))
            result = await service.run(ChatRequest(message=case.question, thread_id=thread))
            verdicts.append(judge(case, result.answer, result.grade))
    return verdicts


async def evaluate(
    settings: Settings,
    path: Path,
    *,
    min_overall: float = 0.0,
    min_kind: float = 0.0,
    half: str | None = None,
    out: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    cases = [c for c in load_cases(path) if half is None or c.half == half]
    verdicts = await answer_all(settings, cases)
    for line in report(verdicts):
        print(line, file=out)
    table = accuracy(verdicts)
    overall = table["overall"][0] / table["overall"][1]
    kinds = [hits / total for key, (hits, total) in table.items() if key.startswith("kind:")]
    # A yes or no against the rule of the item the answer cites fails the set, whatever the rest.
    consistent = not any(v.contradicts for v in verdicts)
    return 0 if consistent and overall >= min_overall and min(kinds, default=1.0) >= min_kind else 1
