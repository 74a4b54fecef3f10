"""Admin pages under /admin: the login, the gate and the overview (runs, sources, reader
messages); the subscribers and the import are in ``admin_subscribers.py``.

Closed (404) while ``DIGEST_ADMIN_PASSWORD`` is empty. The login (see ``login.py``) sets an
HttpOnly, SameSite=Strict cookie holding a random session token; every form carries a CSRF
token bound to the session. :func:`gate` refuses strangers before a request body is read.
The pages, their refusals and their error pages speak ``DIGEST_ADMIN_LANGUAGE``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from digest_mailer import i18n
from digest_mailer.faces.web.context import FormText, lang_of, speak
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.context import pages_of as _pages
from digest_mailer.faces.web.dashboard import charts
from digest_mailer.faces.web.login import ADMIN_COOKIE
from digest_mailer.services.admin import AdminAuth

router = APIRouter(prefix="/admin")

PER_PAGE = 50
MAX_UPLOAD_BYTES = 5_000_000  # the CSV file; the one place its size is decided
# The whole import request may be this much larger: the multipart framing and CSRF field.
IMPORT_REQUEST_BYTES = MAX_UPLOAD_BYTES + 64 * 1024
IMPORT_PATH = "/admin/import"


def _auth(request: Request) -> AdminAuth:
    return request.app.state.admin  # type: ignore[no-any-return]


def _open(request: Request) -> AdminAuth:
    """The admin login; a 404 page (like any other) while no admin password is set."""
    auth = _auth(request)
    if not auth.enabled:
        raise HTTPException(404)
    _speak_admin(request)
    return auth


def _speak_admin(request: Request) -> None:
    # Also read by the error handlers (form expired, server error) through lang_of.
    speak(request, _app(request).settings.admin_language)


def _t(request: Request, key: str, **fmt: Any) -> str:
    return i18n.t(lang_of(request), key, **fmt)


def _session_id(request: Request) -> str | None:
    return _open(request).session(request.cookies.get(ADMIN_COOKIE))


def _client(request: Request) -> str:
    # uvicorn puts the proxy's X-Forwarded-For here when it comes from a trusted proxy.
    return request.client.host if request.client else "-"


def _login_page(request: Request, error: str = "", status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    csrf = _csrf(request).make("admin-login")
    return _pages(request).render("admin/login.html", status_code, headers,
                                  lang=lang_of(request), error=error, csrf=csrf)


def _page(request: Request, name: str, sid: str, **context: Any) -> Response:
    csrf = _csrf(request).make(f"admin:{sid}")
    return _pages(request).render(name, lang=lang_of(request), csrf=csrf, **context)


async def gate(request: Request) -> Response | None:
    """Before any body is read: /admin is 404 while closed, and every admin form but the
    login and logout needs a live session (a stranger's upload is refused unread)."""
    path = request.scope["path"]  # decoded, as the router matches it
    if path != "/admin" and not path.startswith("/admin/"):
        return None
    auth = _auth(request)
    if not auth.enabled:
        return _pages(request).message("not_found", 404)
    _speak_admin(request)
    if path in ("/admin/login", "/admin/logout"):
        return None
    sid = await run_in_threadpool(auth.session, request.cookies.get(ADMIN_COOKIE))
    if sid is None:
        return _login_page(request, status_code=403)
    return None


def request_limit(request: Request, default: int) -> int:
    """The body limit of a route: the import's own, or ``DIGEST_MAX_REQUEST_BYTES``."""
    return IMPORT_REQUEST_BYTES if request.scope["path"] == IMPORT_PATH else default


# --- login -----------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    _open(request)
    return _login_page(request)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, password: FormText = None, csrf: FormText = None) -> Response:
    auth = _open(request)
    _csrf(request).check(csrf, "admin-login")
    client = _client(request)
    refused = auth.throttle.attempt(client)
    if refused is not None:
        wait = refused.retry_after
        text = (_t(request, "page.admin.login.wait_seconds", n=wait) if wait < 120
                else _t(request, "page.admin.login.wait_minutes", n=wait // 60))
        return _login_page(request, text, 429, {"Retry-After": str(wait)})
    if not auth.password_ok(password or ""):
        return _login_page(request, _t(request, "page.admin.login.wrong"), 403)
    auth.throttle.succeeded(client)
    response = RedirectResponse("/admin", status_code=303)
    response.set_cookie(ADMIN_COOKIE, auth.issue(client), max_age=auth.max_age,
                        path="/admin", httponly=True, samesite="strict",
                        secure=_app(request).settings.base_url.startswith("https://"))
    return response


@router.post("/logout", response_class=HTMLResponse)
def logout(request: Request, csrf: FormText = None) -> Response:
    auth = _open(request)
    cookie = request.cookies.get(ADMIN_COOKIE)
    sid = auth.session(cookie)
    if sid is not None:
        _csrf(request).check(csrf, f"admin:{sid}")
        auth.revoke(cookie)  # the session ends on the server, not only in this browser
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/admin", httponly=True, samesite="strict")
    return response


# --- pages -----------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def overview(request: Request) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request)
    seen = _app(request).status.overview()
    return _page(request, "admin/overview.html", sid, sources=seen.sources, runs=seen.runs,
                 messages=seen.messages, active=seen.active, everyone=seen.everyone,
                 charts=charts(seen.days, lang_of(request)))


__all__ = ["IMPORT_REQUEST_BYTES", "MAX_UPLOAD_BYTES", "PER_PAGE", "gate", "request_limit",
           "router"]
