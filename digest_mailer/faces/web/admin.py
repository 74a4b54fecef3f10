"""Admin pages under /admin: subscribers, CSV import, runs, sources, reader messages.

Closed (404) while ``DIGEST_ADMIN_PASSWORD`` is empty. The login (see ``login.py``) sets an
HttpOnly, SameSite=Strict cookie holding a random session token; every form carries a CSRF
token bound to the session. :func:`gate` refuses strangers before a request body is read.
The pages, their refusals and their error pages speak ``DIGEST_ADMIN_LANGUAGE``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as ReceivedFile

from digest_mailer import i18n
from digest_mailer.app import App
from digest_mailer.faces.web.context import FormText, lang_of, speak
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.context import pages_of as _pages
from digest_mailer.faces.web.dashboard import charts
from digest_mailer.faces.web.login import ADMIN_COOKIE
from digest_mailer.services.admin import AdminAuth
from digest_mailer.services.import_report import worded
from digest_mailer.services.importer import COLUMNS
from digest_mailer.services.subscribers import STATUSES

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


def _import_page(request: Request, sid: str, report: dict[str, Any] | None = None,
                 error: str = "") -> Response:
    return _page(request, "admin/import.html", sid, report=report, error=error,
                 columns=COLUMNS)


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


@router.get("/subscribers", response_class=HTMLResponse)
def subscribers(request: Request, q: str = "", status: str = "", page: int = 1) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request)
    q = q.strip()[:200]
    status = status if status in STATUSES else ""
    page = min(max(page, 1), 1_000_000)
    rows, total = _app(request).subscribers.search(q, status, offset=(page - 1) * PER_PAGE,
                                                   limit=PER_PAGE)
    return _page(request, "admin/subscribers.html", sid, rows=rows, total=total, q=q,
                 status=status, statuses=STATUSES, page=page,
                 pages=max(1, math.ceil(total / PER_PAGE)))


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request)
    return _import_page(request, sid)


@router.post("/import", response_class=HTMLResponse)
async def import_upload(request: Request, csrf: FormText = None,
                        file: Annotated[UploadFile | None, File()] = None) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request, status_code=403)
    _csrf(request).check(csrf, f"admin:{sid}")
    if not isinstance(file, ReceivedFile):
        return _import_page(request, sid, error=_t(request, "page.admin.import.no_file"))
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _import_page(request, sid, error=_t(request, "page.too_large_file.text",
                                                    limit=MAX_UPLOAD_BYTES // 1_000_000))
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _import_page(request, sid, error=_t(request, "page.admin.import.not_utf8"))
    return _import_page(request, sid, import_csv(_app(request), data, lang_of(request)))


def import_csv(app: App, data: bytes, lang: str = i18n.REFERENCE) -> dict[str, Any]:
    """Run the CLI's importer on the uploaded bytes (streamed in, no temporary file); a
    plain report for the page, in ``lang``. The good rows are kept, the rejected ones
    listed with their reasons in ``lang``."""
    report = app.subscribers.import_csv(data, skip_invalid=True)
    summary = i18n.t(lang, "page.admin.import.summary", added=len(report.added),
                     updated=len(report.updated), unchanged=len(report.unchanged),
                     kept=len(report.kept_unsubscribed), rejected=len(report.rejected_lines))
    return {
        "summary": summary,
        "added": list(report.added), "updated": list(report.updated),
        "unchanged": list(report.unchanged),
        "kept_unsubscribed": list(report.kept_unsubscribed),
        "rejected": [(e.line, e.column, worded(e, lang)) for e in report.rejected],
    }


__all__ = ["IMPORT_REQUEST_BYTES", "MAX_UPLOAD_BYTES", "gate", "import_csv", "request_limit",
           "router"]
