"""The arq worker: `python -m app worker`.

`WorkerSettings` is for arq's own health probe (`arq --check app.entrypoints.worker.
WorkerSettings`, exit 0 while a worker reports in); run workers with `python -m app worker`,
which adds the chat's lease, terminal-event and Redis-outage handling to arq's Worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import structlog

from app.settings import Settings, load_settings

log = structlog.get_logger(__name__)


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
    """The worker loop (it handles SIGINT/SIGTERM: running jobs get `shutdown_grace`); with
    `worker.processes` above one, that many loops in processes forked once Kiwi is loaded."""
    for name in NOT_IN_THE_WORKER:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    from app.containers_core import Startup

    startup = Startup(settings=settings)
    startup.logging()  # before arq's first record
    # arq would retry its first connection five times, then end in a traceback. (asyncio's
    # own loop: uvloop's resolver would leave libuv's threads behind before a fork.)
    asyncio.run(startup.require(redis=True, checkpoint=True))
    if settings.worker.processes == 1:
        serve(settings)
        return
    import app.containers  # noqa: F401  (the chat graph's modules, imported once for all)
    from app.containers_retrieval import Retrieval

    retrieval = Retrieval(settings=settings)
    retrieval.keyword_index()  # and Kiwi: built once, before the fork, the processes share them
    retrieval.morphology()
    status = run_forked(
        settings.worker.processes, lambda index: serve(for_process(settings, index), retrieval)
    )
    if status:
        sys.exit(status)


def serve(settings: Settings, retrieval: Any = None) -> None:
    """One worker loop; `retrieval`: a `Retrieval` container built already (by the parent)."""
    from app.containers import WorkerContainer, arq_worker

    use_uvloop()
    shared = {} if retrieval is None else {"retrieval": retrieval}
    arq_worker(WorkerContainer(settings=settings, **shared), started=freeze_heap).run()


def freeze_heap() -> None:
    """What is alive now lives as long as the process (the keyword index, the knowledge base,
    the compiled graph): out of the collector's passes from here on. Before a fork this keeps
    the pages shared; after start-up it spares each pass a walk over ~220,000 objects (680
    offline chats measured: GC 0.27 ms a chat without, 0.08 with)."""
    gc.collect()
    gc.freeze()


def for_process(settings: Settings, index: int) -> Settings:
    """The settings of forked process `index`: its own metrics port (worker_port + index)."""
    port = settings.metrics.worker_port
    if not port or not index:  # None: no server; 0: any free port
        return settings
    metrics = settings.metrics.model_copy(update={"worker_port": port + index})
    return settings.model_copy(update={"metrics": metrics})


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def run_forked(count: int, serve: Callable[[int], None]) -> int:
    """`serve(index)` in `count` processes forked from this one, which waits for them. They
    live and end together: a signal is passed on to each, and when one ends by itself the
    others are stopped (whatever supervises the worker restarts the whole). The exit status
    is that of the first to fail."""
    freeze_heap()  # what the processes inherit stays out of their collections: pages stay shared
    children: set[int] = set()
    stopping = False

    def stop(signum: int, frame: object = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    # Blocked while forking: a signal then reaches the parent once it can pass it on.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    for index in range(count):
        pid = os.fork()
        if pid == 0:
            _child(serve, index)
        children.add(pid)
    before = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    log.info("worker.forked", processes=sorted(children))
    status = 0
    try:
        while children:
            pid, code = os.wait()
            children.discard(pid)
            if not stopping:
                status = os.waitstatus_to_exitcode(code) or 1
                log.error("worker.process_ended", pid=pid, status=status, fix="see its log above")
                stop(signal.SIGTERM)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
    return status


def _child(serve: Callable[[int], None], index: int) -> NoReturn:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)  # arq sets its own once its loop runs
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    code = 1
    try:
        serve(index)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # never the parent's exit handlers


def use_uvloop() -> None:
    """uvloop where it is installed (Linux, macOS): a tenth less CPU per chat, measured."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
