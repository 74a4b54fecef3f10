"""What every page of the web face reads from the request: the App, the pages, the CSRF."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request

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


def public_id_of(request: Request, purpose: str, token: str) -> str:
    public_id = load_link(app_of(request).signer, purpose, token)
    if not isinstance(public_id, str):
        raise InvalidLink(purpose)
    return public_id


def subscriber_of(request: Request, purpose: str, token: str) -> Subscriber:
    subscriber = app_of(request).subscribers.by_public_id(public_id_of(request, purpose, token))
    if subscriber is None:
        raise InvalidLink(purpose)
    return subscriber
