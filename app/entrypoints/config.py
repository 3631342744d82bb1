"""`config show` and `config check`."""

from __future__ import annotations

import sys
from typing import TextIO

from app.settings import Settings
from app.settings.report import explain


def show_config(settings: Settings, config_file: str | None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    entries = explain(settings, config_file)
    width = max(len(e.key) for e in entries)
    for entry in entries:
        print(f"{entry.key:<{width}}  {entry.value:<30}  [{entry.source}]", file=out)
    return 0


def check_config(settings: Settings, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    services = [
        name
        for name in type(settings.services).model_fields
        if getattr(settings.services, name).enabled
    ]
    print(
        f"configuration OK: llm {settings.llm.provider} ({settings.llm.effective_model}); "
        f"services on: {', '.join(services) or 'none'}; "
        f"tracing {'on' if settings.tracing.enabled else 'off'}",
        file=out,
    )
    return 0
