"""The answer node (streams its text) and the summariser that keeps long threads small."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from app.application.chat.nodes import StateNode
from app.application.chat.progress import StageReporter
from app.application.chat.registry import Labels
from app.application.chat.state import (
    ChatState,
    ChatUpdate,
    LookupStatus,
    NodeResult,
    ReplaceHistory,
    RunContext,
)
from app.application.chat.verdicts import particle
from app.application.context_window import estimate_tokens
from app.application.model_choice import recording
from app.application.photos import PhotoUnavailable, usable_image_url
from app.application.ports.llm import LLMPort
from app.application.ports.stores import PhotoStorePort
from app.application.prompts import ASSISTANT_ROLE
from app.domain.chat import Subject
from app.domain.language import Language, detect_language
from app.domain.llm import ChatMessage, ContextBlock

HISTORY_TURNS = 6  # messages of history sent with each question
SUMMARY_TRIGGER_TOKENS = 1500
KEEP_AFTER_SUMMARY = 4

log = structlog.get_logger(__name__)


def answer_node(
    llm: LLMPort,
    reporter: StageReporter,
    labels: Mapping[str, Labels],
    photos: PhotoStorePort | None = None,
) -> StateNode:
    """`labels`: what the note on a failed or switched-off lookup calls each node."""

    async def run(state: ChatState, context: RunContext) -> ChatUpdate:
        request = state["request"]
        image = await _image_for_model(request.image_url, photos)
        contexts = state.get("contexts", {})
        # The lookups travel as blocks, not as prompt text: how a model is shown them is each
        # provider's business, and none has to parse them back out of a prompt.
        blocks = [r.context() for r in contexts.values() if r.status is LookupStatus.OK]
        messages = [
            ChatMessage.system(system_prompt(state.get("summary", ""))),
            *state.get("history", [])[-HISTORY_TURNS:],
            ChatMessage.user(request.message, image_url=image),
        ]
        language = request.language or detect_language(request.message)
        note = missing_note(contexts, state.get("unavailable", []), language, labels)
        # Its own scope: the model that wrote this answer, not whichever call finished last.
        with recording() as answered:
            answer = await _stream_answer(llm, reporter, context.job_id, messages, blocks, note)
        if answered.preferred is not None and answered.model != answered.preferred:
            log.info("chat.model_substituted", asked=answered.preferred, answered=answered.model)
        first_intent = state["classification"].intents[0].intent
        update: ChatUpdate = {
            "answer": answer,
            "answered_by": answered.model,
            "answered_provider": answered.provider,
            "history": [ChatMessage.user(request.message), ChatMessage.assistant(answer)],
            "recent_intents": [*state.get("recent_intents", []), first_intent][-3:],
        }
        subject = turn_subject(state)
        if subject is not None:  # a turn about the weather keeps the item of the one before
            update["subject"] = subject.model_copy(update={"asked": request.message})
        return update

    return run


async def _stream_answer(
    llm: LLMPort,
    reporter: StageReporter,
    job_id: str,
    messages: list[ChatMessage],
    blocks: list[ContextBlock],
    note: str,
) -> str:
    """The model's text as `delta` events, then the note on what could not be looked up."""
    parts: list[str] = []
    async with reporter.stage(job_id, "answer") as outcome:
        async for chunk in llm.generate_stream(messages, context=blocks):
            parts.append(chunk)
            await reporter.emit(job_id, "delta", stage="answer", data={"text": chunk})
        if note:
            parts.append(note)
            await reporter.emit(job_id, "delta", stage="answer", data={"text": note})
        outcome.note(chars=sum(len(p) for p in parts))
    return "".join(parts)


async def _image_for_model(url: str | None, photos: PhotoStorePort | None) -> str | None:
    """The photo as the model can take it; an expired upload is left out, not fatal (the
    vision stage said so already)."""
    if url is None:
        return None
    try:
        return await usable_image_url(url, photos)
    except PhotoUnavailable:
        return None


def turn_subject(state: ChatState) -> Subject | None:
    """The item of the turn's first route that landed on one."""
    contexts = state.get("contexts", {})
    for route in state.get("routes", []):
        result = contexts.get(route.slot)
        if result is not None and result.subject is not None:
            return result.subject
    return None


def system_prompt(summary: str = "") -> str:
    """The role and, on a long thread, the summary so far; the lookups follow as context."""
    lines = [
        ASSISTANT_ROLE,
        "Answer from the context blocks below; do not invent fees, prices "
        "or places. Cite item names as given.",
    ]
    if summary:
        lines.append(f"Conversation so far: {summary}")
    return "\n\n".join(lines)


def missing_note(
    contexts: Mapping[str, NodeResult],
    unavailable: Sequence[str],
    language: Language,
    labels: Mapping[str, Labels],
) -> str:
    """Say what could not be looked up, whatever the model wrote."""

    def named(nodes: Sequence[str]) -> str:
        return ", ".join(labels[n].said_in(language) if n in labels else n for n in nodes)

    failed = list(dict.fromkeys(r.node for r in contexts.values() if r.failed))
    lines = []
    if failed:
        what = named(failed)
        lines.append(
            f"⚠️ {what} 정보를 지금 가져오지 못했습니다."
            if language == "ko"
            else f"⚠️ I could not look up {what} just now."
        )
    if unavailable:  # in a resident's words: what they cannot get here, not a setting
        what = named(unavailable)
        lines.append(
            f"ℹ️ {particle(what, '은', '는')} 여기서 바로 찾아볼 수 없어, "
            "아는 범위에서 안내했습니다."
            if language == "ko"
            else f"ℹ️ I can't look up {what} here, so I answered from what I know."
        )
    return ("\n\n" + "\n".join(lines)) if lines else ""


def summarize_node(llm: LLMPort, reporter: StageReporter) -> StateNode:
    """When the history grows past a budget, fold the older turns into a running summary."""

    async def run(state: ChatState, context: RunContext) -> ChatUpdate:
        history = state.get("history", [])
        if sum(estimate_tokens(m.content) for m in history) < SUMMARY_TRIGGER_TOKENS:
            return {}
        older, recent = history[:-KEEP_AFTER_SUMMARY], history[-KEEP_AFTER_SUMMARY:]
        async with reporter.stage(context.job_id, "summarize") as outcome:
            transcript = "\n".join(f"{m.role.value}: {m.content}" for m in older)
            previous = state.get("summary", "")
            summary = await llm.generate(
                f"{previous}\n{transcript}".strip(),
                system="Summarise this conversation in at most five sentences. Keep the items, "
                "places and districts the user mentioned.",
                max_tokens=300,
            )
            outcome.note(folded_messages=len(older))
        return {"summary": summary, "history": ReplaceHistory(messages=tuple(recent))}

    return run
