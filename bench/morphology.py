"""Kiwi against the hand-written rules: load time, tokenizing cost, answer and retrieval accuracy.

    .venv/bin/python bench/morphology.py

Runs the answer evals (both halves and the extra set) and the retrieval eval once per
morphology, offline; about a minute in all. Floors: the `make answers` gate (95% overall, 90%
per kind), the retrieval test's top-1 floor, and what a worker's start-up can afford.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import structlog
import yaml

from app.application.evaluation import Verdict
from app.containers import WorkerContainer
from app.entrypoints.evaluate import answer_all, load_cases
from app.infrastructure.morphology.base import Morphology
from app.infrastructure.retrieval.bm25 import BM25Retriever
from app.infrastructure.retrieval.factories import kiwi_morphology, rule_morphology
from app.infrastructure.retrieval.knowledge_base import load_items
from app.infrastructure.retrieval.tokens import Tokenizer
from app.settings import load_settings

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
LOAD_FLOOR_S = 10.0  # built once per worker at start-up; more would slow every deploy
STARTUP_FLOOR_S = 15.0  # a worker's retriever with its morphology, at start-up
TOKENIZE_FLOOR_US = 2000.0  # per question, nothing cached: well under a model round trip
ANSWER_FLOOR, KIND_FLOOR, TOP1_FLOOR = 0.95, 0.90, 0.90
BUILDERS: dict[str, Callable[[], Morphology]] = {"kiwi": kiwi_morphology, "rules": rule_morphology}


def timed_load(name: str) -> tuple[Morphology, float]:
    started = time.perf_counter()
    morphology = BUILDERS[name]()
    morphology.word("워밍업")  # Kiwi rebuilds its dictionary on the first analysis after teaching
    return morphology, time.perf_counter() - started


def retriever_build_s(name: str) -> float:
    """What a worker's start-up spends on the retriever (the chat graph is built with it): the
    knowledge base indexed through a morphology built for it (bench/graph.py times the rest)."""
    settings = load_settings(retrieval={"morphology": name})
    started = time.perf_counter()
    WorkerContainer(settings=settings).chat.retriever()
    return time.perf_counter() - started


def tokenize_us(morphology: Morphology, questions: Sequence[str]) -> tuple[float, float]:
    """(cold, warm) µs per question: fresh caches, then the same questions again."""
    cache = getattr(morphology, "_word", None)
    if cache is not None:
        cache.cache_clear()
    tokenizer = Tokenizer(morphology)
    rounds = []
    for _ in range(2):
        started = time.perf_counter()
        for question in questions:
            tokenizer.weighted(question)
        rounds.append((time.perf_counter() - started) / len(questions) * 1e6)
    return rounds[0], rounds[1]


def retrieval(morphology: Morphology, questions: list[dict[str, object]]) -> tuple[float, float]:
    retriever = BM25Retriever(load_items(), morphology)
    top1 = top3 = 0
    for question in questions:
        ranked = [hit.item.id for hit in retriever.rank(str(question["q"]), 3)]
        expected = set(question["expect"])  # type: ignore[call-overload]
        top1 += bool(ranked) and ranked[0] in expected
        top3 += bool(expected & set(ranked))
    return top1 / len(questions), top3 / len(questions)


def table(verdicts: Sequence[Verdict]) -> dict[str, dict[str, tuple[int, int]]]:
    """half -> kind -> (hits, cases), with 'full' and 'overall' rows."""
    found: defaultdict[str, defaultdict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    for verdict in verdicts:
        for half in (verdict.case.half, "full"):
            for kind in (verdict.case.kind, "overall"):
                found[half][kind][0] += verdict.hit
                found[half][kind][1] += 1
    return {h: {k: (v[0], v[1]) for k, v in kinds.items()} for h, kinds in found.items()}


def answers(name: str, path: Path) -> list[Verdict]:
    settings = load_settings(retrieval={"morphology": name}, logging={"level": "WARNING"})
    return asyncio.run(answer_all(settings, load_cases(path)))


def share(cell: tuple[int, int]) -> str:
    return f"{cell[0] / cell[1]:6.1%}"


def report(name: str) -> None:
    morphology, load_s = timed_load(name)
    startup_s = retriever_build_s(name)
    retrieval_questions = yaml.safe_load((DATA / "retrieval_eval.yaml").read_text("utf-8"))
    cold, warm = tokenize_us(morphology, [str(q["q"]) for q in retrieval_questions])
    top1, top3 = retrieval(morphology, retrieval_questions)
    main = table(answers(name, DATA / "answer_eval.yaml"))
    extra = table(answers(name, DATA / "answer_eval_extra.yaml"))["full"]["overall"]
    print(f"\n== {name}")
    print(f"load (build + first analysis)  {load_s:7.2f} s     floor <= {LOAD_FLOOR_S:.0f} s")
    print(f"worker start-up: retriever      {startup_s:7.2f} s   floor <= {STARTUP_FLOOR_S:.0f} s")
    print(
        f"tokenize a question            {cold:7.0f} µs cold, {warm:.0f} µs cached"
        f"     floor <= {TOKENIZE_FLOOR_US:.0f} µs cold"
    )
    print(
        f"retrieval eval                 top-1 {top1:.1%}  top-3 {top3:.1%}     floor top-1 >= 90%"
    )
    print(f"answer eval (gate >= {ANSWER_FLOOR:.0%} overall, >= {KIND_FLOOR:.0%} per kind)")
    print(f"  {'kind':<12} {'tuning':>7} {'held-out':>9} {'full':>7}")
    for kind in ["overall", *sorted(k for k in main["full"] if k != "overall")]:
        cells = [
            share(main[h][kind]) if kind in main[h] else "     -" for h in ("tuning", "held-out")
        ]
        print(f"  {kind:<12} {cells[0]:>7} {cells[1]:>9} {share(main['full'][kind]):>7}")
    print(f"extra set                      {share(extra)}  ({extra[0]}/{extra[1]})")


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    for name in BUILDERS:
        report(name)


if __name__ == "__main__":
    main()
