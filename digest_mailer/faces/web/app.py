"""The subscriber pages behind the signed links of every digest.

/u/{token}  unsubscribe (RFC 8058 one-click POST; GET only shows a confirm page)
/p/{token}  preferences (in preferences.py)
/f/{token}  "more/less like this" feedback (GET confirms, POST votes)
/v/{token}  the digest as sent, in the browser
/v/{token}/all  the reader's full ranked list of that digest's day, with vote buttons
/test-digest/{lang}  where every link of an admin's test copy goes: it acts for no one

A GET never changes anything: mail scanners fetch every link of a message.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from digest_mailer import i18n
from digest_mailer.domain.taste import title_words
from digest_mailer.faces.web.context import (
    FormText,
    message,
    page,
    public_id_of,
    reader_is,
    speak,
)
from digest_mailer.faces.web.context import app_of as _app
from digest_mailer.faces.web.context import csrf_of as _csrf
from digest_mailer.faces.web.context import subscriber_of as _subscriber
from digest_mailer.faces.web.security import VIEW_CSP, InvalidLink, load_link
from digest_mailer.mail.links import TEST_DIGEST_PATH
from digest_mailer.mail.render import format_date
from digest_mailer.services.compose import NotMailed
from digest_mailer.services.subscribers import ACTIVE, BOUNCED, Subscriber

router = APIRouter()

ONE_CLICK = "One-Click"

# The form routes, the purpose of the token in their path, and the forms under it.
_FORM_ROUTE = re.compile(r"^/([upf])/([^/]+)(/[a-z/]+)?$")
_PURPOSES = {"u": "unsubscribe", "p": "preferences", "f": "feedback"}
_SUB_FORMS = {"u": ("/undo",), "p": ("/library", "/library/remove", "/statement"), "f": ()}


async def gate(request: Request) -> Response | None:
    """Before the body is read: a form route whose token is not ours gets the "not valid"
    page at once (checking the signature costs one HMAC, no database)."""
    match = _FORM_ROUTE.match(request.scope["path"])  # decoded, as the router matches it
    if match is None or (match.group(3) and match.group(3) not in _SUB_FORMS[match.group(1)]):
        return None
    try:
        load_link(_app(request).signer, _PURPOSES[match.group(1)], match.group(2))
    except InvalidLink:
        return message(request, "invalid_link", 400)
    return None


# --- unsubscribe -----------------------------------------------------------------------

def _unsubscribed_page(request: Request, subscriber: Subscriber, token: str,
                       status_code: int = 200) -> Response:
    return page(
        request, "unsubscribed.html", status_code, email=subscriber.email,
        bounced=subscriber.status == BOUNCED,
        undo_url=f"/u/{token}/undo",
        csrf=_csrf(request).make(f"undo:{subscriber.public_id}"))


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_confirm(request: Request, token: str) -> Response:
    subscriber = _subscriber(request, "unsubscribe", token)
    if subscriber.status != ACTIVE:
        return _unsubscribed_page(request, subscriber, token)
    return page(request, "unsubscribe.html", email=subscriber.email, action=f"/u/{token}")


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str,
                list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe")] = None
                ) -> Response:
    """RFC 8058 one-click: unsubscribes at once, answers 200, sets no cookie."""
    subscriber = _subscriber(request, "unsubscribe", token)
    if list_unsubscribe != ONE_CLICK:
        return message(request, "not_one_click", 400)
    changed = _app(request).subscribers.unsubscribe(subscriber.public_id, "one-click")
    return _unsubscribed_page(request, changed or subscriber, token)


@router.post("/u/{token}/undo", response_class=HTMLResponse)
def undo_unsubscribe(request: Request, token: str, csrf: FormText = None) -> Response:
    public_id = _subscriber(request, "unsubscribe", token).public_id
    _csrf(request).check(csrf, f"undo:{public_id}")
    undone = _app(request).subscribers.undo_unsubscribe(public_id)
    if undone is None:
        raise InvalidLink("unsubscribe")
    subscriber, done = undone
    if not done:
        return _unsubscribed_page(request, subscriber, token, 409)
    return page(request, "resubscribed.html", email=subscriber.email,
                preferences_url=_preferences_url(request, subscriber))


def _preferences_url(request: Request, subscriber: Subscriber) -> str:
    return "/p/" + _app(request).signer.token("preferences", subscriber.public_id)


# --- feedback --------------------------------------------------------------------------

def _vote_of(request: Request, token: str) -> tuple[str, str, str]:
    """(subscriber's public id, entry key, vote) of a feedback token."""
    payload = load_link(_app(request).signer, "feedback", token)
    if (not isinstance(payload, list) or len(payload) != 3
            or not all(isinstance(p, str) for p in payload) or payload[2] not in ("more", "less")):
        raise InvalidLink("feedback")
    public_id, key, vote = payload
    return public_id, key, vote


@router.get("/f/{token}", response_class=HTMLResponse)
def feedback_confirm(request: Request, token: str) -> Response:
    public_id, key, vote = _vote_of(request, token)
    target = _app(request).subscribers.vote_target(public_id, key)
    if target is None:
        raise InvalidLink("feedback")
    subscriber, title = target
    reader_is(request, subscriber)
    return page(request, "feedback.html", vote=vote, title=title, action=f"/f/{token}")


@router.post("/f/{token}", response_class=HTMLResponse)
def feedback(request: Request, token: str) -> Response:
    public_id, key, vote = _vote_of(request, token)
    voted = _app(request).subscribers.vote(public_id, key, vote)
    if voted is None:
        raise InvalidLink("feedback")
    subscriber, title = voted
    reader_is(request, subscriber)
    preferences_url = _preferences_url(request, subscriber)
    words = sorted(title_words(title))[:8]
    return page(request, "feedback_done.html", vote=vote, title=title, words=words,
                preferences_url=preferences_url)


# --- view in browser -------------------------------------------------------------------

@router.get("/v/{token}", response_class=HTMLResponse)
def view(request: Request, token: str) -> Response:
    try:
        html = _app(request).composer.view(public_id_of(request, "view", token))
    except NotMailed as err:
        speak(request, err.language)  # the language of the reader the digest is for
        return message(request, "not_sent", 404)
    except LookupError:
        raise InvalidLink("view") from None
    return HTMLResponse(html, headers={"Content-Security-Policy": VIEW_CSP})


@router.get("/v/{token}/all", response_class=HTMLResponse)
def day_list(request: Request, token: str) -> Response:
    """Every paper of the digest's day, ranked; its vote buttons POST to /f/… (a GET of
    this page, as a scanner makes, changes nothing)."""
    try:
        day = _app(request).composer.day_list(public_id_of(request, "view", token))
    except NotMailed as err:
        speak(request, err.language)
        return message(request, "not_sent", 404)
    except LookupError:
        raise InvalidLink("view") from None
    speak(request, day.language)
    return page(request, "day.html", cadence=day.cadence, day=day,
                date_long=format_date(day.digest_date, day.language))


# --- a test copy's links ---------------------------------------------------------------

@router.get(TEST_DIGEST_PATH + "/{lang}", response_class=HTMLResponse)
def test_digest(request: Request, lang: str) -> Response:
    """Every link of a test digest (subscriber_admin.send_test) opens this: no token, so
    the admin's click unsubscribes, votes or shows nothing of the reader's."""
    if lang in i18n.LANGUAGES:
        speak(request, lang)
    return message(request, "test_digest")
