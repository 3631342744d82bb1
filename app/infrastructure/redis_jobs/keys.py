"""Every Redis key this service writes: the one module that spells them (the job protocol's,
and at the end the prefixes of the caches, images, uploads and limits).

Python calls the functions; the Lua steps get the keys as KEYS, or, for a key of a job only
known inside Redis (the thread's next turn, a paused job), its template in `lua_templates()`,
filled in with `string.format`. arq's own prefixes come from `arq.constants`, as arq's do.
"""

from __future__ import annotations

import json
import socket
from functools import cache

from arq.constants import (
    abort_jobs_ss,
    health_check_key_suffix,
    in_progress_key_prefix,
    job_key_prefix,
)

# Prefixes of the keys outside the job protocol.
CACHE = "eco2:cache:"  # intent classifications (RedisCache)
SERVICE_CACHE = "eco2:svc:"  # the tool services' deterministic lookups
IMAGES = "eco2:image:"  # generated images (RedisImageStore)
UPLOADS = "eco2:upload:"  # uploaded photos, read by the gateway and the workers
UPLOAD_OWNERS = "eco2:upload-owner:"  # "<channel> <principal>" of a photo kept for its owner
LIMITS = "eco2:limits"  # rate limits and budgets (the `limits` library adds its own parts)

# STRING: the time (ms) this Redis's data began, set (NX) by every submission: gone with the
# data when Redis restarts empty or is flushed, so a job issued before it that Redis does not
# know any more was lost, not never issued (see ArqChatJobs.status).
RUN = "chat:run"
# ZSET: jobs paused on a question, scored by the time (ms) the question expires.
WAITING = "chat:waiting"
# arq's ZSET of jobs to abort: a running one is cancelled on its worker's next poll.
ARQ_ABORTS = abort_jobs_ss


def stream_key(job_id: str) -> str:
    """The job's events (a Redis Stream): the single home of its answer."""
    return f"chat:{job_id}:events"


def job_of_stream(key: str) -> str:
    """The job id in a `stream_key`."""
    return key.removeprefix("chat:").removesuffix(":events")


def meta_key(job_id: str) -> str:
    """The job's hash: seq, attempt, terminal kind, its turn list and queue, liveness."""
    return f"chat:{job_id}:meta"


def pending_key(job_id: str) -> str:
    """A turn waiting behind an earlier one on its thread: its arq payload, until released."""
    return f"chat:{job_id}:pending"


def turns_key(thread_id: str) -> str:
    """The thread's unfinished turns in order (a list of job ids): the head runs."""
    return f"chat:thread:{thread_id}:turns"


def owner_key(thread_id: str) -> str:
    """The principal that owns the thread (access checks; kept alive while it is used)."""
    return f"chat:thread:{thread_id}:owner"


def hub_wake_key(hub_id: str) -> str:
    """A StreamHub's own stream: a new follower's write wakes the hub's blocking XREAD."""
    return f"chat:hub:{hub_id}:wake"


def arq_job_key(job_id: str) -> str:
    """arq's queued job payload."""
    return job_key_prefix + job_id


def arq_in_progress_key(job_id: str) -> str:
    """arq's claim on a running job (the worker renews it as the job's lease)."""
    return in_progress_key_prefix + job_id


def wake_key(queue_name: str) -> str:
    """A list each submission pushes to: an idle worker blocks on it instead of polling."""
    return f"{queue_name}:wake"


def queue_health_key(queue_name: str) -> str:
    """arq's queue-wide health key: present while some worker of the queue reports in."""
    return queue_name + health_check_key_suffix


def worker_key(queue_name: str, pid: int) -> str:
    """Present while the worker with this pid (on this host) is alive and polling."""
    return f"{queue_name}:workers:{socket.gethostname()}:{pid}"


@cache
def lua_templates() -> str:
    """The per-job keys as `string.format` templates, JSON for the Lua steps' ARGV."""
    slot = "%s"  # job ids are hex and queue names ours: nothing in them reads as a format
    return json.dumps(
        {
            "events": stream_key(slot),
            "meta": meta_key(slot),
            "pending": pending_key(slot),
            "job": arq_job_key(slot),
            "wake": wake_key(slot),
        }
    )
