"""What ChatWorker relies on inside arq's Worker, pinned: an arq upgrade that renames, removes
or reshapes any of it fails here, by name, instead of breaking leases or endings in production.

pyproject pins arq to one minor version; raise the pin only with this file green.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import arq
import pytest
from arq.worker import Worker

from app.infrastructure.redis_jobs.worker import ChatWorker, chat

PINNED_MINOR = "0.28"

# Methods ChatWorker overrides or calls, with the parameters (after self) it passes.
METHODS: dict[str, tuple[str, ...]] = {
    "_poll_iteration": (),  # private: the only place a Redis error of the poll can be caught
    "_cancel_aborted_jobs": (),  # private: read at most every ABORT_CHECK_SECONDS
    "start_jobs": ("job_ids",),
    "run_job": ("job_id", "score"),
    "finish_job": (
        "job_id",
        "finish",
        "result_data",
        "result_timeout_s",
        "keep_result_forever",
        "incr_score",
        "keep_in_progress",
    ),
    "finish_failed_job": ("job_id", "result_data"),
    "record_health": (),
    "close": (),  # its shutdown also when Redis is down
}
# Attributes ChatWorker reads or sets, set by arq's __init__.
ATTRIBUTES = (
    "tasks",
    "job_counter",
    "max_jobs",
    "allow_pick_jobs",
    "in_progress_timeout_s",
    "health_check_interval",
    "queue_name",
    "ctx",
    "on_shutdown",
    "pool",
)


def test_arq_is_the_pinned_minor_version() -> None:
    assert arq.VERSION.rsplit(".", 1)[0] == PINNED_MINOR, (
        f"arq {arq.VERSION} is installed; ChatWorker was checked against {PINNED_MINOR}.x: "
        "read arq's worker.py for the names below, then move the pin and PINNED_MINOR"
    )


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_arq_method_we_override_keeps_its_name_and_signature(name: str) -> None:
    method: Callable[..., Any] | None = getattr(Worker, name, None)
    assert method is not None, f"arq.worker.Worker.{name} is gone"
    assert inspect.iscoroutinefunction(method), f"Worker.{name} is no longer a coroutine"
    parameters = tuple(inspect.signature(method).parameters)[1:]
    assert parameters == METHODS[name], f"Worker.{name}{parameters} changed"
    assert name in vars(ChatWorker), f"ChatWorker no longer overrides {name}: drop it here"


def test_the_poll_loop_still_runs_through_poll_iteration() -> None:
    # ChatWorker's outage handling and wake-ups live in its _poll_iteration: arq's main loop
    # must still call it, and arq's own _poll_iteration must still start jobs and beat.
    assert "self._poll_iteration()" in inspect.getsource(Worker.main)
    poll = inspect.getsource(Worker._poll_iteration)
    assert "self.start_jobs(" in poll and "self.heart_beat()" in poll


def test_a_started_job_frees_its_slot_in_a_done_callback() -> None:
    # ChatWorker adds its own done callback after arq's, which must be the one to free the slot.
    source = inspect.getsource(Worker.start_jobs)
    assert "self.tasks[job_id] = t" in source and "add_done_callback" in source


async def test_every_attribute_we_use_is_set_by_arqs_constructor() -> None:
    worker = ChatWorker(functions=[chat], queue_name="q")  # connects only when run
    missing = [name for name in ATTRIBUTES if not hasattr(worker, name)]
    assert not missing, f"arq's Worker no longer sets {missing}"


async def test_only_these_private_names_of_arq_are_touched() -> None:
    plain = Worker(functions=[chat], queue_name="q")
    source = inspect.getsource(ChatWorker)
    touched = set(re.findall(r"\b(?:self|super\(\))\.(_[a-z]\w*)", source))
    arqs = {name for name in touched if hasattr(plain, name)}
    assert arqs == {"_poll_iteration", "_cancel_aborted_jobs"}, (
        f"ChatWorker uses arq's private {sorted(arqs)}"
    )


def test_the_poll_still_reads_aborts_through_cancel_aborted_jobs() -> None:
    # ChatWorker reads the abort set at most every ABORT_CHECK_SECONDS by wrapping this step.
    assert "self._cancel_aborted_jobs()" in inspect.getsource(Worker._poll_iteration)
