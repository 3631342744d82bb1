"""Prompts. The guide is the assistant's standing reference until the knowledge base lands."""

from __future__ import annotations

from functools import cache
from pathlib import Path

ASSISTANT_ROLE = (
    "You are eco2, an assistant for recycling and waste disposal in Korea. Answer in the "
    "user's language, briefly, as steps. Follow Korea's separate-disposal rules; when a rule "
    "differs by district, say so. If you do not know, say what to check instead of guessing."
)


@cache
def disposal_guide() -> str:
    """Korea's general separate-disposal rules, Korean with English, one topic a line."""
    return Path(__file__).with_name("disposal_guide.txt").read_text(encoding="utf-8")
