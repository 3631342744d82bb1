"""Who is asking: principals and their API keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

PRINCIPAL_NAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"


class Principal(BaseModel):
    """A caller of the API: the owner of threads, limits and budgets."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=PRINCIPAL_NAME)
    anonymous: bool = False


ANONYMOUS = Principal(id="anonymous", anonymous=True)


class KeyInfo(BaseModel):
    """An API key as stored: never the key itself, only a hash of its secret part."""

    model_config = ConfigDict(frozen=True)

    key_id: str
    principal: str = Field(pattern=PRINCIPAL_NAME)
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IssuedKey(BaseModel):
    """What `keys create` shows once: the whole key. It cannot be shown again."""

    model_config = ConfigDict(frozen=True)

    key: str
    info: KeyInfo
