"""Admin pages under /admin: subscribers, CSV import, runs, sources, reader messages.

Closed (404) while ``DIGEST_ADMIN_PASSWORD`` is empty. The login (see ``login.py``) sets an
HttpOnly, SameSite=Strict cookie holding a random session token; every form carries a CSRF
token bound to the session. :func:`gate` refuses strangers before a request body is read.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as ReceivedFile

from digest_mailer.app import App
from digest_mailer.faces.web.context import FormText
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.context import pages_of as _pages
from digest_mailer.faces.web.login import ADMIN_COOKIE
from digest_mailer.services.admin import AdminAuth
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
    """The admin login; a 404 page while no admin password is set."""
    auth = _auth(request)
    if not auth.enabled:
        raise HTTPException(404)
    return auth


def _session_id(request: Request) -> str | None:
    return _open(request).session(request.cookies.get(ADMIN_COOKIE))


def _client(request: Request) -> str:
    # uvicorn puts the proxy's X-Forwarded-For here when it comes from a trusted proxy.
    return request.client.host if request.client else "-"


def _login_page(request: Request, error: str = "", status_code: int = 200,
                headers: dict[str, str] | None = None) -> Response:
    csrf = _csrf(request).make("admin-login")
    return _pages(request).render("admin/login.html", status_code, headers, error=error,
                                  csrf=csrf)


def _page(request: Request, name: str, sid: str, **context: Any) -> Response:
    csrf = _csrf(request).make(f"admin:{sid}")
    return _pages(request).render(name, csrf=csrf, **context)


async def gate(request: Request) -> Response | None:
    """Before any body is read: /admin is 404 while closed, and every admin form but the
    login and logout needs a live session (a stranger's upload is refused unread)."""
    path = request.scope["path"]  # decoded, as the router matches it
    if path != "/admin" and not path.startswith("/admin/"):
        return None
    auth = _auth(request)
    if not auth.enabled:
        return _pages(request).message("not_found", 404)
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
        minutes = f"{refused.retry_after} seconds" if refused.retry_after < 120 else (
            f"{refused.retry_after // 60} minutes")
        return _login_page(request, f"Too many wrong passwords. Try again in {minutes}.",
                           429, {"Retry-After": str(refused.retry_after)})
    if not auth.password_ok(password or ""):
        return _login_page(request, "Wrong password.", 403)
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
                 messages=seen.messages, active=seen.active, everyone=seen.everyone)


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
    return _page(request, "admin/import.html", sid, report=None, error="")


@router.post("/import", response_class=HTMLResponse)
async def import_upload(request: Request, csrf: FormText = None,
                        file: Annotated[UploadFile | None, File()] = None) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request, status_code=403)
    _csrf(request).check(csrf, f"admin:{sid}")
    if not isinstance(file, ReceivedFile):
        return _page(request, "admin/import.html", sid, report=None,
                     error="Choose a CSV file to upload.")
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _page(request, "admin/import.html", sid, report=None,
                     error=f"The file is larger than {MAX_UPLOAD_BYTES // 1_000_000} MB.")
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(request, "admin/import.html", sid, report=None,
                     error="The file is not UTF-8 text; save it as CSV UTF-8 and try again.")
    report = import_csv(_app(request), data)
    return _page(request, "admin/import.html", sid, report=report, error="")


def import_csv(app: App, data: bytes) -> dict[str, Any]:
    """Run the CLI's importer on the uploaded bytes (streamed in, no temporary file); a
    plain report for the page. The good rows are kept, the rejected ones listed."""
    report = app.subscribers.import_csv(data, skip_invalid=True)
    return {
        "summary": report.summary(),
        "added": list(report.added), "updated": list(report.updated),
        "unchanged": list(report.unchanged),
        "kept_unsubscribed": list(getattr(report, "kept_unsubscribed", [])),
        "rejected": [(e.line, e.column, e.reason) for e in report.rejected],
    }


__all__ = ["IMPORT_REQUEST_BYTES", "MAX_UPLOAD_BYTES", "gate", "import_csv", "request_limit",
           "router"]
