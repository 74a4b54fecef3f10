"""What a source (feed) may be: the one validator of its URL, label, category and kind.

The CLI's ``feeds add``/``feeds edit`` and the admin pages both call :func:`check_source`,
so a feed typed at a shell and one pasted into a form obey the same rules. A refusal is a
:class:`SourceError` with a code; its wording is the ``source.<code>`` string of the
language tables (English for the CLI, the admin's language on the pages). Whether the feed
parses is the service's test fetch, not this module's business: this is pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from digest_mailer import i18n
from digest_mailer.text import is_invisible, one_line

MAX_URL_CHARS = 2000
MAX_LABEL_CHARS = 100
MAX_CATEGORY_CHARS = 64
WEB_SCHEMES = ("http", "https")  # what a form in the browser may name
# At a shell the operator can read local files anyway; the offline demo's snapshots are
# file:// sources.
SHELL_SCHEMES = (*WEB_SCHEMES, "file")
# A category is a code readers tick and CSV cells list ("cs.CV|cs.LG"): one token, none of
# the list separators "|", ";", ",".
_CATEGORY = re.compile(r"[\w][\w.+\-]*")


@dataclass(frozen=True)
class SourceError:
    """One refused field of a source: ``code`` names the rule, ``params`` fill its words."""

    field: str
    code: str
    params: dict[str, str] = field(default_factory=dict)

    def reason(self, lang: str = i18n.REFERENCE) -> str:
        return i18n.t(lang, f"source.{self.code}", **self.params)


@dataclass(frozen=True)
class SourceFields:
    """A source's fields as checked: cleaned, or the refusals (then nothing is written)."""

    url: str
    label: str
    category: str
    kind: str | None
    errors: tuple[SourceError, ...] = ()


def check_url(url: str, schemes: Sequence[str]) -> SourceError | None:
    """None for a URL a feed may live at, else why not."""
    if not url:
        return SourceError("url", "url_missing")
    if len(url) > MAX_URL_CHARS:
        return SourceError("url", "url_too_long", {"limit": str(MAX_URL_CHARS)})
    if any(c.isspace() or is_invisible(c) for c in url):
        return SourceError("url", "url_spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is no number)
    except ValueError:
        return SourceError("url", "url_invalid")
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return SourceError("url", "url_scheme", {"scheme": scheme or "none",
                                                 "allowed": ", ".join(schemes)})
    if scheme != "file" and not parts.hostname:
        return SourceError("url", "url_no_host")
    if parts.username is not None or parts.password is not None:
        # It would be shown on every admin page and stored in clear.
        return SourceError("url", "url_credentials")
    return None


def check_source(url: str, label: str, category: str, kind: str | None, *,
                 kinds: Sequence[str], schemes: Sequence[str] = WEB_SCHEMES) -> SourceFields:
    """Every field of a new source checked at once, so a form shows all its refusals."""
    url = url.strip()
    details = check_details(label, category, kind, kinds=kinds)
    bad = check_url(url, schemes)
    errors = details.errors if bad is None else (bad, *details.errors)
    return SourceFields(url, details.label, details.category, details.kind, errors)


def check_details(label: str, category: str, kind: str | None, *,
                  kinds: Sequence[str]) -> SourceFields:
    """The fields an edit may change (the URL is the source's identity): ``url`` is ""."""
    label, category = one_line(label), category.strip()
    kind = (kind or "").strip() or None
    errors: list[SourceError] = []
    if not label:
        errors.append(SourceError("label", "label_missing"))
    elif len(label) > MAX_LABEL_CHARS:
        errors.append(SourceError("label", "label_too_long", {"limit": str(MAX_LABEL_CHARS)}))
    if not category:
        errors.append(SourceError("category", "category_missing"))
    elif any(c.isspace() for c in category):
        errors.append(SourceError("category", "category_spaces"))
    elif len(category) > MAX_CATEGORY_CHARS:
        errors.append(SourceError("category", "category_too_long",
                                  {"limit": str(MAX_CATEGORY_CHARS)}))
    elif not _CATEGORY.fullmatch(category):
        errors.append(SourceError("category", "category_chars"))
    if kind is not None and kind not in kinds:
        errors.append(SourceError("kind", "kind_unknown", {"kind": kind,
                                                          "known": ", ".join(kinds)}))
    return SourceFields("", label, category, kind, tuple(errors))
