"""LinkSigner: signed, purpose-bound tokens with key rotation; the List-Unsubscribe mailto."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from itsdangerous import BadSignature

from digest_mailer.db.models import Subscriber
from digest_mailer.mail.links import PURPOSES, LinkSigner, unsubscribe_mailto

BASE = "https://digest.example.org"
MAILTO = "mailto:replies@example.org?subject=unsubscribe"


def signer(*keys: str, base: str = BASE) -> LinkSigner:
    return LinkSigner(base, list(keys), MAILTO)


@pytest.mark.parametrize("purpose", PURPOSES)
@pytest.mark.parametrize("payload", ["pub-AbC_123", ["pub", "2501.01234", "up"], {"a": 1}])
def test_token_round_trips(purpose: str, payload: object) -> None:
    s = signer("k1")
    token = s.token(purpose, payload)
    assert isinstance(token, str)
    assert s.load(purpose, token) == payload
    # A fresh signer with the same key (another process) accepts it too.
    assert signer("k1").load(purpose, token) == payload


@pytest.mark.parametrize("made_for", PURPOSES)
@pytest.mark.parametrize("used_for", PURPOSES)
def test_token_is_refused_for_another_purpose(made_for: str, used_for: str) -> None:
    s = signer("k1")
    token = s.token(made_for, "pub-1")
    if made_for == used_for:
        assert s.load(used_for, token) == "pub-1"
    else:
        with pytest.raises(BadSignature):
            s.load(used_for, token)


def test_unsubscribe_token_refused_by_preferences() -> None:
    s = signer("k1")
    with pytest.raises(BadSignature):
        s.load("preferences", s.token("unsubscribe", "pub-1"))


def _flip(ch: str) -> str:
    return "A" if ch != "A" else "B"


def test_tampered_tokens_are_refused() -> None:
    s = signer("k1")
    token = s.token("unsubscribe", "pub-1")
    payload, _, signature = token.rpartition(".")
    tampered_signature = f"{payload}.{signature[:-1]}{_flip(signature[-1])}"
    tampered_payload = f"{_flip(payload[0])}{payload[1:]}.{signature}"
    for bad in (tampered_signature, tampered_payload, token[:-1], token[:-5], payload,
                "", "not-a-token", token + "x"):
        assert bad != token
        with pytest.raises(BadSignature):
            s.load("unsubscribe", bad)


def test_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(BadSignature):
        signer("k2").load("view", signer("k1").token("view", "d-1"))


def test_old_key_still_accepted_during_rotation() -> None:
    token = signer("old").token("unsubscribe", "pub-1")
    assert signer("new", "old").load("unsubscribe", token) == "pub-1"
    with pytest.raises(BadSignature):
        signer("new").load("unsubscribe", token)


def test_rotated_signer_signs_with_the_newest_key() -> None:
    token = signer("new", "old").token("unsubscribe", "pub-1")
    # Once the old key is retired, links sent after the rotation must keep working.
    assert signer("new").load("unsubscribe", token) == "pub-1"
    with pytest.raises(BadSignature):
        signer("old").load("unsubscribe", token)


def test_links_carry_public_ids_only() -> None:
    subscriber = Subscriber(id=4242, email="ada@example.org",
                            created_at=datetime(2026, 1, 1, tzinfo=UTC))
    s = signer("k1", base=BASE + "/")  # a trailing slash is not doubled
    links = s.links(subscriber.public_id, "delivery-pub-7")
    for url, prefix, purpose, payload in (
        (links.unsubscribe, "u", "unsubscribe", subscriber.public_id),
        (links.preferences, "p", "preferences", subscriber.public_id),
        (links.view_online, "v", "view", "delivery-pub-7"),
    ):
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == BASE
        segments = parts.path.split("/")
        assert segments[:2] == ["", prefix] and len(segments) == 3
        assert s.load(purpose, segments[2]) == payload
        assert s.load(purpose, segments[2]) != subscriber.id
        assert "4242" not in segments
        assert parts.query == "" and parts.fragment == ""
    # The mailto's subject brings the unsubscribe token back to the reply processing.
    token = urlsplit(links.unsubscribe).path.split("/")[2]
    assert links.unsubscribe_mailto == f"{MAILTO}%20{token}"


def test_feedback_url_round_trips() -> None:
    s = signer("k1")
    url = s.feedback_url("pub-1", "arxiv:2501.01234", "up")
    assert url.startswith(BASE + "/f/")
    token = url.removeprefix(BASE + "/f/")
    assert s.load("feedback", token) == ["pub-1", "arxiv:2501.01234", "up"]
    with pytest.raises(BadSignature):
        s.load("unsubscribe", token)


@pytest.mark.parametrize("reply_to, sender, expected", [
    ("Digest Replies <replies@example.org>", "Digest <digest@example.org>",
     "mailto:replies@example.org?subject=unsubscribe"),
    ("", "Research Digest <digest@example.org>", "mailto:digest@example.org?subject=unsubscribe"),
    ("bare@example.org", "", "mailto:bare@example.org?subject=unsubscribe"),
    ("", "", "mailto:unsubscribe@localhost?subject=unsubscribe"),
])
def test_unsubscribe_mailto(reply_to: str, sender: str, expected: str) -> None:
    assert unsubscribe_mailto(reply_to, sender) == expected
