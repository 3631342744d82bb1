"""Photos for the eco2 client (POST /api/v1/images/{channel} + PUT upload_url): a grant to
upload one photo, the upload itself (type by its bytes, a quota per principal), and the photo
served to its owner alone. The bytes land where `upload:<name>` photos do, so the workers hand
them to the vision model the same way."""

from __future__ import annotations

import secrets

from app.application.access.upload_grants import UploadGrant, UploadGrants
from app.application.photos import PhotoUnavailable, owned_photo, sniffed, upload_name
from app.application.ports.access import PhotoQuotaPort, UsageLimiterPort
from app.application.ports.stores import OwnedPhotoStorePort
from app.domain.access import Principal
from app.domain.errors import DomainError

CHANNELS = ("chat", "scan", "my")
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


class UploadNotGranted(DomainError):
    """The upload URL's signature is forged, altered, expired or for another URL."""


class PhotoRefused(DomainError):
    """The body is not the photo the grant was for (its Content-Type or its bytes)."""


class PhotoAlreadyUploaded(DomainError):
    """The grant's key holds a photo already: a grant uploads once."""


class PhotoUploads:
    def __init__(
        self,
        grants: UploadGrants,
        store: OwnedPhotoStorePort,
        limiter: UsageLimiterPort,
        quota: PhotoQuotaPort,
    ) -> None:
        self._grants = grants
        self._store = store
        self._limiter = limiter
        self._quota = quota
        self.expires_in = grants.ttl_seconds

    async def grant(self, caller: Principal, channel: str, content_type: str) -> tuple[str, str]:
        """A new key and the signature that lets its holder PUT one photo there. Counts against
        the caller's rate like a chat. Raises LimitExceeded."""
        await self._limiter.admit(caller.id)
        key = f"{secrets.token_hex(16)}.{EXTENSIONS[content_type]}"
        return key, self._grants.sign(UploadGrant(channel, key, caller.id, content_type))

    def granted(self, channel: str, key: str, signature: str | None) -> UploadGrant:
        grant = self._grants.verify(channel, key, signature)
        if grant is None:
            raise UploadNotGranted("the upload URL is invalid or expired; ask for a new one")
        return grant

    async def receive(self, grant: UploadGrant, claimed: str, data: bytes) -> None:
        """Keep the photo for the grant's owner. Raises PhotoRefused, PhotoAlreadyUploaded,
        LimitExceeded (the quota: nothing is counted for a photo refused before it)."""
        if claimed != grant.content_type or sniffed(data) != grant.content_type:
            raise PhotoRefused(f"send the {grant.content_type} photo the URL was made for")
        if await self._store.owner(grant.key) is not None:
            raise PhotoAlreadyUploaded("this upload URL was used; ask for a new one")
        await self._quota.take(grant.owner, len(data))
        # A race between two PUTs with one URL: the store keeps the first.
        stored = await self._store.put(
            grant.key, grant.channel, grant.owner, data, grant.content_type
        )
        if not stored:
            raise PhotoAlreadyUploaded("this upload URL was used; ask for a new one")

    async def keep(self, caller: Principal, claimed: str, data: bytes) -> str:
        """A photo sent whole in one request (`POST /v1/uploads`): its name. The same rate, type
        check and quota as a granted upload. Raises LimitExceeded, PhotoRefused."""
        await self._limiter.admit(caller.id)
        actual = sniffed(data)
        if actual is None or actual != claimed:
            raise PhotoRefused("send a png, jpeg or webp photo with its Content-Type")
        await self._quota.take(caller.id, len(data))
        return await self._store.save(data, actual)

    async def photo(self, caller: Principal, channel: str, key: str) -> tuple[bytes, str]:
        """The photo, for its owner; anyone else learns nothing (PhotoUnavailable, as for a
        photo that never was)."""
        if not _allowed(caller, await self._store.owner(key), channel):
            raise PhotoUnavailable("no such photo (or it expired)")
        found = await self._store.load(key)
        if found is None:
            raise PhotoUnavailable("no such photo (or it expired)")
        return found

    async def check_reference(self, caller: Principal, url: str) -> bool:
        """Whether `url` names a photo the gateway keeps (False: some other URL). One of the
        caller's own `cdn_url`s, or an `upload:<name>`, must still be there: PhotoUnavailable
        otherwise: someone else's photo is unavailable too, by either name."""
        name = upload_name(url)
        if name is None:
            return False
        owner = await self._store.owner(name)
        owned = owned_photo(url)
        if not _allowed(caller, owner, owned[0] if owned else None):
            raise PhotoUnavailable("the photo expired (or never was); upload it again")
        if await self._store.load(name) is None:
            raise PhotoUnavailable("the photo expired (or never was); upload it again")
        return True


def _allowed(caller: Principal, owner: tuple[str, str] | None, channel: str | None) -> bool:
    """A photo with an owner is the owner's alone, by its cdn_url (on its channel) or as
    `upload:<name>`; a cdn_url always names an owned photo."""
    if owner is None:
        return channel is None
    return owner[1] == caller.id and channel in (None, owner[0])
