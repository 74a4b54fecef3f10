"""Admin pages of the subscribers: the searchable list and its CSV export, one
subscriber's page (history, votes, replies, a preview and a test send of today's digest,
resubscribe with a reason), and the browser import (upload → dry-run preview → confirm).

The gate of ``admin.py`` has refused strangers before any of these runs; each handler
still finds the session (for the CSRF binding) and calls the services only.
"""

from __future__ import annotations

import io
import math
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile as ReceivedFile

from digest_mailer import i18n
from digest_mailer.errors import DeliveryError, ImportConflict, ProfileError
from digest_mailer.faces.web.admin import (
    MAX_UPLOAD_BYTES,
    PER_PAGE,
    _login_page,
    _page,
    _session_id,
    _t,
)
from digest_mailer.faces.web.context import FormText, lang_of
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.security import VIEW_CSP
from digest_mailer.services.import_report import ImportReport, worded
from digest_mailer.services.importer import COLUMNS
from digest_mailer.services.subscriber_admin import NotResubscribable, ReasonMissing
from digest_mailer.services.subscribers import SEARCHABLE, STATUSES

router = APIRouter(prefix="/admin")

# The preview is the digest's own HTML: no script, no form, no access to this origin.
PREVIEW_CSP = VIEW_CSP + "; sandbox"


def _live(request: Request) -> str:
    sid = _session_id(request)
    if sid is None:  # the gate lets no stranger this far; a session may end meanwhile
        raise HTTPException(403)
    return sid


def _checked(request: Request, csrf: str | None) -> str:
    sid = _live(request)
    _csrf(request).check(csrf, f"admin:{sid}")
    return sid


# --- the list and its export -------------------------------------------------------------

@router.get("/subscribers", response_class=HTMLResponse)
def subscribers(request: Request, q: str = "", field: str = "", status: str = "",
                page: int = 1) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request)
    q = q.strip()[:200]
    field = field if field in SEARCHABLE else ""
    status = status if status in STATUSES else ""
    page = min(max(page, 1), 1_000_000)
    rows, total = _app(request).subscribers.search(q, status, field=field,
                                                   offset=(page - 1) * PER_PAGE, limit=PER_PAGE)
    return _page(request, "admin/subscribers.html", sid, rows=rows, total=total, q=q,
                 field=field, fields=SEARCHABLE, status=status, statuses=STATUSES, page=page,
                 pages=max(1, math.ceil(total / PER_PAGE)))


@router.get("/subscribers/export.csv")
def export(request: Request) -> Response:
    """The CSV of `digest-mailer subscribers export`, formula-looking cells neutralised."""
    _live(request)
    app = _app(request)
    handle = io.StringIO()
    app.subscribers.export(handle)
    name = f"subscribers-{app.clock():%Y-%m-%d}.csv"  # ours, never the client's
    return Response(handle.getvalue().encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "Cache-Control": "no-store"})


# --- one subscriber ------------------------------------------------------------------------

def _subscriber_page(request: Request, sid: str, subscriber_id: int, *, notice: str = "",
                     error: str = "", status_code: int = 200, to: str = "") -> Response:
    file = _app(request).subscriber_admin.file(subscriber_id)
    if file is None:
        raise HTTPException(404)
    response = _page(request, "admin/subscriber.html", sid, file=file, s=file.subscriber,
                     notice=notice, error=error, cadence=file.subscriber.cadence,
                     to=to or _app(request).settings.admin_email)
    response.status_code = status_code
    return response


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def subscriber(request: Request, subscriber_id: int) -> Response:
    return _subscriber_page(request, _live(request), subscriber_id)


@router.get("/subscribers/{subscriber_id}/preview", response_class=HTMLResponse)
def preview(request: Request, subscriber_id: int) -> Response:
    _live(request)
    rendered = _app(request).subscriber_admin.preview(subscriber_id)
    if rendered is None:
        raise HTTPException(404)
    return HTMLResponse(rendered.html, headers={"Content-Security-Policy": PREVIEW_CSP,
                                                "Cache-Control": "no-store"})


