"""What every page of the web face reads from the request: the App, the pages, the CSRF,
and the reader's language once the link's subscriber is known."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import HTMLResponse

from digest_mailer import i18n
from digest_mailer.app import App
from digest_mailer.faces.web.pages import Pages
from digest_mailer.faces.web.security import Csrf, InvalidLink, load_link
from digest_mailer.services.subscribers import Subscriber

FormText = Annotated[str | None, Form()]


def app_of(request: Request) -> App:
    return request.app.state.app  # type: ignore[no-any-return]


def pages_of(request: Request) -> Pages:
    return request.app.state.pages  # type: ignore[no-any-return]


def csrf_of(request: Request) -> Csrf:
    return request.app.state.csrf  # type: ignore[no-any-return]


def speak(request: Request, language: str) -> None:
    """Speak the reader's ``language`` for the rest of this request: its pages, and the
    error pages too (form expired, server error), whose handlers read :func:`lang_of`."""
    request.state.lang = language


def reader_is(request: Request, subscriber: Subscriber) -> Subscriber:
    """:func:`speak` the language of the subscriber a valid link named."""
    speak(request, subscriber.language)
    return subscriber


def lang_of(request: Request) -> str:
    """The reader's language once a valid link named them, else English: a page for an
    unknown visitor (a bad link, a 404) has no reader to ask."""
    return getattr(request.state, "lang", i18n.REFERENCE)  # type: ignore[no-any-return]


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A template in the reader's language."""
    return pages_of(request).render(name, status_code, lang=lang_of(request), **context)


def message(request: Request, key: str, status_code: int = 200, **fmt: Any) -> HTMLResponse:
    """The ``page.<key>.*`` message page in the reader's language."""
    return pages_of(request).message(key, status_code, lang=lang_of(request), **fmt)


def public_id_of(request: Request, purpose: str, token: str) -> str:
    public_id = load_link(app_of(request).signer, purpose, token)
    if not isinstance(public_id, str):
        raise InvalidLink(purpose)
    return public_id


def subscriber_of(request: Request, purpose: str, token: str) -> Subscriber:
    subscriber = app_of(request).subscribers.by_public_id(public_id_of(request, purpose, token))
    if subscriber is None:
        raise InvalidLink(purpose)
    return reader_is(request, subscriber)
