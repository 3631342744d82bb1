"""One place per key: the job protocol's Redis keys are spelled in redis_jobs/keys.py alone, and
the Lua steps build a job's keys from the same templates Python uses."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

import app
from app.infrastructure.redis_jobs import keys, lua, serialization

# A key literal: a quoted 'chat:' or 'arq:' prefix, or a formatted key's suffix.
KEY_LITERAL = re.compile(
    r"""["'](?:chat|arq):|\}:(?:events|meta|pending|turns|owner|wake|workers)\b"""
)


def test_the_lua_templates_give_the_keys_python_builds() -> None:
    templates = json.loads(keys.lua_templates())
    job = uuid.uuid4().hex
    assert templates["events"] % job == keys.stream_key(job)
    assert templates["meta"] % job == keys.meta_key(job)
    assert templates["pending"] % job == keys.pending_key(job)
    assert templates["job"] % job == keys.arq_job_key(job)
    assert templates["wake"] % "eco2:chat" == keys.wake_key("eco2:chat")


def test_no_module_but_keys_spells_a_protocol_key() -> None:
    root = Path(app.__file__).parent
    sources = [p for p in root.rglob("*") if p.suffix in (".py", ".lua") and p.name != "keys.py"]
    offenders = [
        f"{path.relative_to(root)}: {match.group()}"
        for path in sources
        for match in KEY_LITERAL.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_each_step_is_its_shared_functions_then_its_own_file() -> None:
    for name, own in (("publish", "'HMGET', meta"), ("submit", "redis.call('EXPIRE', KEYS[1]")):
        source = lua.script(name)
        assert source.index("local function takeover") < source.index(own)


def test_an_arq_job_whose_fields_have_the_wrong_types_is_unreadable() -> None:
    """arq does arithmetic on `et` and `t` before it runs a job: a string there failed every
    try and the job ran again each lease (issue 20). Unreadable, arq ends it at once."""
    good = {"t": 1, "f": "chat", "a": [{}], "k": {}, "et": 1}
    assert serialization.loads(serialization.dumps(good)) == good
    assert serialization.loads(serialization.dumps({**good, "t": None}))["t"] is None
    for field, value in (("et", "soon"), ("et", True), ("t", "1"), ("a", 3), ("k", []), ("f", 1)):
        with pytest.raises(ValueError, match=field):
            serialization.loads(serialization.dumps({**good, field: value}))