@router.post("/subscribers/{subscriber_id}/resubscribe", response_class=HTMLResponse)
def resubscribe(request: Request, subscriber_id: int, csrf: FormText = None,
                reason: FormText = None) -> Response:
    sid = _checked(request, csrf)
    try:
        done = _app(request).subscriber_admin.resubscribe(subscriber_id, reason or "")
    except ReasonMissing:
        return _subscriber_page(request, sid, subscriber_id, status_code=400,
                                error=_t(request, "page.admin.subscriber.reason_missing"))
    except NotResubscribable:
        return _subscriber_page(request, sid, subscriber_id, status_code=409,
                                error=_t(request, "page.admin.subscriber.pending"))
    if done is None:
        raise HTTPException(404)
    return _subscriber_page(request, sid, subscriber_id,
                            notice=_t(request, "page.admin.subscriber.resubscribed"))


@router.post("/subscribers/{subscriber_id}/test", response_class=HTMLResponse)
def send_test(request: Request, subscriber_id: int, csrf: FormText = None,
              to: FormText = None) -> Response:
    sid = _checked(request, csrf)
    typed = (to or "").strip()[:320]
    if not typed:
        return _subscriber_page(request, sid, subscriber_id, status_code=400,
                                error=_t(request, "page.admin.subscriber.test_no_address"))
    try:
        address = _app(request).subscriber_admin.send_test(subscriber_id, typed)
    except ProfileError as err:
        return _subscriber_page(request, sid, subscriber_id, status_code=400, to=typed,
                                error=_t(request, "page.admin.subscriber.test_bad_address",
                                         reason=err.reason))
    except DeliveryError as err:
        return _subscriber_page(request, sid, subscriber_id, status_code=502, to=typed,
                                error=_t(request, "page.admin.subscriber.test_failed",
                                         reason=err.reason[:300]))
    if address is None:
        raise HTTPException(404)
    return _subscriber_page(request, sid, subscriber_id, to=typed,
                            notice=_t(request, "page.admin.subscriber.test_sent",
                                      address=address))


# --- the browser import --------------------------------------------------------------------

def _import_page(request: Request, sid: str, report: dict[str, Any] | None = None,
                 error: str = "", status_code: int = 200) -> Response:
    response = _page(request, "admin/import.html", sid, report=report, error=error,
                     columns=COLUMNS)
    response.status_code = status_code
    return response


def shown(report: ImportReport, lang: str, token: str | None) -> dict[str, Any]:
    """An import's report as the page shows it: a preview (nothing written, the token of
    the kept upload), a refusal (nothing written) or what was imported."""
    state = ("preview" if report.dry_run else "refused" if report.refused else "imported")
    counts = dict(added=len(report.added), updated=len(report.updated),
                  unchanged=len(report.unchanged), kept=len(report.kept_unsubscribed),
                  rejected=len(report.rejected_lines))
    summary = i18n.t(lang, f"page.admin.import.{state}_summary", **counts)
    return {
        "state": state, "summary": summary, "token": token if not report.written else None,
        "added": list(report.added),
        "updated": [(e, ", ".join(report.changes.get(e, ()))) for e in report.updated],
        "unchanged": list(report.unchanged),
        "kept_unsubscribed": [(e, report.previous_status.get(e, ""))
                              for e in report.kept_unsubscribed],
        "rejected": [(e.line, e.column, worded(e, lang)) for e in report.rejected],
        "good_rows": len(report.added) + len(report.updated),
    }


@router.get("/import", response_class=HTMLResponse)
def import_form(request: Request) -> Response:
    sid = _session_id(request)
    if sid is None:
        return _login_page(request)
    return _import_page(request, sid)


@router.post("/import", response_class=HTMLResponse)
async def import_upload(request: Request, csrf: FormText = None,
                        file: Annotated[UploadFile | None, File()] = None) -> Response:
    """The upload: a dry run of the CLI's importer on it, the bytes kept for the confirm."""
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
    token, report = _app(request).import_drafts.preview(sid, data)
    return _import_page(request, sid, shown(report, lang_of(request), token))


@router.post("/import/confirm", response_class=HTMLResponse)
def import_confirm(request: Request, csrf: FormText = None, token: FormText = None,
                   mode: FormText = None) -> Response:
    """Apply the previewed upload: all or nothing, or (``mode=good``) only the good rows."""
    sid = _checked(request, csrf)
    try:
        report = _app(request).import_drafts.confirm(sid, token or "", good_rows=mode == "good")
    except ImportConflict:
        return _import_page(request, sid, status_code=409,
                            error=_t(request, "page.admin.import.conflict"))
    if report is None:
        return _import_page(request, sid, status_code=410,
                            error=_t(request, "page.admin.import.expired"))
    return _import_page(request, sid, shown(report, lang_of(request), token))


__all__ = ["router", "shown"]
