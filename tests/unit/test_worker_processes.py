"""`worker.processes`: loops forked from the process that loaded Kiwi, ending together."""

from __future__ import annotations

import gc
import signal
import sys
import time
from collections.abc import Iterator

import pytest

from app.entrypoints.worker import for_process, run_forked
from app.settings import load_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # run_forked freezes what its children inherit


def test_each_process_serves_metrics_on_a_port_of_its_own() -> None:
    settings = load_settings(metrics={"worker_port": 9464})
    assert [for_process(settings, i).metrics.worker_port for i in range(3)] == [9464, 9465, 9466]
    assert for_process(settings, 1).worker == settings.worker
    for port in (None, 0):  # no server; any free port
        assert for_process(load_settings(metrics={"worker_port": port}), 2).metrics.worker_port == (
            port
        )


def test_the_first_to_fail_stops_the_others_and_gives_the_status(unfrozen: None) -> None:
    def serve(index: int) -> None:
        if index == 1:
            sys.exit(3)
        time.sleep(120)  # until stopped

    started = time.monotonic()
    handler = signal.getsignal(signal.SIGTERM)
    assert run_forked(3, serve) == 3
    assert time.monotonic() - started < 60  # the sleepers were stopped, not waited for
    assert signal.getsignal(signal.SIGTERM) == handler  # the caller's handlers are back
