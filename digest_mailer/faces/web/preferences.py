"""The preferences page behind /p/{token}: the reader's categories, keywords and schedule.

Checked by the one subscriber validator (:func:`digest_mailer.domain.subscriber.check_profile`),
as CSV rows and ``digest-mailer subscribers add`` are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from digest_mailer import i18n
from digest_mailer.domain.schedule import CADENCES
from digest_mailer.domain.subscriber import (
    MAX_PAPERS,
    MIN_PAPERS,
    check_profile,
    describe,
    split_items,
)
from digest_mailer.faces.web.context import FormText, page, reader_is
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.context import public_id_of as _public_id
from digest_mailer.faces.web.security import InvalidLink
from digest_mailer.services.subscribers import ACTIVE, Subscriber

router = APIRouter()

MAX_LIBRARY_BYTES = 5_000_000  # the library file: ~3,000 papers with abstracts
# The whole request may be this much larger: the multipart framing, the CSRF and append fields.
LIBRARY_REQUEST_BYTES = MAX_LIBRARY_BYTES + 64 * 1024
MAX_LIBRARY_MB = MAX_LIBRARY_BYTES // 1_000_000


@dataclass(frozen=True)
class SeedRow:
    """One seed as the page lists it; ``text`` is empty for an id not resolved yet."""

    id: int
    statement: bool
    text: str
    ids: str


def seed_rows(seeds: list[Any]) -> list[SeedRow]:
    rows = []
    for seed in seeds:
        ids = " · ".join(x for x in (seed.arxiv_id and f"arXiv:{seed.arxiv_id}",
                                     seed.doi and f"doi:{seed.doi}") if x)
        statement = seed.kind == "statement"
        rows.append(SeedRow(seed.id, statement, seed.abstract if statement else seed.title, ids))
    return rows


@dataclass
class PreferencesForm:
    categories: list[str]
    keywords: str
    exclusions: str
    send_hour: str
    timezone: str
    language: str
    max_papers: str
    cadence: str = ""  # "" (not posted): the stored cadence and weekday stay
    weekday: str = ""  # "0" (Monday) … "6"
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, subscriber: Subscriber, default_max: int) -> PreferencesForm:
        return cls(list(subscriber.categories), "\n".join(subscriber.keywords),
                   "\n".join(subscriber.excluded_keywords), str(subscriber.send_hour),
                   subscriber.timezone, subscriber.language,
                   str(subscriber.max_papers or min(max(default_max, MIN_PAPERS), MAX_PAPERS)),
                   subscriber.cadence, str(subscriber.weekday))


split_words = split_items  # the preferences page splits keywords as the importer does


def validate_preferences(form: PreferencesForm, known: list[str],
                         lang: str = i18n.REFERENCE) -> dict[str, Any] | None:
    """The values to save, or None with ``form.errors`` naming each bad field (in ``lang``,
    the reader's language).

    The checks and caps, the number of papers too, are the importer's and the CLI's
    (:mod:`digest_mailer.domain.subscriber`).
    """
    profile = check_profile(categories=form.categories, keywords=split_items(form.keywords),
                            exclusions=split_items(form.exclusions), timezone=form.timezone,
                            send_hour=form.send_hour, language=form.language,
                            max_papers=form.max_papers, cadence=form.cadence or None,
                            weekday=form.weekday or None, known_categories=known)
    for error in profile.errors:
        form.errors.setdefault(error.field, describe(error, lang))
    if form.errors:
        return None
    chosen = set(profile.categories)  # in the page's order
    return {**profile.preferences(), "categories": [c for c in known if c in chosen]}


def preferences_page(request: Request, subscriber: Subscriber, known: list[str],
                     form: PreferencesForm, *, saved: bool = False,
                     status_code: int = 200, library: dict[str, Any] | None = None) -> Response:
    """The page; ``library`` carries the library part's notice, error and typed statement
    (see library.py). The reader's seeds are read here, for every answer."""
    seeds = _app(request).library.seeds(subscriber.email)
    typed = (library or {}).get("statement")
    held = next((s.abstract for s in seeds if s.kind == "statement"), "")
    library = {"notice": "", "error": "", "statement_error": "", **(library or {}),
               "statement": held if typed is None else typed, "seeds": seed_rows(seeds),
               "limit": MAX_LIBRARY_MB}
    return page(
        request, "preferences.html", status_code, email=subscriber.email, form=form,
        saved=saved, active=subscriber.status == ACTIVE,
        categories=known, languages=i18n.display_names(),
        hours=range(24), min_papers=MIN_PAPERS, max_papers=MAX_PAPERS, cadences=CADENCES,
        weekdays=range(7),
        action=f"/p/{request.path_params['token']}", library=library,
        csrf=_csrf(request).make(f"preferences:{subscriber.public_id}"))


def reader_of(request: Request, token: str) -> tuple[Subscriber, list[str]]:
    """The reader a preferences token names (speaking their language) and the categories."""
    found = _app(request).subscribers.preferences(_public_id(request, "preferences", token))
    if found is None:
        raise InvalidLink("preferences")
    reader_is(request, found[0])
    return found


@router.get("/p/{token}", response_class=HTMLResponse)
def preferences(request: Request, token: str) -> Response:
    subscriber, known = reader_of(request, token)
    form = PreferencesForm.of(subscriber, _app(request).settings.max_papers)
    return preferences_page(request, subscriber, known, form)


@router.post("/p/{token}", response_class=HTMLResponse)
def save_preferences(request: Request, token: str, csrf: FormText = None,
                     categories: Annotated[list[str] | None, Form()] = None,
                     keywords: FormText = None, exclusions: FormText = None,
                     send_hour: FormText = None, timezone: FormText = None,
                     language: FormText = None, max_papers: FormText = None,
                     cadence: FormText = None, weekday: FormText = None) -> Response:
    subscriber, known = reader_of(request, token)
    _csrf(request).check(csrf, f"preferences:{subscriber.public_id}")
    form = PreferencesForm(list(dict.fromkeys(categories or [])), keywords or "",
                           exclusions or "", send_hour or "", timezone or "",
                           language or "", max_papers or "", cadence or "", weekday or "")
    values = validate_preferences(form, known, subscriber.language)
    if values is None:
        return preferences_page(request, subscriber, known, form, status_code=400)
    saved = _app(request).subscribers.save_preferences(subscriber.public_id, values)
    if saved is None:
        raise InvalidLink("preferences")
    subscriber, known = reader_is(request, saved[0]), saved[1]  # maybe a new language
    form = PreferencesForm.of(subscriber, _app(request).settings.max_papers)
    return preferences_page(request, subscriber, known, form, saved=True)
