"""The grading step: every answer is checked before it is sent as final.

The rules check what can be checked without a model, in both modes: every part of the
question answered, the yes or no agreeing with the rule of the item the lookup cited, every
figure (a fee, a phone number) found in a lookup, the asker's language. Where the rules cannot
decide (a model's yes or no on a question the facts do not settle) and a model is configured,
one structured call grades the answer against the guidelines' rubric. Below the threshold a
model's answer is written once more with the findings; an answer still failing (or one no
model wrote) says what is uncertain instead of pretending.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import structlog
from pydantic import BaseModel, Field

from app.application.chat.answer import HISTORY_TURNS, system_prompt
from app.application.chat.nodes import StateNode
from app.application.chat.progress import StageReporter
from app.application.chat.state import (
    ChatState,
    ChatUpdate,
    LookupStatus,
    NodeResult,
    ReplaceHistory,
    RunContext,
)
from app.application.ports.llm import LLMPort
from app.domain.chat import Grade, Subject
from app.domain.language import Language, detect_language
from app.domain.llm import ChatMessage

THRESHOLD = 0.75
OFFLINE = "offline"  # the provider that composes answers from the lookups, without a model
# What each finding costs: a wrong yes or no, or a part left unanswered, fails the answer on
# its own; an unsourced figure or the wrong language costs a quarter.
WEIGHTS = {
    "contradicts": 0.5,
    "unanswered": 0.5,
    "no_verdict": 0.25,
    "unsourced": 0.25,
    "language": 0.25,
    "note": 0.0,
}  # fmt: skip  (a note: the model grader's own words)
YES = re.compile(r"^\s*(네|예|yes)\b", re.I)
NO = re.compile(r"^\s*(아니요|아니오|아뇨|아니에요|no)\b", re.I)
# A figure an answer must not invent: a phone number, an amount of money, a deposit.
FIGURE = re.compile(r"\d{2,4}-\d{3,4}(?:-\d{4})?|\d[\d,]*\s?(?:원|won|KRW)|₩\s?\d[\d,]*", re.I)

log = structlog.get_logger(__name__)


def first_line(answer: str) -> str:
    """The answer's first line of substance (an offline label in brackets is not one)."""
    lines = [line for line in answer.splitlines() if line.strip()]
    return next((line for line in lines if not line.lstrip().startswith("[")), "")


def opening(answer: str) -> bool | None:
    """The yes (True) or no (False) an answer opens with, None for neither."""
    line = first_line(answer)
    if YES.match(line):
        return True
    if NO.match(line):
        return False
    return None


def check(state: ChatState) -> tuple[list[str], bool]:
    """The rules' findings, and whether the rules could decide the answer's yes or no."""
    answer = state.get("answer", "")
    request = state["request"]
    results = [
        result
        for route in state.get("routes", [])
        if (result := state.get("contexts", {}).get(route.slot)) is not None
        and result.status is LookupStatus.OK
    ]
    # Every part of a compound question answered: each lookup's item named. (A one-part
    # answer may call its item anything; a part left out is what this catches.)
    parts = [r for r in results if r.subject is not None]
    findings = [
        f"unanswered: {r.slot} ({r.subject.name_ko})"
        for r in parts
        if len(parts) > 1 and r.subject is not None and not _names(answer, r.subject)
    ]
    verdicts = [r for r in results if r.verdict is not None]
    said = opening(answer)
    decided = True
    if len(verdicts) == 1:
        rule = verdicts[0].verdict
        if said is None:
            findings.append(f"no_verdict: {verdicts[0].slot} asks yes or no")
        elif said != rule:
            findings.append(
                f"contradicts: opens {'yes' if said else 'no'}, the rule of "
                f"{_cited(verdicts[0])} says {'yes' if rule else 'no'}"
            )
    elif said is not None and not verdicts:
        decided = False  # a yes or no the facts do not settle
    known = " ".join(_text(r) for r in results) + " " + request.message
    numbers = {re.sub(r"\D", "", n) for n in re.findall(r"\d[\d,\-]*\d|\d", known)}
    findings += [
        f"unsourced: {figure}"
        for figure in dict.fromkeys(FIGURE.findall(answer))
        if re.sub(r"\D", "", figure) not in numbers
    ]
    asker: Language = request.language or detect_language(request.message)
    if answer.strip() and detect_language(_without_asides(answer)) != asker:
        findings.append(f"language: not in {asker}")
    return findings, decided


def rules_grade(state: ChatState) -> tuple[Grade, bool]:
    findings, decided = check(state)
    return _graded(findings, "rules"), decided


def _graded(findings: Sequence[str], by: Literal["rules", "model"]) -> Grade:
    cost = sum(WEIGHTS.get(f.split(":", 1)[0], 0.25) for f in findings)
    score = round(max(0.0, 1.0 - cost), 3)
    return Grade(score=score, passed=score >= THRESHOLD, by=by, findings=tuple(findings))


class ModelGrade(BaseModel):
    """What the model grader returns: the rubric's questions, answered."""

    answers_every_part: bool
    yes_no_agrees_with_context: bool = Field(
        description="true when the answer has no yes or no, or its yes or no follows the context"
    )
    invents_nothing: bool = Field(description="every fee, number and place is in the context")
    problems: list[str] = Field(default_factory=list, max_length=5)


