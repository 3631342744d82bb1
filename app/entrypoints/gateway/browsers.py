"""What browsers need around the app: the guest cookie on the response that issued a guest,
and CORS with credentials for the origins the deployment names (the eco2 web client's)."""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import GatewaySettings

GUEST_COOKIE = "eco2_guest"


class GuestCookie:
    """Sets the cookie of a guest issued while handling the request (`request.state.
    guest_cookie`) on whatever response goes out, errors and streams included."""

    def __init__(self, app: ASGIApp, *, max_age_seconds: int, secure: bool) -> None:
        self.app = app
        # HttpOnly: no script reads it; SameSite=Lax: sent on the client's own requests and
        # top-level navigation, not on another site's form posts; Path=/: every /api/v1 path.
        # `Secure` only behind TLS: over plain http on 127.0.0.1 a Secure cookie is dropped.
        self._attributes = f"; Path=/; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax" + (
            "; Secure" if secure else ""
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = scope.get("state", {}).get("guest_cookie")
                if cookie:
                    header = f"{GUEST_COOKIE}={cookie}{self._attributes}".encode("latin-1")
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", header)]
            await send(message)

        await self.app(scope, receive, with_cookie)


def guest_cookie(app: ASGIApp, settings: GatewaySettings) -> GuestCookie:
    return GuestCookie(
        app, max_age_seconds=settings.guest_cookie_days * 86_400, secure=settings.behind_tls
    )


def cors(app: ASGIApp, settings: GatewaySettings) -> ASGIApp:
    """Outermost but the access log: a 413 or a preflight answers with CORS headers too."""
    if not settings.cors_origins:
        return app
    return CORSMiddleware(
        app,
        allow_origins=settings.cors_origins,  # named origins only (settings refuse "*")
        allow_credentials=True,
        allow_methods=["GET", "POST", "PATCH", "DELETE", "PUT"],
        allow_headers=["Content-Type", "Authorization", "X-API-Key", "Last-Event-ID"],
        expose_headers=["Retry-After"],
        max_age=600,
    )
