"""The SSE events of GET /v1/chat/{id}/events, as OpenAPI documents them: one model per `type`.

The worker publishes `ProgressEvent`s whose `data` is free-form; these models say what each
type carries on the wire, for clients and for the tests that hold real streams to them.
Clients should ignore fields they do not know: new ones may be added, none removed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

from app.domain.events import ErrorKind, StageStatus

TYPE = "the event's type (also the SSE `event` field)"
DATA = "what this type of event carries"


class _Event(BaseModel):
    seq: int = Field(ge=1, description="per job, strictly increasing from 1")
    job_id: str = Field(description="the job the event belongs to")
    attempt: int = Field(
        ge=1, description="runs of the job; on a higher one, drop earlier attempts' delta text"
    )
    ts: float = Field(description="when it was published, Unix seconds")
    stage: str | None = Field(default=None, description="the graph node, for stage and delta")
    status: StageStatus | None = Field(default=None, description="for stage events")


class Queued(BaseModel):
    ahead: int = Field(ge=0, description="earlier turns of the thread still unfinished")


class QueuedEvent(_Event):
    """Written by the submission itself, before any worker polls: always the first event."""

    type: Literal["queued"] = Field(description=TYPE)
    data: Queued = Field(description=DATA)


class StageEvent(_Event):
    """A node started, completed, failed, or is waiting on a question; `stage` `attempt`
    (status started) marks a re-run after a worker died."""

    type: Literal["stage"] = Field(description=TYPE)
    stage: str = Field(description="the node: intent, router, waste_rag, waste_rag#2, answer…")
    status: StageStatus = Field(description="started, completed, failed or waiting")
    data: dict[str, Any] = Field(
        description="node details: `slot` for tool nodes, `ms` when it ended, `error` (the "
        "type) when it failed, `attempt` for stage attempt"
    )


class Text(BaseModel):
    text: str = Field(description="a piece of the answer, in order")


class DeltaEvent(_Event):
    """A piece of the answer as it streams (best effort: `answer` has the whole text)."""

    type: Literal["delta"] = Field(description=TYPE)
    data: Text = Field(description=DATA)


class SourceOut(BaseModel):
    title: str = Field(description="what the source is called")
    kind: str = Field(description="knowledge_base, guide, map, weather, web, image, …")
    url: str | None = Field(default=None, description="where to read it, when it has one")


class Answer(BaseModel):
    text: str = Field(description="the whole answer")
    sources: list[SourceOut] = Field(description="where the answer came from")


class AnswerEvent(_Event):
    """The whole answer, once, just before `done`."""

    type: Literal["answer"] = Field(description=TYPE)
    data: Answer = Field(description=DATA)


class Persistence(BaseModel):
    conversation_id: str = Field(description="the conversation (`/api/v1/chat/{id}`)")
    user_id: str = Field(description="the principal that owns it")
    user_message: str = Field(description="the stored user message's id")
    assistant_message: str | None = Field(description="the stored answer's id (none: error)")
    assistant_message_created_at: str | None = Field(description="ISO 8601")


class Question(BaseModel):
    field: Literal["district"] = Field(description="what the chat needs to go on")
    question: str = Field(description="to show the person (어느 구에 계신가요?)")
    options: list[str] = Field(description="answers to offer; any text is accepted too")
    expires_at: float = Field(description="Unix seconds; unanswered by then: input_expired")
    input_url: str = Field(description="POST the answer here, with the same token")
    persistence: Persistence | None = Field(
        default=None, description="a stored conversation's turn: the question is its answer"
    )


class NeedsInputEvent(_Event):
    """The chat paused on a question. Answer it (POST input_url, or the thread's next
    message); the stream then ends with `resumed`, or with `error` input_expired."""

    type: Literal["needs_input"] = Field(description=TYPE)
    data: Question = Field(description=DATA)


class Successor(BaseModel):
    job_id: str = Field(description="the job that took the answer: follow its events_url")


class ResumedEvent(_Event):
    """Terminal: the paused turn goes on as another job."""

    type: Literal["resumed"] = Field(description=TYPE)
    data: Successor = Field(description=DATA)


class Usage(BaseModel):
    prompt_tokens: int = Field(description="tokens sent, over every model call of the chat")
    completion_tokens: int = Field(description="tokens received")
    calls: int = Field(description="model calls")
    cost_usd: float = Field(description="USD, from llm.prices (0 for an unlisted model)")


class AnswerGrade(BaseModel):
    score: float = Field(description="0-1, from the grading step's findings")
    passed: bool = Field(description="at or above the threshold (0.75)")
    by: Literal["rules", "model"] = Field(description="the rules, or a model where they could not")
    findings: list[str] = Field(description="what the checks found (a contradiction, a part left)")
    revised: bool = Field(description="rewritten, or marked uncertain, after a low grade")


class Done(BaseModel):
    failed_stages: list[str] = Field(description="lookups that failed; the answer says so")
    usage: Usage = Field(description="what the chat used")
    intents: list[str] = Field(default_factory=list, description="what the question asked")
    model: str | None = Field(default=None, description="the model that wrote the answer")
    provider: str | None = Field(
        default=None,
        description="its provider; `offline`: composed from the guidelines without a language "
        "model (a UI labels such answers)",
    )
    grade: AnswerGrade | None = Field(default=None, description="the grading step's verdict")
    persistence: Persistence | None = Field(
        default=None, description="a stored conversation's turn (`/api/v1` messages only)"
    )


class DoneEvent(_Event):
    """Terminal: the chat finished."""

    type: Literal["done"] = Field(description=TYPE)
    data: Done = Field(description=DATA)


class Failure(BaseModel):
    kind: str = Field(description=", ".join(ErrorKind))
    message: str = Field(description="for people; ours, never an upstream's text")
    usage: Usage | None = Field(default=None, description="what the chat used before it failed")
    limit: str | None = Field(
        default=None, description="budget_exceeded: tokens, cost, daily_tokens or daily_cost"
    )
    problems: list[str] | None = Field(default=None, description="invalid_request: what")
    persistence: Persistence | None = Field(
        default=None, description="a stored conversation's turn: its user message, no answer"
    )


class ErrorEvent(_Event):
    """Terminal: the chat did not finish."""

    type: Literal["error"] = Field(description=TYPE)
    data: Failure = Field(description=DATA)


ChatEvent = Annotated[
    QueuedEvent
    | StageEvent
    | DeltaEvent
    | AnswerEvent
    | NeedsInputEvent
    | ResumedEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
CHAT_EVENT = TypeAdapter(ChatEvent)
SCHEMA_NAME = "ChatEvent"
REF_TEMPLATE = "#/components/schemas/{model}"


def components() -> dict[str, Any]:
    """`ChatEvent` and the models it names, as OpenAPI components."""
    schema = CHAT_EVENT.json_schema(ref_template=REF_TEMPLATE, mode="serialization")
    defs = schema.pop("$defs", {})
    schema["description"] = (
        "The `data` of every SSE frame (its `event` is the `type`, its `id` the stream "
        "entry id). Exactly one terminal event (done, error or resumed) ends each stream."
    )
    return {**defs, SCHEMA_NAME: schema}


def sse_frame() -> dict[str, Any]:
    """One frame of the events stream, as OpenAPI 3.1 describes a text/event-stream item: its
    `data` is a ChatEvent in JSON (contentMediaType/contentSchema), so a client generator or a
    fuzzer checks the event itself, not the frame's text."""
    return {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "description": TYPE},
            "id": {
                "type": "string",
                "description": "the stream entry id; send it back as "
                "Last-Event-ID to resume after this event",
            },
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": {"$ref": REF_TEMPLATE.format(model=SCHEMA_NAME)},
            },
        },
    }
