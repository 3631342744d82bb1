"""The answer node (streams its text) and the summariser that keeps long threads small."""

from __future__ import annotations

from typing import Any

from app.application.chat.nodes import StateNode
from app.application.chat.progress import StageReporter
from app.application.chat.state import REPLACE_HISTORY, ChatState, NodeResult
from app.application.context_window import estimate_tokens
from app.application.ports.llm import LLMPort
from app.application.prompts import ASSISTANT_ROLE
from app.domain.chat import ChatRequest, IntentClassification
from app.domain.language import detect_language
from app.domain.llm import ChatMessage, Role

HISTORY_TURNS = 6  # messages of history sent with each question
SUMMARY_TRIGGER_TOKENS = 1500
KEEP_AFTER_SUMMARY = 4
NODE_NAMES = {
    "ko": {"weather": "날씨", "location": "지도 검색", "collection_point": "수거함 위치",
           "bulk_waste": "대형 폐기물 정보", "recyclable_price": "재활용품 시세",
           "web_search": "웹 검색", "image_generation": "이미지 생성", "character": "캐릭터",
           "waste_rag": "분리배출 자료", "vision": "사진 분석", "general": "안내"},
    "en": {"weather": "the weather", "location": "map search", "collection_point":
           "collection points", "bulk_waste": "bulky-waste rules", "recyclable_price":
           "recyclable prices", "web_search": "web search", "image_generation":
           "image generation", "character": "characters", "waste_rag": "the disposal guide",
           "vision": "the photo", "general": "the guide"},
}  # fmt: skip


def answer_node(llm: LLMPort, reporter: StageReporter) -> StateNode:
    async def run(state: ChatState) -> dict[str, Any]:
        request = ChatRequest.model_validate(state["request"])
        language = request.language or detect_language(request.message)
        contexts = state.get("contexts", {})
        messages = [
            ChatMessage.system(system_prompt(state, contexts)),
            *_history(state),
            ChatMessage.user(request.message, image_url=request.image_url),
        ]
        parts: list[str] = []
        async with reporter.stage(state["job_id"], "answer") as outcome:
            async for chunk in llm.generate_stream(messages):
                parts.append(chunk)
                await reporter.emit(state["job_id"], "delta", stage="answer", data={"text": chunk})
            note = missing_note(contexts, state.get("unavailable", []), language)
            if note:
                parts.append(note)
                await reporter.emit(state["job_id"], "delta", stage="answer", data={"text": note})
            outcome["chars"] = sum(len(p) for p in parts)
        answer = "".join(parts)
        intents = [s.intent.value for s in _classification(state).intents]
        return {
            "answer": answer,
            "history": [
                {"role": "user", "content": request.message},
                {"role": "assistant", "content": answer},
            ],
            "recent_intents": [*state.get("recent_intents", []), intents[0]][-3:],
        }

    return run


def system_prompt(state: ChatState, contexts: dict[str, NodeResult]) -> str:
    """The role, the summary so far, and one `### ` block per successful lookup."""
    lines = [
        ASSISTANT_ROLE,
        "Answer from the context blocks below; do not invent fees, prices "
        "or places. Cite item names as given.",
    ]
    if state.get("summary"):
        lines.append(f"Conversation so far: {state['summary']}")
    for slot, result in contexts.items():
        if result.get("status") == "ok" and result.get("text"):
            lines.append(f"### {slot}: {result.get('query', '')}\n{result['text']}")
    return "\n\n".join(lines)


def missing_note(contexts: dict[str, NodeResult], unavailable: list[str], language: str) -> str:
    """Say what could not be looked up, whatever the model wrote."""
    names = NODE_NAMES["ko" if language == "ko" else "en"]
    failed = [r.get("node", slot) for slot, r in contexts.items() if r.get("status") == "failed"]
    failed = list(dict.fromkeys(failed))
    lines = []
    if failed:
        what = ", ".join(names.get(n, n) for n in failed)
        lines.append(
            f"⚠️ {what} 정보를 지금 가져오지 못했습니다."
            if language == "ko"
            else f"⚠️ I could not look up {what} just now."
        )
    if unavailable:
        what = ", ".join(names.get(n, n) for n in unavailable)
        lines.append(
            f"ℹ️ 이 서버에서는 {what} 기능이 꺼져 있습니다."
            if language == "ko"
            else f"ℹ️ {what} is not enabled on this server."
        )
    return ("\n\n" + "\n".join(lines)) if lines else ""


def summarize_node(llm: LLMPort, reporter: StageReporter) -> StateNode:
    """When the history grows past a budget, fold the older turns into a running summary."""

    async def run(state: ChatState) -> dict[str, Any]:
        history = state.get("history", [])
        if sum(estimate_tokens(m["content"]) for m in history) < SUMMARY_TRIGGER_TOKENS:
            return {}
        older, recent = history[:-KEEP_AFTER_SUMMARY], history[-KEEP_AFTER_SUMMARY:]
        async with reporter.stage(state["job_id"], "summarize") as outcome:
            transcript = "\n".join(f"{m['role']}: {m['content']}" for m in older)
            previous = state.get("summary", "")
            summary = await llm.generate(
                f"{previous}\n{transcript}".strip(),
                system="Summarise this conversation in at most five sentences. Keep the items, "
                "places and districts the user mentioned.",
                max_tokens=300,
            )
            outcome["folded_messages"] = len(older)
        return {"summary": summary, "history": [{"role": REPLACE_HISTORY, "content": ""}, *recent]}

    return run


def _history(state: ChatState) -> list[ChatMessage]:
    turns = state.get("history", [])[-HISTORY_TURNS:]
    return [ChatMessage(role=Role(m["role"]), content=m["content"]) for m in turns]


def _classification(state: ChatState) -> IntentClassification:
    return IntentClassification.model_validate(state["classification"])
