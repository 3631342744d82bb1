"""The graph's state, and the reducer that merges parallel node results deterministically."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

ResultStatus = Literal["ok", "empty", "failed"]
RESET: dict[str, Any] = {"__reset__": True}


class NodeResult(TypedDict, total=False):
    """What one tool node found. `text` is the context the answer is written from."""

    node: str
    query: str
    status: ResultStatus
    text: str
    sources: list[dict[str, Any]]
    data: dict[str, Any]
    error: str


def merge_contexts(
    current: dict[str, NodeResult] | None, update: dict[str, Any] | None
) -> dict[str, NodeResult]:
    """Each node writes its own key; a success is never replaced by a failure; RESET clears.

    Parallel branches finish in any order, so the merge must not depend on it.
    """
    if update is None:
        return dict(current or {})
    if update.get("__reset__"):
        return {k: v for k, v in update.items() if k != "__reset__"}
    merged = dict(current or {})
    for key, result in update.items():
        previous = merged.get(key)
        if previous and previous.get("status") == "ok" and result.get("status") == "failed":
            continue
        merged[key] = result
    return dict(sorted(merged.items()))


def extend_history(
    current: list[dict[str, str]] | None, update: list[dict[str, str]] | None
) -> list[dict[str, str]]:
    """Append turns; an update that starts with REPLACE_HISTORY replaces (summarisation)."""
    if not update:
        return list(current or [])
    if update[0].get("role") == REPLACE_HISTORY:
        return list(update[1:])
    return [*(current or []), *update]


REPLACE_HISTORY = "__replace__"


class ChatState(TypedDict, total=False):
    """One thread's state; the checkpointer keeps it between turns."""

    job_id: str
    request: dict[str, Any]
    history: Annotated[list[dict[str, str]], extend_history]
    summary: str
    recent_intents: list[str]
    classification: dict[str, Any]
    vision: dict[str, Any] | None
    routes: list[dict[str, str]]
    unavailable: list[str]
    contexts: Annotated[dict[str, NodeResult], merge_contexts]
    answer: str
    turn: int


class BranchInput(TypedDict):
    """What the router sends to each tool node it fans out to."""

    job_id: str
    request: dict[str, Any]
    query: str
    slot: str
    intent: str
    vision: dict[str, Any] | None
