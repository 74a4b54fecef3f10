"""Pure text helpers: feed HTML to safe plain text, arXiv prefixes and ids.

Nothing here does I/O. Every function takes what a feed gave and returns plain values.
"""

from __future__ import annotations

import html
import re

import nh3

from digest_mailer.text import visible

# A start tag as HTML would parse it: a name, then name[=value] attributes, then ">".
_ATTR = r"""\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'<>`]+))?"""
_TAG = rf"</?[A-Za-z][A-Za-z0-9-]*(?:{_ATTR})*\s*/?>"
_TAG_RE = re.compile(_TAG)
# "<" that an HTML parser would take as the start of markup: a name followed by a space, "/",
# ">" or the end; a closing tag; a comment, doctype or processing instruction.
_AFTER_LT = r"[A-Za-z][A-Za-z0-9-]*(?=[\s/>]|$)|/[A-Za-z]|!|\?"
_MARKUP_START_RE = re.compile(rf"<(?:{_AFTER_LT})")
_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")
# A "<" that is not markup is text ("$k<n$", "p<0.05"): escaping it first keeps the sanitiser
# from swallowing everything up to the next ">" as a bogus tag.
_LONE_LT_RE = re.compile(rf"<(?!{_AFTER_LT})")
_CDATA_RE = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|$)", re.DOTALL)
# Tags that separate words visually; removing them must not glue "foo<br>bar" into "foobar".
_BREAK_RE = re.compile(r"</?(?:br|p|div|li|ul|ol|tr|td|th|h[1-6]|blockquote|hr)\b[^>]*>", re.I)
_MAX_ROUNDS = 3  # escaped markup nested deeper than this is removed by regex


def _sanitise_once(text: str) -> str:
    text = _CDATA_RE.sub(r"\1", text)
    text = _BREAK_RE.sub(" ", text)
    text = _LONE_LT_RE.sub("&lt;", text)
    # tags=set(): every tag goes, and script/style/etc. lose their content too (nh3's default
    # clean_content_tags). The result is HTML-escaped text, so unescape it exactly once.
    return html.unescape(nh3.clean(text, tags=set()))


def clean_text(value: str | None) -> str:
    """Turn feed HTML (possibly escaped, possibly CDATA) into safe, single-line plain text.

    ``S<sub>N</sub>2`` becomes ``SN2``; entities are decoded; scripts, event handlers and links
    disappear; whitespace is collapsed. Text that *is* a ``<`` ("p<0.05") is kept.
    """
    if not value:
        return ""
    # Controls, zero-width and bidi marks break layouts and hide text in mail.
    text = visible(str(value))
    for _ in range(_MAX_ROUNDS):
        text = _sanitise_once(text)
        # Unescaping once can turn "&lt;b&gt;" (escaped markup) into "<b>": go round again
        # rather than hand markup on as "plain" text. Entities still left mean the feed
        # escaped twice ("&amp;lt;"); a reader wants the text, not "&lt;".
        if not (_MARKUP_START_RE.search(text) or _ENTITY_RE.search(text)):
            break
    else:
        text = _TAG_RE.sub("", text)
        text = _MARKUP_START_RE.sub("", text)
    return " ".join(visible(text).split())


# "arXiv:2606.19373v1 Announce Type: cross \nAbstract: …" (whitespace varies between feeds).
_ARXIV_PREFIX_RE = re.compile(
    r"^\s*arXiv:\s*\S+\s+Announce\s+Type:\s*(?P<type>[A-Za-z-]+)\s*(?:Abstract:\s*)?",
    re.IGNORECASE,
)


def strip_arxiv_prefix(description: str) -> tuple[str, str | None]:
    """Remove arXiv's ``arXiv:ID Announce Type: T Abstract:`` prefix; return (abstract, T)."""
    match = _ARXIV_PREFIX_RE.match(description)
    if not match:
        return description.strip(), None
    return description[match.end() :].strip(), match.group("type").lower()


_NEW_ID = r"\d{4}\.\d{4,5}"
# Old-style ids: archive[.SUBJ]/YYMMNNN, e.g. math/0601001, math.PR/0601001, hep-th/9901001.
_OLD_ID = r"[a-z]+(?:-[a-z]+)?(?:\.[A-Za-z-]+)?/\d{7}"
_ID = rf"(?P<id>{_NEW_ID}|{_OLD_ID})(?:v\d+)?"
# Only trust an id that arXiv context vouches for: a bare "2023.12345" in a random link is not one.
_ARXIV_CONTEXT_RE = re.compile(rf"arxiv(?:\.org)?(?:/(?:abs|pdf|html)/|:)\s*{_ID}", re.I)
_BARE_ID_RE = re.compile(rf"\s*(?:arxiv:)?{_ID}\s*", re.I)


def arxiv_id(text: str | None) -> str | None:
    """The arXiv id without version in a link, guid or ``oai:arXiv.org:ID``; else None."""
    if not text:
        return None
    match = _ARXIV_CONTEXT_RE.search(text) or _BARE_ID_RE.fullmatch(text)
    if not match:
        return None
    found = match.group("id")
    if "/" in found:  # math.PR/0601001 → math/0601001, the canonical form
        archive, number = found.split("/", 1)
        found = f"{archive.split('.', 1)[0]}/{number}"
    return found
