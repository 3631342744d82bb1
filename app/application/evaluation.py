"""Answer-level evaluation: does the answer hold the words that decide the disposal?

A case lists groups of alternatives; the answer must contain one alternative of every group
(case-insensitive). A yes/no case must also open with the right yes or no.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

YES = re.compile(r"^\s*(네|예|yes)\b", re.I)
NO = re.compile(r"^\s*(아니요|아니오|아뇨|아니에요|no)\b", re.I)


class EvalCase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    kind: str
    question: str
    expect: list[list[str]] = Field(min_length=1)
    history: list[str] = Field(default_factory=list)
    yes_no: bool | None = None

    @property
    def half(self) -> str:
        """Odd-numbered cases tune, even-numbered ones are held out."""
        number = int(re.sub(r"\D", "", self.id.rsplit("-", 1)[-1]) or 0)
        return "tuning" if number % 2 else "held-out"


class Verdict(BaseModel):
    model_config = ConfigDict(frozen=True)

    case: EvalCase
    answer: str
    missing: list[list[str]]
    yes_no_ok: bool = True

    @property
    def hit(self) -> bool:
        return not self.missing and self.yes_no_ok


def first_line(answer: str) -> str:
    """The answer's first line of substance (an offline label in brackets is not one)."""
    lines = [line for line in answer.splitlines() if line.strip()]
    return next((line for line in lines if not line.lstrip().startswith("[")), "")


def judge(case: EvalCase, answer: str) -> Verdict:
    plain = _plain(answer)
    missing = [group for group in case.expect if not any(_plain(a) in plain for a in group)]
    yes_no_ok = True
    if case.yes_no is not None:
        opening = first_line(answer)
        yes_no_ok = bool((YES if case.yes_no else NO).match(opening))
    return Verdict(case=case, answer=answer, missing=missing, yes_no_ok=yes_no_ok)


def _plain(text: str) -> str:
    """Case, hyphens and spacing do not decide a match: 'small-appliance' is 'small appliance'."""
    return " ".join(text.lower().replace("-", " ").split())


def accuracy(verdicts: Sequence[Verdict]) -> dict[str, tuple[int, int]]:
    """(hits, cases) overall, per half and per kind."""
    table: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for verdict in verdicts:
        for key in ("overall", verdict.case.half, f"kind:{verdict.case.kind}"):
            table[key][0] += verdict.hit
            table[key][1] += 1
    return {key: (hits, total) for key, (hits, total) in table.items()}


def report(verdicts: Sequence[Verdict]) -> Iterable[str]:
    table = accuracy(verdicts)
    ordered = ["overall", "tuning", "held-out", *sorted(k for k in table if k.startswith("kind:"))]
    for key in ordered:
        if key in table:
            hits, total = table[key]
            yield f"{key.removeprefix('kind:'):<12} {hits / total:6.1%}  ({hits}/{total})"
    for verdict in verdicts:
        if not verdict.hit:
            why = "; ".join("/".join(group) for group in verdict.missing)
            if not verdict.yes_no_ok:
                why = f"should open with {'yes' if verdict.case.yes_no else 'no'}" + (
                    f"; {why}" if why else ""
                )
            yield f"  miss {verdict.case.id} {verdict.case.question!r}: {why}"
