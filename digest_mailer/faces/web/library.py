"""The library part of the preferences page: the reader's seeds listed, one removed, a library
file uploaded, the "what I work on" statement saved. Every form is a POST under /p/{token}/,
CSRF-checked, answered with the preferences page and a notice (or an error) in its library part.

The upload is parsed here, in memory: a part never rolls over to a temporary file (nothing of
the file reaches the disk), its name and type are ignored, and it reaches no header and no link.
A file the parser refuses shows the parser's reason (in the reader's language) and line, and
nothing is stored.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from digest_mailer import i18n
from digest_mailer.domain.library_refusal import worded
from digest_mailer.errors import LibraryError
from digest_mailer.faces.web.context import FormText, lang_of
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.preferences import (
    LIBRARY_REQUEST_BYTES,
    MAX_LIBRARY_BYTES,
    PreferencesForm,
    preferences_page,
    reader_of,
)
from digest_mailer.ingest.parse import MAX_ABSTRACT
from digest_mailer.services.subscribers import Subscriber
from digest_mailer.text import one_line

router = APIRouter()


def request_limit(request: Request, default: int) -> int:
    """The body limit of a route: the library upload's own, else ``default``."""
    path = request.scope["path"]
    return LIBRARY_REQUEST_BYTES if path.startswith("/p/") and path.endswith("/library") \
        else default


class _InMemoryParser(MultiPartParser):
    # A part larger than this would roll over to a temporary file; the request is capped
    # below it (RequestLimits), so the file stays in memory.
    spool_max_size = LIBRARY_REQUEST_BYTES + 1


def _answer(request: Request, subscriber: Subscriber, known: list[str], *, notice: str = "",
            error: str = "", statement_error: str = "", statement: str | None = None,
            status_code: int = 200) -> Response:
    form = PreferencesForm.of(subscriber, _app(request).settings.max_papers)
    return preferences_page(request, subscriber, known, form, status_code=status_code,
                            library={"notice": notice, "error": error,
                                     "statement_error": statement_error,
                                     "statement": statement})


def _refusal(lang: str, err: LibraryError) -> str:
    """The parser's refusal as a sentence of the reader's language, reason included."""
    reason = worded(err, lang)
    if err.line:
        return i18n.t(lang, "page.library.bad_file_line", line=err.line, reason=reason)
    return i18n.t(lang, "page.library.bad_file", reason=reason)


@router.post("/p/{token}/library", response_class=HTMLResponse)
async def upload(request: Request, token: str) -> Response:
    """A multipart form (csrf, file, append): the file replaces (or extends) the library."""
    subscriber, known = await run_in_threadpool(reader_of, request, token)
    lang = lang_of(request)
    fields: dict[str, Any] = {}
    if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        try:
            form = await _InMemoryParser(request.headers, request.stream(), max_files=1,
                                         max_fields=4, max_part_size=4096).parse()
        except MultiPartException:
            form = None
        fields = dict(form.multi_items()) if form is not None else {}
    csrf = fields.get("csrf")
    _csrf(request).check(csrf if isinstance(csrf, str) else None,
                         f"preferences:{subscriber.public_id}")
    file = fields.get("file")
    data = await file.read(MAX_LIBRARY_BYTES + 1) if isinstance(file, UploadFile) else b""
    if not data:
        return _answer(request, subscriber, known, status_code=400,
                       error=i18n.t(lang, "page.library.no_file"))
    if len(data) > MAX_LIBRARY_BYTES:
        return _answer(request, subscriber, known, status_code=413, error=i18n.t(
            lang, "page.too_large_file.text", limit=MAX_LIBRARY_BYTES // 1_000_000))
    try:
        change = await run_in_threadpool(_app(request).library.load, subscriber.email, data,
                                         append=fields.get("append") == "1")
    except LibraryError as err:
        return _answer(request, subscriber, known, status_code=400, error=_refusal(lang, err))
    return _answer(request, subscriber, known, notice=i18n.t(
        lang, "page.library.loaded", seeds=change.seeds, resolved=change.resolved))


def _form_of(request: Request, token: str,
             csrf: str | None) -> tuple[Subscriber, list[str], str]:
    """The reader of a CSRF-checked form, the page's categories and the reader's language."""
    subscriber, known = reader_of(request, token)
    _csrf(request).check(csrf, f"preferences:{subscriber.public_id}")
    return subscriber, known, lang_of(request)


@router.post("/p/{token}/library/remove", response_class=HTMLResponse)
def remove(request: Request, token: str, csrf: FormText = None,
           seed: FormText = None) -> Response:
    subscriber, known, lang = _form_of(request, token, csrf)
    seed_id = int(seed) if seed and seed.isascii() and seed.isdigit() and len(seed) < 12 else 0
    if not seed_id or not _app(request).library.remove(subscriber.email, seed_id):
        return _answer(request, subscriber, known, status_code=404,
                       error=i18n.t(lang, "page.library.not_removed"))
    return _answer(request, subscriber, known, notice=i18n.t(lang, "page.library.removed"))


@router.post("/p/{token}/statement", response_class=HTMLResponse)
def statement(request: Request, token: str, csrf: FormText = None,
              text: FormText = None) -> Response:
    subscriber, known, lang = _form_of(request, token, csrf)
    text = text or ""
    try:
        _app(request).library.set_statement(subscriber.email, text)
    except LibraryError:
        # The two ways a statement is refused, in the reader's words (the parser's are English).
        key = "page.library.statement_empty" if not one_line(text) else (
            "page.library.statement_too_long")
        return _answer(request, subscriber, known, status_code=400, statement=text,
                       statement_error=i18n.t(lang, key, limit=MAX_ABSTRACT))
    return _answer(request, subscriber, known,
                   notice=i18n.t(lang, "page.library.statement_saved"))
