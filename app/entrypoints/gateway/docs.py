"""API docs that work with no way out: Swagger UI and ReDoc from assets installed with the
package (fastapi-offline ships them), never a CDN; the OpenAPI document with the SSE schema."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.domain.chat import IMAGE_URL
from app.entrypoints.gateway import event_schema

ASSETS = "/docs/assets"
OPENAPI_URL = "/openapi.json"
PRINCIPAL_SCHEMES = {"HTTPBearer", "APIKeyHeader"}  # FastAPI's names for routes' BEARER, API_KEY


def install(
    app: FastAPI, *, allow_http_image_urls: bool = False, allow_anonymous: bool = False
) -> None:
    """/docs (Swagger UI), /redoc and their assets; the app must be made with docs_url and
    redoc_url None so FastAPI does not add its CDN pages."""
    app.mount(ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets")
    title = app.title

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=OPENAPI_URL,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.update(event_schema.components())
            _our_validation_errors(schema)
            if not allow_http_image_urls:
                _https_image_urls(schema)
            if allow_anonymous:
                _credentials_optional(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook


def _https_image_urls(node: Any) -> None:
    """The domain's image_url pattern takes http too (a deployment may allow it); where this one
    does not, the document says https, so a client (or a fuzzer) that keeps to the document is
    not refused for a scheme it was told is fine."""
    if isinstance(node, dict):
        if node.get("pattern") == IMAGE_URL:
            node["pattern"] = IMAGE_URL.replace("https?://", "https://", 1)
        for value in node.values():
            _https_image_urls(value)
    elif isinstance(node, list):
        for value in node:
            _https_image_urls(value)


def _credentials_optional(schema: dict[str, Any]) -> None:
    """Where anonymous use is allowed, a request without credentials is served (on /api/v1 a
    browser becomes a guest by cookie): each operation's security takes `{}`, OpenAPI's "no
    credentials" alternative, so the document does not promise a 401 the server never gives.
    A job's own operations keep asking for its token: that is not a principal's credential."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            security = operation.get("security")
            if security and all(set(one) <= PRINCIPAL_SCHEMES for one in security):
                security.append({})


def _our_validation_errors(schema: dict[str, Any]) -> None:
    """FastAPI adds a 422 of its own shape to every operation with parameters that declares
    none. Ours declare each 422 they can give (with ErrorResponse, as errors.py answers it);
    where one declares none, its parameters cannot fail (a free path segment), so the guess
    goes."""
    theirs = "#/components/schemas/HTTPValidationError"
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            content = responses.get("422", {}).get("content", {})
            if content.get("application/json", {}).get("schema", {}).get("$ref") == theirs:
                del responses["422"]
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)
