"""Busy processes beside a test, so a guarantee is shown to hold with every core saturated."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_hogs(count: int | None = None) -> Iterator[None]:
    """One spinning process per core (or `count`), killed on exit."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(count or os.cpu_count() or 2)
    ]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait(10)
