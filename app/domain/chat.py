"""A chat turn: the request, the intents found in it, and the result."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from app.domain.language import Language
from app.domain.llm import TokenUsage

MAX_MESSAGE_CHARS = 4000


class Intent(StrEnum):
    """The built-in tools' intents: the ones the routing rules speak of. An intent is a name,
    and a registered tool may serve one of its own (the chat's tool registry says which)."""

    WASTE = "waste"
    CHARACTER = "character"
    LOCATION = "location"
    BULK_WASTE = "bulk_waste"
    RECYCLABLE_PRICE = "recyclable_price"
    WEATHER = "weather"
    COLLECTION_POINT = "collection_point"
    WEB_SEARCH = "web_search"
    IMAGE_GENERATION = "image_generation"
    GENERAL = "general"


def intent_named(name: str) -> Intent | str:
    """A built-in intent as its member (typed in state and checkpoints), any other as itself."""
    try:
        return Intent(name)
    except ValueError:
        return name


# A registered intent's name; which names are registered is the chat's tool registry's business.
IntentName = Annotated[Intent | str, BeforeValidator(intent_named)]


# C0 controls but tab, newline and carriage return; DEL; lone surrogates (no valid UTF-8).
FORBIDDEN_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# The same rules as JSON Schema patterns, so the OpenAPI document promises what we accept
# (explicit ASCII classes: JSON Schema's \s and Rust's, which pydantic uses, differ).
TEXT = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"
CLEAN_TEXT = rf"^{TEXT}*$"
# "Blank" is ASCII whitespace only: JSON Schema's \s and Python's disagree on the rest.
NOT_BLANK = rf"^{TEXT}*[^ \t\n\r\x00-\x1f\x7f]{TEXT}*$"
# A photo the gateway keeps for its owner (`cdn_url` of POST /api/v1/images/{channel}): a path
# on the gateway, which the workers read from the photo store like an `upload:<name>`.
PHOTO_PATH = r"/api/v1/images/(chat|scan|my)/([0-9a-f]{32}\.(png|jpeg|webp))"
IMAGE_URL = (
    r"^(https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?(/[^\x00-\x20\x7f]*)?"
    r"|data:image/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/=]+"
    rf"|upload:[0-9a-f]{{32}}\.(png|jpeg|webp)|{PHOTO_PATH})$"
)


def clean_text(value: str) -> str:
    """Text as it may be stored: no NUL, no control characters, no lone surrogates."""
    if FORBIDDEN_CHARS.search(value):
        raise ValueError("contains control characters or invalid unicode")
    return value


class Location(BaseModel):
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    # strict: a number, never `true` read as 1 (the schema says number; so does the check)
    latitude: float = Field(ge=-90, le=90, strict=True, description="WGS84 degrees north")
    longitude: float = Field(ge=-180, le=180, strict=True, description="WGS84 degrees east")
    address: str | None = Field(
        default=None,
        max_length=300,
        pattern=CLEAN_TEXT,
        description="the address as the person gave it, if any (used for district rules)",
    )

    _address = field_validator("address")(lambda v: v if v is None else clean_text(v))


class ChatDraft(BaseModel):
    """What a person sends, validated once where it enters (gateway body, CLI arguments)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str = Field(
        min_length=1,
        max_length=MAX_MESSAGE_CHARS,
        pattern=NOT_BLANK,
        description="the question, in Korean or English (not blank, no control characters)",
    )
    image_url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2048,
        pattern=IMAGE_URL,
        description="https (http only where the deployment allows it), data:image/...;base64, "
        "upload:<name> from POST /v1/uploads, or a cdn_url from POST /api/v1/images/{channel}",
    )
    location: Location | None = Field(
        default=None, description="where the person is: for nearby bins, weather, district rules"
    )
    language: Language | None = Field(
        default=None, description="the answer's language; omitted: the message's own"
    )
    model: str | None = Field(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z0-9._:/-]+$",
        description="the model to answer with (e.g. gpt-5.2); one this deployment cannot "
        "serve is answered by the configured default, and the result says which answered",
    )

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        value = clean_text(value).strip(" \t\n\r")
        if not value:
            raise ValueError("message is blank")
        return value

    def for_thread(self, thread_id: str) -> ChatRequest:
        return ChatRequest(**self.model_dump(), thread_id=thread_id)


class ChatRequest(ChatDraft):
    """A turn of a thread. `thread_id` keys the conversation memory."""

    thread_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    # The message answers the question the thread is waiting on (POST …/input, `ask --input`);
    # a plain message answers it only when it reads as an answer (a district's name).
    answers_question: bool = False
    # The thread is a stored conversation of this principal: the turn's messages are recorded
    # (once) before its terminal event. None: a `/v1` thread, kept only as memory.
    conversation_owner: str | None = Field(default=None, max_length=128)
    # The thread was issued for this turn: it has no memory yet, so the worker reads none (no
    # checkpoint read, no question to resume). Set by whoever issued the thread, never a client.
    new_thread: bool = False


class InputRequest(BaseModel):
    """What a paused turn asks the person for ('어느 구에 계신가요?'), as `needs_input` says."""

    model_config = ConfigDict(frozen=True)

    field: Literal["district"]
    question: str
    options: list[str] = Field(default_factory=list)

    @property
    def said(self) -> str:
        """The question as a message says it (a client that knows no question events, and
        the conversation's history, show it so): with its options."""
        if not self.options:
            return self.question
        return f"{self.question}\n({', '.join(self.options)})"


class IntentScore(BaseModel):
    """One intent found in the message, with the part of the message it is about."""

    model_config = ConfigDict(frozen=True)

    intent: IntentName
    confidence: float = Field(ge=0.0, le=1.0)
    reasoning: str = Field(default="", max_length=300)
    query: str = Field(default="", description="the sub-question this intent answers")


class IntentClassification(BaseModel):
    """The intents of one message, most confident first."""

    model_config = ConfigDict(frozen=True)

    intents: list[IntentScore] = Field(min_length=1, max_length=5)

    @property
    def primary(self) -> IntentScore:
        return max(self.intents, key=lambda score: score.confidence)


class Subject(BaseModel):
    """The item a turn was about, kept so the next turn's "뚜껑은요?" can lean on it."""

    model_config = ConfigDict(frozen=True)

    name_ko: str
    name_en: str
    asked: str = ""  # the question that found it: '그럼 영수증도?' borrows its predicate

    def name(self, language: Language) -> str:
        return self.name_en if language == "en" else self.name_ko


class Source(BaseModel):
    """Where part of an answer came from."""

    model_config = ConfigDict(frozen=True)

    title: str
    kind: str
    url: str | None = None


class Grade(BaseModel):
    """How an answer held up to the grader's checks: every part answered, the yes or no
    agreeing with the rule of the item it cites, every figure from a source, the asker's
    language. `by`: the rules, or a model where the rules could not decide."""

    model_config = ConfigDict(frozen=True)

    score: float = Field(ge=0.0, le=1.0)
    passed: bool
    by: Literal["rules", "model"] = "rules"
    findings: tuple[str, ...] = ()
    revised: bool = False  # the answer was rewritten (or marked uncertain) after a low grade


class ChatResult(BaseModel):
    """The answer to one turn, and what went into it."""

    thread_id: str
    answer: str
    intents: list[IntentName]
    sources: list[Source] = Field(default_factory=list)
    failed_stages: list[str] = Field(default_factory=list)
    usage: TokenUsage = TokenUsage()
    needs_input: InputRequest | None = None  # the turn paused to ask this; `answer` is empty
    model: str | None = None  # the model that wrote the answer (None: no model call)
    provider: str | None = None  # its provider; `offline`: composed without a model
    grade: Grade | None = None
