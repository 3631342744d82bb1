"""Which language a message is in (Korean or English is all the product speaks)."""

from __future__ import annotations

import re
from typing import Literal

HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
LATIN = re.compile(r"[A-Za-z]")
Language = Literal["ko", "en"]


def detect_language(text: str) -> Language:
    """Korean when Hangul is at least a quarter of the letters (product names are often Latin)."""
    hangul = len(HANGUL.findall(text))
    latin = len(LATIN.findall(text))
    return "ko" if hangul and hangul * 3 >= latin else "en"
