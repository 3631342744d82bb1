"""Guest identities: a signed id in a cookie; anything else about the cookie is no identity."""

from __future__ import annotations

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from pydantic import SecretStr, ValidationError

from app.application.access.guests import SALT, GuestIdentities
from app.settings import GatewaySettings

SECRET = b"s" * 32


def test_an_issued_cookie_names_its_guest_and_only_it() -> None:
    guests = GuestIdentities(SECRET)
    first, cookie = guests.issue()
    second, _ = guests.issue()
    assert first.id.startswith("guest-") and first != second
    assert guests.read(cookie) == first


def test_forged_altered_foreign_or_stale_cookies_are_no_identity() -> None:
    guests = GuestIdentities(SECRET)
    _, cookie = guests.issue()
    forged = URLSafeTimedSerializer(b"x" * 32, salt=SALT).dumps("guest-" + "0" * 32)
    # Signed with our secret but not a guest id (a job token's payload, say).
    not_a_guest = URLSafeTimedSerializer(SECRET, salt=SALT).dumps("anonymous")
    for bad in (None, "", cookie[:-2] + "xx", forged, not_a_guest, "a" * 600):
        assert guests.read(bad) is None


class TwoDaysAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return super().get_timestamp() - 2 * 86_400


def test_a_cookie_older_than_its_days_is_no_identity() -> None:
    stale = URLSafeTimedSerializer(SECRET, salt=SALT, signer=TwoDaysAgo).dumps("guest-" + "1" * 32)
    assert GuestIdentities(SECRET, max_age_days=1).read(stale) is None
    assert GuestIdentities(SECRET, max_age_days=3).read(stale) is not None


def test_a_rotated_secret_still_reads_the_old_cookies() -> None:
    guest, cookie = GuestIdentities(SECRET).issue()
    rotated = GuestIdentities(SecretStr("n" * 32), previous=[SECRET])
    assert rotated.read(cookie) == guest


@pytest.mark.parametrize("origin", ["*", "https://*.example", "example.com", "https://a.b/path"])
def test_cors_origins_must_be_named_origins(origin: str) -> None:
    with pytest.raises(ValidationError, match="cors_origins"):
        GatewaySettings(cors_origins=[origin])
    assert GatewaySettings(cors_origins=["http://127.0.0.1:5173"]).cors_origins
