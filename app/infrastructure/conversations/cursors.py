"""Page cursors: a position in a listing, signed with the store's own secret and bound to the
owner and the listing, so a cursor the store never issued is InvalidCursor."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime, timedelta

from app.domain.conversations import InvalidCursor

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SIGNATURE_BYTES = 16


def new_secret() -> str:
    """The signing secret a store keeps in its own table (made once, by `migrate`)."""
    return secrets.token_urlsafe(32)


def to_micros(moment: datetime) -> int:
    """A timestamp as whole microseconds since the epoch: exact in both databases."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class CursorCodec:
    """Issues and reads the cursors of one store."""

    def __init__(self, secret: str) -> None:
        self._key = secret.encode()

    def list_cursor(self, owner: str, activity: datetime, conversation_id: str) -> str:
        return self._issue(f"list\n{owner}", [to_micros(activity), conversation_id])

    def read_list_cursor(self, owner: str, cursor: str) -> tuple[datetime, str]:
        position = self._read(f"list\n{owner}", cursor)
        match position:
            case [int(micros), str(conversation_id)]:
                return from_micros(micros), conversation_id
        raise InvalidCursor("this cursor does not belong to this listing")

    def history_cursor(self, owner: str, conversation_id: str, seq: int) -> str:
        return self._issue(f"history\n{owner}\n{conversation_id}", [seq])

    def read_history_cursor(self, owner: str, conversation_id: str, cursor: str) -> int:
        match self._read(f"history\n{owner}\n{conversation_id}", cursor):
            case [int(seq)]:
                return seq
        raise InvalidCursor("this cursor does not belong to this listing")

    def _issue(self, scope: str, position: list[int | str]) -> str:
        payload = _encode(json.dumps(position, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(scope, payload)}"

    def _read(self, scope: str, cursor: str) -> object:
        payload, _, signature = cursor.partition(".")
        if not (cursor.isascii() and hmac.compare_digest(signature, self._sign(scope, payload))):
            raise InvalidCursor("this cursor was not issued for this listing")
        try:
            return json.loads(_decode(payload))
        except (ValueError, binascii.Error) as exc:  # signed, so only after a secret leak
            raise InvalidCursor("this cursor cannot be read") from exc

    def _sign(self, scope: str, payload: str) -> str:
        digest = hmac.new(self._key, f"{scope}\n{payload}".encode(), hashlib.sha256).digest()
        return _encode(digest[:SIGNATURE_BYTES])


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
