"""The public archive (``DIGEST_PUBLIC_ARCHIVE=true``): the days, one day, an Atom feed.

/archive              the last 60 days with papers, each category's count
/archive/YYYY-MM-DD   that day's announced papers by category (a day of the window; else 404)
/archive/feed.atom    one Atom entry a day, linking its page

``?lang=zh`` (else the browser's Accept-Language) picks the language; no JavaScript. The
pages are the same for everyone, so caches may keep them a few minutes (``CACHE``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from xml.etree import ElementTree

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from digest_mailer import i18n
from digest_mailer.domain.signup import accepted_locale
from digest_mailer.faces.web.context import app_of, message, page, speak
from digest_mailer.mail.render import format_date

router = APIRouter()
ATOM = "http://www.w3.org/2005/Atom"
# XML 1.0 forbids these even escaped; feed text has carried them.
_NOT_XML = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
# Anonymous and alike for all (the language aside): let proxies and browsers keep them.
CACHE = {"Cache-Control": "public, max-age=300", "Vary": "Accept-Language"}


def _public(response: Response) -> Response:
    response.headers.update(CACHE)
    return response


def _open(request: Request, lang: str | None) -> Response | None:
    """404 unless the archive is on; else speak the asked (or the browser's) language."""
    if not app_of(request).settings.public_archive:
        return message(request, "not_found", 404)
    browser = accepted_locale(request.headers.get("accept-language")).language
    speak(request, lang if lang in i18n.LANGUAGES else browser)
    return None


def _names(codes: list[str], lang: str) -> dict[str, str]:
    return {c: i18n.category_label(c, lang) if c else i18n.t(lang, "page.archive.other")
            for c in codes}


@router.get("/archive", response_class=HTMLResponse)
def days(request: Request, lang: str | None = None) -> Response:
    if (closed := _open(request, lang)) is not None:
        return closed
    language = request.state.lang
    found = app_of(request).archive.days()
    names = _names(sorted({c for d in found for c in d.counts}), language)
    return _public(page(request, "archive.html", days=found, names=names,
                        dates={d.day: format_date(d.day, language) for d in found}))


@router.get("/archive/feed.atom")
def feed(request: Request, lang: str | None = None) -> Response:
    if (closed := _open(request, lang)) is not None:
        return closed
    app = app_of(request)
    language = request.state.lang
    base = app.settings.base_url.rstrip("/")
    found = app.archive.days()
    names = _names(sorted({c for d in found for c in d.counts}), language)
    root = ElementTree.Element("feed", xmlns=ATOM)
    ElementTree.SubElement(root, "title").text = i18n.t(language, "page.archive.heading")
    ElementTree.SubElement(root, "id").text = f"{base}/archive"
    ElementTree.SubElement(root, "link", rel="self", href=f"{base}/archive/feed.atom")
    ElementTree.SubElement(root, "link", rel="alternate", href=f"{base}/archive")
    newest = datetime.combine(found[0].day, time.min, tzinfo=UTC) if found else app.clock()
    ElementTree.SubElement(root, "updated").text = newest.isoformat()
    for day in found:
        entry = ElementTree.SubElement(root, "entry")
        url = f"{base}/archive/{day.day.isoformat()}"
        ElementTree.SubElement(entry, "title").text = i18n.t(
            language, "page.archive.feed_entry", date=format_date(day.day, language),
            count=day.total)
        ElementTree.SubElement(entry, "id").text = url
        ElementTree.SubElement(entry, "link", rel="alternate", href=url)
        ElementTree.SubElement(entry, "updated").text = datetime.combine(
            day.day, time.min, tzinfo=UTC).isoformat()
        summary = i18n.t(language, "lang.list_sep").join(
            f"{names[c]} {n}" for c, n in day.counts.items())
        ElementTree.SubElement(entry, "summary").text = summary.translate(_NOT_XML)
    body = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return _public(Response(body, media_type="application/atom+xml; charset=utf-8"))


@router.get("/archive/{day}", response_class=HTMLResponse)
def one_day(request: Request, day: str, lang: str | None = None) -> Response:
    if (closed := _open(request, lang)) is not None:
        return closed
    try:
        wanted = date.fromisoformat(day) if len(day) == 10 else None
    except ValueError:
        wanted = None
    groups = None if wanted is None else app_of(request).archive.day(wanted)
    if wanted is None or groups is None:  # not a date, or not one of the window
        return message(request, "not_found", 404)
    language = request.state.lang
    return _public(page(request, "archive_day.html", groups=groups,
                        names=_names(list(groups), language),
                        date=format_date(wanted, language), day=wanted.isoformat()))
