"""The web face: subscriber pages behind the signed links of the digests, and admin pages.

``create_app(app)`` builds the FastAPI app on an :class:`~digest_mailer.app.App`;
``serve`` runs it on uvicorn (the Procfile's web line). The pages call the services only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from digest_mailer.app import App
from digest_mailer.faces.web.context import message
from digest_mailer.faces.web.limits import RequestLimits
from digest_mailer.faces.web.pages import Pages
from digest_mailer.faces.web.security import Csrf, CsrfError, InvalidLink, SecurityHeaders

log = logging.getLogger(__name__)


def create_app(app: App) -> FastAPI:
    from digest_mailer.faces.web import (
        admin,
        admin_subscribers,
        archive,
        library,
        preferences,
        signup,
        sources,
    )
    from digest_mailer.faces.web import app as subscriber_pages

    # No /docs (they load scripts from a CDN) and no public schema; tests read app.openapi().
    web = FastAPI(title="digest-mailer", docs_url=None, redoc_url=None, openapi_url=None)
    pages = Pages(app.settings.templates_dir.parent / "web")
    web.state.app = app
    web.state.pages = pages
    web.state.admin = app.admin
    web.state.csrf = Csrf(app.secret_keys)  # the keys were read once, by the App

    @web.get("/healthz", response_class=JSONResponse)
    def healthz() -> dict[str, Any]:
        return app.status.health()

    # Pages for no known reader (home, a bad link, 404 …) are English; after a valid link
    # named its subscriber (context.reader_is) they speak the reader's language.
    @web.get("/", response_class=HTMLResponse)
    def home() -> Response:
        return pages.message("home")

    web.include_router(subscriber_pages.router)
    web.include_router(preferences.router)
    web.include_router(library.router)
    web.include_router(signup.router)
    web.include_router(admin.router)
    web.include_router(sources.router)
    web.include_router(archive.router)
    web.include_router(admin_subscribers.router)

    @web.exception_handler(InvalidLink)
    async def invalid_link(request: Request, exc: InvalidLink) -> Response:
        return message(request, "invalid_link", 400)

    @web.exception_handler(CsrfError)
    async def csrf_failed(request: Request, exc: CsrfError) -> Response:
        return message(request, "form_expired", 403)

    @web.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        key = {404: "not_found", 405: "not_allowed"}.get(exc.status_code, "refused")
        response = message(request, key, exc.status_code)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @web.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        return message(request, "bad_request", 400)

    @web.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method,
                  request.url.path.split("/")[1] if request.url.path else "")
        return message(request, "server_error", 500)

    max_bytes = app.settings.max_request_bytes

    def too_large(request: Request, limit: int) -> Response:
        # Before any route ran: no reader is known yet, so English; the import's gate has
        # let a live admin session through, so the admin's language.
        if request.scope["path"] == admin.IMPORT_PATH:
            return message(request, "too_large_file", 413,
                           limit=admin.MAX_UPLOAD_BYTES // 1_000_000)
        if limit == preferences.LIBRARY_REQUEST_BYTES:
            return pages.message("too_large_file", 413, limit=preferences.MAX_LIBRARY_MB)
        return pages.message("too_large", 413, limit=f"{limit:,}")

    # Inside SecurityHeaders (added last, so outermost): refusals get the headers too.
    web.add_middleware(RequestLimits, gates=[admin.gate, subscriber_pages.gate, signup.gate],
                       limit=lambda request: library.request_limit(
                           request, admin.request_limit(request, max_bytes)),
                       too_large=too_large)
    web.add_middleware(SecurityHeaders)
    return web


def serve(app: App, host: str, port: int) -> None:
    """Run the app on uvicorn; its access log is ours, with the link tokens cut out."""
    import uvicorn

    logging.getLogger("digest_mailer.faces.web.access").setLevel(logging.INFO)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("digest_mailer.faces.web.access").addHandler(logging.StreamHandler())
    logging.getLogger("digest_mailer.faces.web.access").propagate = False
    uvicorn.run(create_app(app), host=host, port=port, access_log=False,
                proxy_headers=True, server_header=False, log_level="info")


__all__ = ["create_app", "serve"]
