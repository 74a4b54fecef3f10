"""Signed links carried by every digest (unsubscribe, preferences, feedback, view online,
the full list of the day).

Tokens are HMAC-signed with itsdangerous: one salt per purpose, so a token made for one
link is refused by another; several keys may be given (newest first) to rotate them.
URLs carry opaque public ids, never a numeric id.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.utils import parseaddr
from typing import Any, Protocol
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from digest_mailer.domain.digest import Links

# "confirm": a sign-up's confirmation link; "signup": the time stamp in the sign-up form.
PURPOSES = ("unsubscribe", "preferences", "feedback", "view", "confirm", "signup")
TEST_DIGEST_PATH = "/test-digest"  # + "/<language>": the page every link of a test copy opens


class DigestLinkMaker(Protocol):
    """What a composer asks for a digest's links: the signer's, or a test copy's inert ones."""

    base_url: str

    def links(self, subscriber_public_id: str, delivery_public_id: str) -> Links: ...

    def feedback_url(self, subscriber_public_id: str, entry_key: str, vote: str) -> str: ...


class LinkSigner:
    def __init__(self, base_url: str, secret_keys: Sequence[str], mailto: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.mailto = mailto
        self._serializers = {
            purpose: # itsdangerous takes keys oldest first and signs with the last one.
            URLSafeSerializer(list(secret_keys)[::-1], salt=f"digest-mailer.{purpose}")
            for purpose in PURPOSES
        }

    def token(self, purpose: str, payload: Any) -> str:
        return str(self._serializers[purpose].dumps(payload))

    def load(self, purpose: str, token: str) -> Any:
        """The payload of a token signed for ``purpose``; raises BadSignature otherwise."""
        return self._serializers[purpose].loads(token)

    def links(self, subscriber_public_id: str, delivery_public_id: str) -> Links:
        unsubscribe = self.token("unsubscribe", subscriber_public_id)
        # The full list of the day is the view's token too: it shows the same digest's
        # window to whoever may see the digest, so it needs no capability of its own.
        view = f"{self.base_url}/v/{self.token('view', delivery_public_id)}"
        return Links(
            unsubscribe=f"{self.base_url}/u/{unsubscribe}",
            unsubscribe_mailto=_signed_mailto(self.mailto, unsubscribe),
            preferences=f"{self.base_url}/p/{self.token('preferences', subscriber_public_id)}",
            view_online=view,
            full_list=f"{view}/all",
        )

    def feedback_url(self, subscriber_public_id: str, entry_key: str, vote: str) -> str:
        token = self.token("feedback", [subscriber_public_id, entry_key, vote])
        return f"{self.base_url}/f/{token}"


def unsubscribe_mailto(reply_to: str, sender: str) -> str:
    """mailto: for List-Unsubscribe, answered by the reply processing."""
    address = parseaddr(reply_to or sender)[1] or "unsubscribe@localhost"
    return f"mailto:{address}?subject={quote('unsubscribe')}"


def _signed_mailto(mailto: str, token: str) -> str:
    """The reader's mailto: with their unsubscribe token after the subject's word.

    A From can be forged; the token (the same one the https link carries) cannot, so the
    reply processing acts on a mailto unsubscribe only when it brings the token back.
    """
    if not mailto.endswith(f"?subject={quote('unsubscribe')}"):
        return mailto
    return f"{mailto}{quote(' ' + token)}"


__all__ = ["BadSignature", "LinkSigner", "unsubscribe_mailto"]


class InertLinks:
    """The links of a test digest sent to an admin: every one opens a page saying so, and
    none carries a token, so no click (or mail scanner) acts for the reader it was built for."""

    def __init__(self, base_url: str, language: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}{TEST_DIGEST_PATH}/{language}"

    def links(self, subscriber_public_id: str, delivery_public_id: str) -> Links:
        return Links(unsubscribe=self.url, unsubscribe_mailto="", preferences=self.url,
                     view_online=self.url, full_list=self.url)

    def feedback_url(self, subscriber_public_id: str, entry_key: str, vote: str) -> str:
        return self.url
