"""The protocol's Lua steps (`publish`, `submit`, `reconcile`), shipped as package data.

Each runs atomically in Redis. Keys of a job known only inside a step (the thread's next turn)
are built there from `keys.lua_templates()`, which standalone Redis allows; Cluster would not.
"""

from __future__ import annotations

from importlib.resources import files

SHARED = "functions.lua"


def script(name: str) -> str:
    """The step's source: the shared functions (`takeover`, `release`, `key`), then the step.

    One file of shared functions read before each step rather than a copy in each: the two
    subtle moves of the protocol then have one text to review, and a step cannot drift."""
    folder = files(__name__)
    shared = folder.joinpath(SHARED).read_text(encoding="utf-8")
    return shared + "\n" + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")
