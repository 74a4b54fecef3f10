"""The subscriber pages behind the signed links of every digest.

/u/{token}  unsubscribe (RFC 8058 one-click POST; GET only shows a confirm page)
/p/{token}  preferences
/f/{token}  "more/less like this" feedback (GET confirms, POST votes)
/v/{token}  the digest as sent, in the browser

A GET never changes anything: mail scanners fetch every link of a message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import DeliveryStatus, Subscriber, SubscriberStatus
from digest_mailer.domain.select import title_words
from digest_mailer.domain.subscriber import MAX_PAPERS, MIN_PAPERS, check_profile, split_items
from digest_mailer.faces.web.pages import Pages
from digest_mailer.faces.web.security import INVALID_LINK, VIEW_CSP, Csrf, InvalidLink, load_link
from digest_mailer.services.send import Pipeline

router = APIRouter()

LANGUAGES = {"en": "English", "zh": "中文 (Chinese)"}
ONE_CLICK = "One-Click"

FormText = Annotated[str | None, Form()]


def _pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline  # type: ignore[no-any-return]


def _pages(request: Request) -> Pages:
    return request.app.state.pages  # type: ignore[no-any-return]


def _csrf(pipeline: Pipeline) -> Csrf:
    return Csrf(pipeline.settings.effective_secret_keys())


# The form routes and the purpose of the token in their path.
_FORM_ROUTE = re.compile(r"^/([upf])/([^/]+)(/undo)?$")
_PURPOSES = {"u": "unsubscribe", "p": "preferences", "f": "feedback"}


async def gate(request: Request) -> Response | None:
    """Before the body is read: a form route whose token is not ours gets the "not valid"
    page at once (checking the signature costs one HMAC, no database)."""
    match = _FORM_ROUTE.match(request.scope["path"])  # decoded, as the router matches it
    if match is None or (match.group(3) and match.group(1) != "u"):
        return None
    try:
        load_link(_pipeline(request).signer, _PURPOSES[match.group(1)], match.group(2))
    except InvalidLink:
        return _pages(request).message("Link not valid", INVALID_LINK, 400)
    return None


def _subscriber(session: Session, pipeline: Pipeline, purpose: str, token: str) -> Subscriber:
    public_id = load_link(pipeline.signer, purpose, token)
    if not isinstance(public_id, str):
        raise InvalidLink(purpose)
    subscriber = db.subscribers.by_public_id(session, public_id)
    if subscriber is None:
        raise InvalidLink(purpose)
    return subscriber


# --- unsubscribe -----------------------------------------------------------------------

def _unsubscribed_page(request: Request, subscriber: Subscriber, token: str,
                       status_code: int = 200) -> Response:
    pipeline = _pipeline(request)
    return _pages(request).render(
        "unsubscribed.html", status_code, email=subscriber.email,
        bounced=subscriber.status == SubscriberStatus.BOUNCED,
        undo_url=f"/u/{token}/undo",
        csrf=_csrf(pipeline).make(f"undo:{subscriber.public_id}"))


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_confirm(request: Request, token: str) -> Response:
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        subscriber = _subscriber(session, pipeline, "unsubscribe", token)
        if subscriber.status != SubscriberStatus.ACTIVE:
            return _unsubscribed_page(request, subscriber, token)
        return _pages(request).render("unsubscribe.html", email=subscriber.email,
                                      action=f"/u/{token}")


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, token: str,
                list_unsubscribe: Annotated[str | None, Form(alias="List-Unsubscribe")] = None
                ) -> Response:
    """RFC 8058 one-click: unsubscribes at once, answers 200, sets no cookie."""
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        subscriber = _subscriber(session, pipeline, "unsubscribe", token)
        if list_unsubscribe != ONE_CLICK:
            return _pages(request).message(
                "Not unsubscribed", "This request did not say List-Unsubscribe=One-Click; "
                "nothing was changed. Use the button on the unsubscribe page.", 400)
        if subscriber.status == SubscriberStatus.ACTIVE:
            db.subscribers.set_status(session, subscriber, SubscriberStatus.UNSUBSCRIBED,
                                      "one-click", pipeline.clock())
        return _unsubscribed_page(request, subscriber, token)


@router.post("/u/{token}/undo", response_class=HTMLResponse)
def undo_unsubscribe(request: Request, token: str, csrf: FormText = None) -> Response:
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        subscriber = _subscriber(session, pipeline, "unsubscribe", token)
        _csrf(pipeline).check(csrf, f"undo:{subscriber.public_id}")
        if subscriber.status == SubscriberStatus.ACTIVE:
            done = True
        else:
            done = db.subscribers.undo_unsubscribe(session, subscriber, pipeline.clock())
        if not done:
            return _unsubscribed_page(request, subscriber, token, 409)
        return _pages(request).render("resubscribed.html", email=subscriber.email,
                                      preferences_url=_preferences_url(pipeline, subscriber))


def _preferences_url(pipeline: Pipeline, subscriber: Subscriber) -> str:
    return "/p/" + pipeline.signer.token("preferences", subscriber.public_id)


# --- preferences -----------------------------------------------------------------------

@dataclass
class PreferencesForm:
    categories: list[str]
    keywords: str
    exclusions: str
    send_hour: str
    timezone: str
    language: str
    max_papers: str
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, subscriber: Subscriber, default_max: int) -> PreferencesForm:
        return cls(list(subscriber.categories), "\n".join(subscriber.keywords),
                   "\n".join(subscriber.excluded_keywords), str(subscriber.send_hour),
                   subscriber.timezone, subscriber.language,
                   str(subscriber.max_papers or min(max(default_max, MIN_PAPERS), MAX_PAPERS)))


split_words = split_items  # the preferences page splits keywords as the importer does


def _sentence(reason: str) -> str:
    return reason[:1].upper() + reason[1:] + ("" if reason.endswith(".") else ".")


def validate_preferences(form: PreferencesForm, known: list[str]) -> dict[str, Any] | None:
    """The values to save, or None with ``form.errors`` naming each bad field.

    The checks and caps, the number of papers too, are the importer's and the CLI's
    (:mod:`digest_mailer.domain.subscriber`).
    """
    profile = check_profile(categories=form.categories, keywords=split_items(form.keywords),
                            exclusions=split_items(form.exclusions), timezone=form.timezone,
                            send_hour=form.send_hour, language=form.language,
                            max_papers=form.max_papers, known_categories=known)
    for error in profile.errors:
        form.errors.setdefault(error.field, _sentence(error.reason))
    if form.errors:
        return None
    chosen = set(profile.categories)  # in the page's order
    return {**profile.preferences(), "categories": [c for c in known if c in chosen]}


def _known_categories(session: Session, subscriber: Subscriber) -> list[str]:
    configured = db.sources.subscribable_categories(session)
    return configured + [c for c in subscriber.categories if c not in configured]


def _preferences_page(request: Request, session: Session, subscriber: Subscriber,
                      form: PreferencesForm, *, saved: bool = False,
                      status_code: int = 200) -> Response:
    pipeline = _pipeline(request)
    return _pages(request).render(
        "preferences.html", status_code, email=subscriber.email, form=form, saved=saved,
        active=subscriber.status == SubscriberStatus.ACTIVE,
        categories=_known_categories(session, subscriber), languages=LANGUAGES,
        hours=range(24), min_papers=MIN_PAPERS, max_papers=MAX_PAPERS,
        action=str(request.url.path),
        csrf=_csrf(pipeline).make(f"preferences:{subscriber.public_id}"))


@router.get("/p/{token}", response_class=HTMLResponse)
def preferences(request: Request, token: str) -> Response:
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        subscriber = _subscriber(session, pipeline, "preferences", token)
        form = PreferencesForm.of(subscriber, pipeline.settings.max_papers)
        return _preferences_page(request, session, subscriber, form)


@router.post("/p/{token}", response_class=HTMLResponse)
def save_preferences(request: Request, token: str, csrf: FormText = None,
                     categories: Annotated[list[str] | None, Form()] = None,
                     keywords: FormText = None, exclusions: FormText = None,
                     send_hour: FormText = None, timezone: FormText = None,
                     language: FormText = None, max_papers: FormText = None) -> Response:
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        subscriber = _subscriber(session, pipeline, "preferences", token)
        _csrf(pipeline).check(csrf, f"preferences:{subscriber.public_id}")
        form = PreferencesForm(list(dict.fromkeys(categories or [])), keywords or "",
                               exclusions or "", send_hour or "", timezone or "",
                               language or "", max_papers or "")
        values = validate_preferences(form, _known_categories(session, subscriber))
        if values is None:
            return _preferences_page(request, session, subscriber, form, status_code=400)
        db.subscribers.update_preferences(session, subscriber, **values)
        form = PreferencesForm.of(subscriber, pipeline.settings.max_papers)
        return _preferences_page(request, session, subscriber, form, saved=True)


# --- feedback --------------------------------------------------------------------------

def _vote_of(request: Request, session: Session, token: str) -> tuple[Subscriber, str, str, str]:
    """(subscriber, entry key, vote, paper title) of a feedback token."""
    pipeline = _pipeline(request)
    payload = load_link(pipeline.signer, "feedback", token)
    if (not isinstance(payload, list) or len(payload) != 3
            or not all(isinstance(p, str) for p in payload) or payload[2] not in ("more", "less")):
        raise InvalidLink("feedback")
    public_id, key, vote = payload
    subscriber = db.subscribers.by_public_id(session, public_id)
    entries = db.entries.by_keys(session, [key])
    if subscriber is None or not entries:
        raise InvalidLink("feedback")
    return subscriber, key, vote, entries[0].title


@router.get("/f/{token}", response_class=HTMLResponse)
def feedback_confirm(request: Request, token: str) -> Response:
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        _, _, vote, title = _vote_of(request, session, token)
    return _pages(request).render("feedback.html", vote=vote, title=title,
                                  action=f"/f/{token}")


@router.post("/f/{token}", response_class=HTMLResponse)
def feedback(request: Request, token: str) -> Response:
    pipeline = _pipeline(request)
    with Session(pipeline.engine) as session:
        subscriber, key, vote, title = _vote_of(request, session, token)
        assert subscriber.id is not None
        preferences_url = _preferences_url(pipeline, subscriber)
        db.votes.record(session, subscriber.id, key, vote)
    words = sorted(title_words(title))[:8]
    return _pages(request).render("feedback_done.html", vote=vote, title=title, words=words,
                                  preferences_url=preferences_url)


# --- view in browser -------------------------------------------------------------------

@router.get("/v/{token}", response_class=HTMLResponse)
def view(request: Request, token: str) -> Response:
    pipeline = _pipeline(request)
    public_id = load_link(pipeline.signer, "view", token)
    if not isinstance(public_id, str):
        raise InvalidLink("view")
    with Session(pipeline.engine) as session:
        delivery = db.deliveries.by_public_id(session, public_id)
        subscriber = (session.get(Subscriber, delivery.subscriber_id)
                      if delivery is not None else None)
        if delivery is None or subscriber is None:
            raise InvalidLink("view")
        if delivery.status not in DeliveryStatus.MAILED:
            return _pages(request).message("Not sent yet",
                                           "This digest has not been sent yet.", 404)
        html = pipeline.compose(session, subscriber, delivery).rendered.html
    return HTMLResponse(html, headers={"Content-Security-Policy": VIEW_CSP})
