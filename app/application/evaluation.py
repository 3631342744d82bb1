"""Answer-level evaluation: does the answer hold the words that decide the disposal?

A case lists groups of alternatives; the answer must contain one alternative of every group
(case-insensitive). A yes/no case must also open with the right yes or no.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from app.application.chat.grading import NO, YES, first_line
from app.domain.chat import Grade


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
    grade: Grade | None = None  # the grading step's, as the service graded its own answer

    @property
    def contradicts(self) -> bool:
        """The grader found the yes or no against the rule of the item it cites."""
        return self.grade is not None and any(
            f.startswith("contradicts") for f in self.grade.findings
        )

    @property
    def hit(self) -> bool:
        return not self.missing and self.yes_no_ok


def judge(case: EvalCase, answer: str, grade: Grade | None = None) -> Verdict:
    plain = _plain(answer)
    missing = [group for group in case.expect if not any(_plain(a) in plain for a in group)]
    yes_no_ok = True
    if case.yes_no is not None:
        opening = first_line(answer)
        yes_no_ok = bool((YES if case.yes_no else NO).match(opening))
    return Verdict(case=case, answer=answer, missing=missing, yes_no_ok=yes_no_ok, grade=grade)


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
    graded = [v.grade for v in verdicts if v.grade is not None]
    if graded:
        passed = sum(g.passed for g in graded)
        contradictions = sum(v.contradicts for v in verdicts)
        yield (
            f"graded       {passed}/{len(graded)} passed the grader; "
            f"contradictions: {contradictions}"
        )
    for verdict in verdicts:
        if verdict.contradicts:
            yield f"  contradicts {verdict.case.id} {verdict.case.question!r}"
        if not verdict.hit:
            why = "; ".join("/".join(group) for group in verdict.missing)
            if not verdict.yes_no_ok:
                why = f"should open with {'yes' if verdict.case.yes_no else 'no'}" + (
                    f"; {why}" if why else ""
                )
            yield f"  miss {verdict.case.id} {verdict.case.question!r}: {why}"