RUBRIC = (
    "You grade an answer of a Korean recycling assistant against the context it was given "
    "(Korea's separate-disposal guidelines). Check: does it answer every part of the question; "
    "does its opening yes or no follow the rule the context gives for the item; is every fee, "
    "phone number and place taken from the context. List the problems briefly."
)


async def model_grade(llm: LLMPort, state: ChatState, rules: Sequence[str]) -> Grade:
    """One structured call, for an answer the rules could not decide."""
    blocks = "\n\n".join(
        r.context().model_dump_json() for r in state.get("contexts", {}).values() if not r.failed
    )
    prompt = (
        f"Question: {state['request'].message}\n\nContext:\n{blocks}\n\n"
        f"Answer:\n{state.get('answer', '')}"
    )
    graded = await llm.generate_structured(prompt, ModelGrade, system=RUBRIC, temperature=0.0)
    findings = list(rules)
    if not graded.answers_every_part:
        findings.append("unanswered: the model grader")
    if not graded.yes_no_agrees_with_context:
        findings.append("contradicts: the model grader")
    if not graded.invents_nothing:
        findings.append("unsourced: the model grader")
    findings += [f"note: {p}" for p in graded.problems if findings]
    return _graded(findings, "model")


UNCERTAIN = {
    "ko": "⚠️ 이 답변은 자료로 다 확인하지 못했습니다. "
    "정확한 내용은 구청이나 주민센터에 확인해 주세요.",
    "en": "⚠️ I could not check all of this answer against the guidelines; please confirm with "
    "your district office.",
}


def grade_node(llm: LLMPort, reporter: StageReporter) -> StateNode:
    """Grades the answer; below the threshold revises it once (a model's answer) or says
    what is uncertain. The grade goes to the state, and from there to `done`, the stored
    message, the metrics and the trace."""

    async def run(state: ChatState, context: RunContext) -> ChatUpdate:
        # An answer the offline composer wrote has nothing a second try would change.
        by_model = state.get("answered_provider") not in (None, OFFLINE)
        async with reporter.stage(context.job_id, "grade") as outcome:
            grade, decided = rules_grade(state)
            if not decided and by_model:
                grade = await model_grade(llm, state, grade.findings)
            answer = state.get("answer", "")
            if not grade.passed and by_model:
                answer = await _revised(llm, state, grade.findings)
                grade = await _regraded(llm, state, answer)
            if not grade.passed:
                language = state["request"].language or detect_language(state["request"].message)
                uncertain = f"\n\n{UNCERTAIN[language]}"
                answer += uncertain
                # Said as the rest of the answer was, so the streamed text is the answer.
                await reporter.emit(
                    context.job_id, "delta", stage="answer", data={"text": uncertain}
                )
                grade = grade.model_copy(update={"revised": True})
            outcome.note(score=grade.score, passed=grade.passed, by=grade.by)
        log.info("chat.graded", score=grade.score, passed=grade.passed, by=grade.by,
                 findings=list(grade.findings))  # fmt: skip
        update: ChatUpdate = {"grade": grade}
        if answer != state.get("answer", ""):
            update["answer"] = answer
            update["history"] = _replace_last_answer(state, answer)
        return update

    return run


async def _revised(llm: LLMPort, state: ChatState, findings: Sequence[str]) -> str:
    """The answer written once more, told what the check found."""
    contexts = state.get("contexts", {})
    blocks = [r.context() for r in contexts.values() if r.status is LookupStatus.OK]
    history = state.get("history", [])[:-2][-HISTORY_TURNS:]
    fix = "A check of your previous answer found: " + "; ".join(findings) + ". Answer again."
    messages = [
        ChatMessage.system(f"{system_prompt(state.get('summary', ''))}\n\n{fix}"),
        *history,
        ChatMessage.user(state["request"].message),
    ]
    return await llm.generate(messages, context=blocks)


async def _regraded(llm: LLMPort, state: ChatState, answer: str) -> Grade:
    """The second writing graded as the first was: the rules, and the model where they still
    cannot decide (a yes or no the facts do not settle is not passed unread)."""
    revised: ChatState = {**state}
    revised["answer"] = answer
    grade, decided = rules_grade(revised)
    if not decided:
        grade = await model_grade(llm, revised, grade.findings)
    return grade.model_copy(update={"revised": True})


def _replace_last_answer(state: ChatState, answer: str) -> ReplaceHistory:
    """The thread's memory with the answer as sent, not as first written."""
    history = list(state.get("history", []))
    if history and history[-1].role.value == "assistant":
        history[-1] = ChatMessage.assistant(answer)
    return ReplaceHistory(messages=tuple(history))


def _names(answer: str, subject: Subject) -> bool:
    compact = re.sub(r"\s+", "", answer).lower()
    words = [
        w
        for name in (subject.name_ko, subject.name_en)
        for w in re.split(r"[\s·/(),]+", name.lower())
        if len(w) >= 2 or re.fullmatch(r"[가-힣]", w)  # '캔', '병': one syllable names a thing
    ]
    return any(w.replace(" ", "") in compact for w in words)


def _cited(result: NodeResult) -> str:
    return result.subject.name_ko if result.subject is not None else result.slot


def _text(result: NodeResult) -> str:
    return " ".join(line for entry in result.entries for line in entry.text_lines())


def _without_asides(answer: str) -> str:
    """The text the asker reads as theirs: no brackets or parentheses (an English answer
    names the Korean bag, 종량제, in parentheses)."""
    return re.sub(r"\([^)]*\)|\[[^\]]*\]", "", answer)
