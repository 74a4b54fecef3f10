"""Admin pages of the sources under /admin/sources: the list with an add form (a test
fetch that must parse), and one page per source with its settings, disable/enable,
"fetch now", remove (with who lost its category) and its last fetches.

Behind admin.gate like every /admin page; every form carries the session's CSRF token.
Each POST answers with the page showing its result (no redirect: the result is the page).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from digest_mailer.faces.web.admin import _login_page, _page, _session_id, _t
from digest_mailer.faces.web.context import FormText, lang_of
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.ingest.parsers import KINDS

router = APIRouter(prefix="/admin/sources")


def _checked(request: Request, csrf: str | None) -> str:
    """The session of a POST whose CSRF token is good. admin.gate has turned strangers
    away before the body was read: only a session that ended since gets the 403 here."""
    sid = _session_id(request)
    if sid is None:
        raise HTTPException(403)
    _csrf(request).check(csrf, f"admin:{sid}")
    return sid


def _errors(request: Request, errors: Any) -> dict[str, str]:
    return {e.field: e.reason(lang_of(request)) for e in errors}


def _list(request: Request, sid: str, status_code: int = 200, **context: Any) -> Response:
    values = {"form": {"url": "", "label": "", "category": "", "kind": ""}, "errors": {},
              "removal": None, **context}
    response = _page(request, "admin/sources.html", sid, sources=_app(request).sources.every(),
                     kinds=KINDS, **values)
    response.status_code = status_code
    return response


def _one(request: Request, sid: str, source_id: int, status_code: int = 200,
         **context: Any) -> Response:
    found = _app(request).sources.history(str(source_id))
    if found is None:
        raise HTTPException(404)
    source, fetches = found
    values = {"notice": "", "notice_kind": "ok", "errors": {}, "moved": (),
              "form": {"label": source.label, "category": source.category,
                       "kind": source.kind}, **context}
    response = _page(request, "admin/source.html", sid, source=source, fetches=fetches,
                     kinds=KINDS, **values)
    response.status_code = status_code
    return response


@router.get("", response_class=HTMLResponse)
def sources(request: Request) -> Response:
    sid = _session_id(request)
    return _login_page(request) if sid is None else _list(request, sid)


@router.post("", response_class=HTMLResponse)
def add(request: Request, csrf: FormText = None, url: FormText = None, label: FormText = None,
        category: FormText = None, kind: FormText = None) -> Response:
    sid = _checked(request, csrf)
    form = {"url": url or "", "label": label or "", "category": category or "",
            "kind": kind or ""}
    change = _app(request).sources.add(form["url"], form["label"], form["category"],
                                       form["kind"] or None)
    if change.errors or change.source is None or change.source.id is None:
        return _list(request, sid, 400, form=form, errors=_errors(request, change.errors))
    count = change.fetch.entry_count if change.fetch else 0
    return _one(request, sid, change.source.id,
                notice=_t(request, "page.admin.sources.added", n=count))


@router.get("/{source_id}", response_class=HTMLResponse)
def source_page(request: Request, source_id: int) -> Response:
    sid = _session_id(request)
    return _login_page(request) if sid is None else _one(request, sid, source_id)


@router.post("/{source_id}/edit", response_class=HTMLResponse)
def edit(request: Request, source_id: int, csrf: FormText = None, label: FormText = None,
         category: FormText = None, kind: FormText = None) -> Response:
    sid = _checked(request, csrf)
    change = _app(request).sources.edit(str(source_id), label or "", category or "",
                                        kind or None)
    if change.source is None:
        raise HTTPException(404)
    if change.errors:
        form = {"label": label or "", "category": category or "", "kind": kind or ""}
        return _one(request, sid, source_id, 400, form=form, notice_kind="bad",
                    notice=_t(request, "page.admin.sources.refused"),
                    errors=_errors(request, change.errors))
    return _one(request, sid, source_id, notice=_t(request, "page.admin.sources.saved"),
                moved=change.moved)


@router.post("/{source_id}/active", response_class=HTMLResponse)
def set_active(request: Request, source_id: int, csrf: FormText = None,
               active: FormText = None) -> Response:
    sid = _checked(request, csrf)
    wanted = active == "1"
    if _app(request).sources.set_active(str(source_id), wanted) is None:
        raise HTTPException(404)
    key = "enabled_now" if wanted else "disabled_now"
    return _one(request, sid, source_id, notice=_t(request, f"page.admin.sources.{key}"))


@router.post("/{source_id}/fetch", response_class=HTMLResponse)
def fetch_now(request: Request, source_id: int, csrf: FormText = None) -> Response:
    sid = _checked(request, csrf)
    done = _app(request).sources.fetch_now(str(source_id))
    if done is None:
        raise HTTPException(404)
    fetch = done[1]
    if fetch.error is not None:
        notice, kind = _t(request, "page.admin.sources.fetch_failed", error=fetch.error), "bad"
    elif fetch.not_modified:
        notice, kind = _t(request, "page.admin.sources.not_modified"), "ok"
    else:
        notice, kind = _t(request, "page.admin.sources.fetched", n=fetch.entry_count,
                          count=fetch.entries_new), "ok"
    return _one(request, sid, source_id, notice=notice, notice_kind=kind)


@router.post("/{source_id}/remove", response_class=HTMLResponse)
def remove(request: Request, source_id: int, csrf: FormText = None,
           confirm: FormText = None) -> Response:
    sid = _checked(request, csrf)
    if confirm != "yes":  # the box is required in the form; a bare POST removes nothing
        return _one(request, sid, source_id, 400, notice_kind="bad",
                    notice=_t(request, "page.admin.sources.confirm_needed"))
    removal = _app(request).sources.remove(str(source_id))
    if removal is None:
        raise HTTPException(404)
    return _list(request, sid, removal=removal)


__all__ = ["router"]
