"""The arq worker: `python -m app worker`.

`WorkerSettings` is for arq's own health probe (`arq --check app.entrypoints.worker.
WorkerSettings`, exit 0 while a worker reports in); run workers with `python -m app worker`,
which adds the chat's lease, terminal-event and Redis-outage handling to arq's Worker.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from app.settings import Settings, load_settings


def options(settings: Settings) -> dict[str, Any]:
    """arq Worker arguments for a fresh worker container (built, not started)."""
    from app.containers import WorkerContainer, arq_options

    return arq_options(WorkerContainer(settings=settings))


class _LazyWorkerSettings(dict[str, Any]):
    """arq reads WorkerSettings as a dict (and `check_health` reads its attributes). This one
    fills itself on first read, so importing the module builds nothing and reads no config."""

    def _resolved(self) -> dict[str, Any]:
        if not dict.__len__(self):
            self.update(options(load_settings(role="worker")))
        return self

    def items(self) -> Any:
        return dict.items(self._resolved())

    def __getattr__(self, name: str) -> Any:
        try:
            return self._resolved()[name]
        except KeyError:
            raise AttributeError(name) from None


WorkerSettings = _LazyWorkerSettings()


# Web frameworks dependency_injector's wiring imports when they are installed (to recognise
# their types), though the worker wires nothing: half a second of start-up CPU and their memory
# in every worker process. Marked absent here, the import finds none, and any use of them by
# the worker would fail loudly instead of being paid for silently.
NOT_IN_THE_WORKER = ("fastapi", "starlette", "werkzeug", "fast_depends", "flask")


def run(settings: Settings) -> None:
    """The worker loop (it handles SIGINT/SIGTERM: running jobs get `shutdown_grace`)."""
    for name in NOT_IN_THE_WORKER:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    from app.containers import WorkerContainer, arq_worker
    from app.containers_core import Startup

    startup = Startup(settings=settings)
    startup.logging()  # before arq's first record
    use_uvloop()
    # arq would retry its first connection five times, then end in a traceback.
    asyncio.run(startup.require(redis=True, checkpoint=True))
    arq_worker(WorkerContainer(settings=settings)).run()


def use_uvloop() -> None:
    """uvloop where it is installed (Linux, macOS): a tenth less CPU per chat, measured."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
