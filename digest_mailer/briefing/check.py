"""What comes back from the model is checked before a reader sees it.

The answer is untrusted like the papers it was written from: a model may obey text
injected into an abstract, print its prompt, refuse, or answer in markdown and HTML.
:func:`check_briefing` turns it into one plain-text paragraph or raises.

A briefing never carries a link or an address: the reader trusts the digest's sender, so a
link in the model's words is a phishing link with our name on it. Rather than cut links
out (clean-up steps can glue "https ://" back together), an answer holding anything
URL-like, domain-like or address-like, or asking for credentials, is refused and the
digest gets the extractive briefing (see :mod:`digest_mailer.briefing.linkcheck`).
"""

from __future__ import annotations

import html
import re

from digest_mailer.briefing.linkcheck import link_like
from digest_mailer.errors import BriefingError
from digest_mailer.i18n import LANGUAGES, texts
from digest_mailer.text import one_line

_SCRIPT = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"</?[A-Za-z!][^>]*(?:>|$)")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LINE_MARK = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+•]\s+|\d+[.)]\s+)+")
_INLINE_HEADING = re.compile(r"(?<!\S)#{1,6}\s+")
_CITATION = re.compile(r"\[([\d\s,;–-]*\d[\d\s,;–-]*)\]")
# How a refusal starts, in every language we brief in (each table's brief.refusals).
_REFUSAL = re.compile(
    r"^\W*(?:" + "|".join(texts(code)["brief.refusals"] for code in LANGUAGES) + ")", re.I)
# Phrases only the system prompt contains: seeing one means the model printed its prompt.
_LEAK = re.compile(r"You write the briefing paragraph|untrusted DATA from public feeds", re.I)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]")


def _fix_citations(text: str, paper_count: int) -> str:
    """Keep citations of papers that exist; a made-up [99] would point the reader nowhere."""

    def fix(match: re.Match[str]) -> str:
        kept = []
        for part in re.split(r"[,;]", match.group(1)):
            ends = [int(n) for n in re.findall(r"\d+", part)]
            if re.search(r"[–-]", part):  # a range such as 2–4: both ends must exist
                if len(ends) == 2 and 1 <= ends[0] < ends[1] <= paper_count:
                    kept.append(f"{ends[0]}–{ends[1]}")
            else:
                kept.extend(str(n) for n in ends if 1 <= n <= paper_count)
        return f"[{', '.join(kept)}]" if kept else ""

    return _CITATION.sub(fix, text)


def _truncate(text: str, max_chars: int) -> str:
    """Cut at the last sentence end within ``max_chars``; at a word, with "…", if there is none."""
    if len(text) <= max_chars:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text[: max_chars + 1]) if m.end() <= max_chars]
    if ends and ends[-1] >= max_chars // 3:
        return text[: ends[-1]]
    head = text[: max_chars - 1]
    if " " in head:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(",;:–- ") + "…"


def check_briefing(text: str, *, max_chars: int, paper_count: int) -> str:
    """Turn a model's answer into one plain-text paragraph, or raise :class:`BriefingError`.

    Removes HTML and markdown, keeps only citations of existing papers, and cuts at a
    sentence end within ``max_chars``. The result is plain text: rendering still escapes it.
    Raises when the answer, as sent or as cleaned, holds a link, a domain, an address or a
    request for credentials (:func:`digest_mailer.briefing.linkcheck.link_like`).
    """
    text = html.unescape(text or "")  # so "&lt;script&gt;" is caught as the tag it would become
    _refuse_links(text)  # an href or a markdown link is a link even when clean-up drops it
    text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    text = _MD_LINK.sub(r"\1", text)
    text = "\n".join(_LINE_MARK.sub("", line) for line in text.splitlines())
    text = _INLINE_HEADING.sub("", text)
    for mark in ("```", "`", "**", "__", "~~", "*"):
        text = text.replace(mark, "")
    text = one_line(text)
    if not re.search(r"\w", text):
        raise BriefingError("the answer is empty")
    if _REFUSAL.search(text[:120]):
        raise BriefingError(f"the answer is a refusal: {text[:80]!r}")
    if _LEAK.search(text):
        raise BriefingError("the answer repeats the system prompt")
    text = _fix_citations(text, paper_count)
    text = re.sub(r"\(\s*\)", "", text)  # what is left of "(link)" or "([99])"
    text = re.sub(r"\s+([,.;:!?。，；：！？])", r"\1", " ".join(text.split()))
    text = _truncate(text.strip(), max_chars)
    _refuse_links(text)  # last, on what the reader would get
    return text


def _refuse_links(text: str) -> None:
    found = link_like(text)
    if found:
        raise BriefingError(f"the answer carries {found}")
