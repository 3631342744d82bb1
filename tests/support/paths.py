"""Where the repository keeps what tests read: the profiles users copy, the packaged defaults."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "config"
PACKAGED_DEFAULTS = REPO / "app" / "settings" / "default.yaml"
