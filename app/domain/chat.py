"""A chat turn: the request, the intents found in it, and the result."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.domain.language import Language
from app.domain.llm import TokenUsage

MAX_MESSAGE_CHARS = 4000


class Intent(StrEnum):
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


class Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    address: str | None = None


class ChatRequest(BaseModel):
    """What the user sent. `thread_id` keys the conversation memory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    thread_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
    user_id: str | None = Field(default=None, max_length=128)
    image_url: str | None = Field(default=None, max_length=2048)
    location: Location | None = None
    language: Language | None = None

    @field_validator("message")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message is blank")
        return value.strip()

    @field_validator("image_url")
    @classmethod
    def _image_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "data:image/")):
            raise ValueError("image_url must be an http(s) URL or a data:image/... URL")
        return value


class IntentScore(BaseModel):
    """One intent found in the message, with the part of the message it is about."""

    model_config = ConfigDict(frozen=True)

    intent: Intent
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


class Source(BaseModel):
    """Where part of an answer came from."""

    model_config = ConfigDict(frozen=True)

    title: str
    kind: str
    url: str | None = None


class ChatResult(BaseModel):
    """The answer to one turn, and what went into it."""

    thread_id: str
    answer: str
    intents: list[Intent]
    sources: list[Source] = Field(default_factory=list)
    failed_stages: list[str] = Field(default_factory=list)
    usage: TokenUsage = TokenUsage()
