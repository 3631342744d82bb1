"""Secrets as they may be shown: masked in URLs, nested mappings and settings values."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

MASK = "**********"
SENSITIVE_KEY = re.compile(r"(api[_-]?key|authorization|password|secret|(^|_)token$|cookie)", re.I)


def mask_url(url: str) -> str:
    """`redis://:pw@host/0` → `redis://:**********@host/0`; anything else unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}{port}"))


def mask(value: Any, key: str = "") -> Any:
    """A value safe to print: secrets, sensitive keys and URL passwords masked, recursively."""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else "(empty)"
    if key and SENSITIVE_KEY.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return mask_url(value)
    return value


def secret_values(model: Any) -> list[str]:
    """Every secret in a settings tree: SecretStr values, URL passwords, sensitive mapping
    entries; so a redactor can mask them wherever they turn up (a provider echoing a key)."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif hasattr(type(value), "model_fields"):
            found.extend(secret_values(value))
        else:
            found.extend(_plain_secrets(value, name))
    return [s for s in found if s]


def _plain_secrets(value: Any, key: str) -> list[str]:
    if isinstance(value, str):
        if SENSITIVE_KEY.search(key):
            return [value]
        password = urlsplit(value).password if "://" in value else None
        return [password] if password else []
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _plain_secrets(v, str(k))]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _plain_secrets(v, key)]
    return []


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every known secret replaced (longest first; short values would mask words)."""
    for secret in sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
