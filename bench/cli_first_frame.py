"""How soon `ask` shows something on a terminal, beside how long the whole turn takes.

    .venv/bin/python bench/cli_first_frame.py [--runs 3]

Runs `python -m app ask` on a pseudo-terminal (the live view) and times the first byte it draws
and its exit. The floor is a bare interpreter's start (`python -c pass`) on the same machine:
the first frame cannot come sooner than that.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import time

QUESTION = "페트병 어떻게 버려요?"


def timed(command: list[str]) -> tuple[float, float]:
    """(seconds to the first byte on the terminal, seconds to exit)."""
    primary, secondary = pty.openpty()
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(secondary)
    first = None
    while True:
        ready, _, _ = select.select([primary], [], [], 0.05)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            if first is None:
                first = time.perf_counter() - started
        elif process.poll() is not None:
            break
    process.wait()
    os.close(primary)
    total = time.perf_counter() - started
    return (first if first is not None else total), total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    floor = statistics.median(timed([sys.executable, "-c", "print()"])[0] for _ in range(runs))
    figures = [timed([sys.executable, "-m", "app", "ask", QUESTION]) for _ in range(runs)]
    first = statistics.median(f for f, _ in figures)
    total = statistics.median(t for _, t in figures)
    print(f"floor: bare interpreter start          {floor:6.2f} s")
    print(f"ask: first frame on the terminal       {first:6.2f} s")
    print(f"ask: whole turn, offline               {total:6.2f} s")
    print(f"first frame after {first / total:.0%} of the turn")


if __name__ == "__main__":
    main()
