"""Asking back: a node that cannot answer without something only the person knows (their
district) raises InputNeeded; the graph pauses there and the person's answer resumes it."""

from __future__ import annotations

from collections.abc import Sequence

from app.domain.chat import InputRequest
from app.domain.districts import find_district, seoul_districts
from app.domain.language import Language

QUESTIONS = {
    "ko": "어느 구(시·군)에 계신가요? 지역마다 수수료와 수거 방법이 달라요.",
    "en": "Which district (구, 시 or 군) are you in? Fees and pickup differ by district.",
}


class InputNeeded(Exception):  # a request to the person, not an error
    """The node needs `request` answered before it can look anything up."""

    def __init__(self, request: InputRequest) -> None:
        super().__init__(request.question)
        self.request = request


def ask_for_district(language: Language, options: Sequence[str] = ()) -> InputNeeded:
    return InputNeeded(
        InputRequest(
            field="district",
            question=QUESTIONS[language],
            options=list(options) or seoul_districts(),
        )
    )


def district_in(*texts: str | None) -> str | None:
    """The first real district any of the texts names (a tool argument, the question…)."""
    for text in texts:
        found = find_district(text) if text else None
        if found:
            return found
    return None


def accepts(request: InputRequest, message: str) -> str | None:
    """The answer a message gives to the question, or None when it does not answer it."""
    # One field so far; a new one adds its reader here.
    return find_district(message) if request.field == "district" else None
