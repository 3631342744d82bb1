"""Where tests leave files for people to look at (gitignored): screenshots of the chat page."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.paths import REPO

ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"


def screenshot_path(test_name: str) -> Path:
    """`artifacts/screenshots/<test>.png`, the folder made on demand; a parametrised test's
    brackets and other odd characters become underscores."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', test_name)}.png"
