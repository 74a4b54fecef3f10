"""The public sign-up page and the confirmation link (double opt-in; the service decides).

/subscribe    GET the form (``?lang=zh``, ``?categories=cs.CV`` preselect), POST a request
/c/{token}    the confirmation link: GET asks (mail scanners follow links), POST confirms

A plain form without JavaScript, so another site can embed a copy of it: a POST without our
signed time stamp is shown again, filled in, to be sent from here.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from digest_mailer import i18n
from digest_mailer.domain.schedule import CADENCES
from digest_mailer.domain.signup import Locale, accepted_locale, zone_choices
from digest_mailer.domain.subscriber import describe
from digest_mailer.faces.web.context import FormText, lang_of, message, page, speak
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.security import InvalidLink, load_link
from digest_mailer.mail.render import format_date
from digest_mailer.services.signup import Answer, SignupRequest

router = APIRouter()

CONFIRM_PREFIX = "/c/"


async def gate(request: Request) -> Response | None:
    """Before the body is read: a confirmation POST whose token is not ours is refused, and
    with sign-up closed so is every POST to /subscribe."""
    path = request.scope["path"]
    if path == "/subscribe" and not _app(request).settings.signup:
        return message(request, "not_found", 404)
    if path.startswith(CONFIRM_PREFIX):
        try:
            load_link(_app(request).signer, "confirm", path[len(CONFIRM_PREFIX):])
        except InvalidLink:
            return message(request, "invalid_link", 400)
    return None


def _locale(request: Request, asked: str | None) -> Locale:
    """The page's language: asked for (``?lang=``, the form's own field), else the
    browser's; the browser's region orders the time zones."""
    browser = accepted_locale(request.headers.get("accept-language"))
    if asked in i18n.LANGUAGES and asked != browser.language:
        return Locale(asked)
    return browser


def _form_page(request: Request, form: SignupRequest, locale: Locale, *, notice: str = "",
               errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    speak(request, locale.language)
    first, others = zone_choices(Locale(form.language or locale.language, locale.region))
    app = _app(request)
    form.language = form.language or locale.language
    form.timezone = form.timezone or (first[0] if first else "UTC")
    form.send_hour = form.send_hour or str(app.settings.default_send_hour)
    other = next(code for code in i18n.LANGUAGES if code != locale.language)
    return page(request, "subscribe.html", status_code, form=form, notice=notice,
                errors=errors or {}, choices=app.signup.choices(locale.language),
                zones_first=first, zones_all=others, hours=range(24), cadences=CADENCES,
                weekdays=range(7),
                languages=i18n.display_names(),
                stamp=app.signup.stamp(), switch_url=f"/subscribe?lang={other}")


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(request: Request, lang: str | None = None) -> Response:
    if not _app(request).settings.signup:
        return message(request, "not_found", 404)
    locale = _locale(request, lang)
    chosen = request.query_params.getlist("categories")[:50]
    return _form_page(request, SignupRequest(categories=chosen), locale)


@router.post("/subscribe", response_class=HTMLResponse)
def subscribe(request: Request, email: FormText = None, name: FormText = None,
              language: FormText = None,
              categories: Annotated[list[str] | None, Form()] = None,
              keywords: FormText = None, timezone: FormText = None, send_hour: FormText = None,
              website: FormText = None, stamp: FormText = None, page_lang: FormText = None,
              cadence: FormText = None, weekday: FormText = None
              ) -> Response:
    locale = _locale(request, page_lang)
    form = SignupRequest(email or "", name or "", language or "",
                         list(dict.fromkeys(categories or []))[:100], keywords or "",
                         timezone or "", send_hour or "", website or "", stamp or "",
                         cadence or "", weekday or "")
    answer: Answer = _app(request).signup.submit(
        form, request.client.host if request.client else "-")
    speak(request, locale.language)
    if answer.kind == "invalid":
        errors: dict[str, str] = {}
        for error in answer.errors:
            errors.setdefault(error.field, describe(error, locale.language))
        return _form_page(request, form, locale, notice="not_sent", errors=errors,
                          status_code=400)
    if answer.kind == "again":
        return _form_page(request, form, locale, notice="again")
    if answer.kind == "busy":
        response = message(request, "signup_busy", 429,
                           minutes=math.ceil(answer.retry_after / 60))
        response.headers["Retry-After"] = str(answer.retry_after)
        return response
    if answer.kind == "unsent":
        return message(request, "signup_unsent", 503)
    return message(request, "signup_inbox")


# --- the confirmation link -------------------------------------------------------------

def _enqueue_first_digest(subscriber_id: int, day: date) -> None:
    """Queue a confirmed reader's first digest on the worker (DIGEST_WELCOME_DIGEST=now):
    the send task the worker runs, so the request itself sends nothing more."""
    from digest_mailer.faces import tasks  # the queue the environment names, as the worker's

    tasks.send_batch([subscriber_id], day.isoformat())


def _confirm_page(request: Request, token: str, confirming: bool) -> Response:
    signup = _app(request).signup
    state = (signup.confirm(token, _enqueue_first_digest) if confirming
             else signup.confirmation(token))
    if state is None:
        raise InvalidLink("confirm")
    speak(request, state.language if state.language in i18n.LANGUAGES else lang_of(request))
    first = state.first_digest
    return page(request, "confirm.html", 410 if state.kind == "expired" else 200,
                cadence=state.cadence,
                state=state, action=f"{CONFIRM_PREFIX}{token}",
                first_date=format_date(first.date(), lang_of(request)) if first else "",
                first_time=f"{first:%H:%M}" if first else "",
                first_zone=str(first.tzinfo) if first else "")


@router.get("/c/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, token: str) -> Response:
    return _confirm_page(request, token, confirming=False)


@router.post("/c/{token}", response_class=HTMLResponse)
def confirm(request: Request, token: str) -> Response:
    return _confirm_page(request, token, confirming=True)
