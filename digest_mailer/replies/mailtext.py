"""The reader's own words in an email: plain text preferred, HTML turned into text
safely (no script, style or markup survives), quoted history and signature cut."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

MAX_TEXT = 4000  # characters of excerpt kept
_QUOTE_HEADER = re.compile(
    r"^(on\b.*\bwrote:|le\b.*\ba écrit ?:|am\b.*\bschrieb\b.*:|el\b.*\bescribió:|"
    r"在.*写道[:：]|-{3,} ?original message ?-{3,}|_{16,})$", re.IGNORECASE)


def body_text(message: EmailMessage) -> str:
    """The plain text of the body: text/plain preferred, HTML converted to text."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = str(part.get_content())
    except (LookupError, UnicodeError, AssertionError):  # unknown or lying charset
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    content = content.replace("\r\n", "\n").replace("\r", "\n")
    return _html_to_text(content) if part.get_content_type() == "text/html" else content


class _TextOfHtml(HTMLParser):
    """Text of an HTML body: no script or style, quoted history (blockquote, Gmail's
    gmail_quote, Outlook's divRplyFwdMsg, Thunderbird's cite prefix) left out."""

    SKIP = frozenset(("script", "style", "head", "title", "blockquote", "template"))
    BLOCK = frozenset(("p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3",
                       "h4", "h5", "h6", "pre", "hr"))
    STOP = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "divrplyfwdmsg")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_tag, self.depth, self.stopped = "", 0, False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.stopped:
            return
        if self.skip_tag:
            self.depth += tag == self.skip_tag
            return
        marks = " ".join(v or "" for k, v in attrs if k in ("class", "id")).lower()
        if any(mark in marks for mark in self.STOP):
            self.stopped = True
        elif tag in self.SKIP:
            self.skip_tag, self.depth = tag, 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag:
            self.depth -= tag == self.skip_tag
            if self.depth <= 0:
                self.skip_tag = ""
        elif tag in self.BLOCK and not self.stopped:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_tag and not self.stopped:
            self.parts.append(re.sub(r"\s+", " ", data))


def _html_to_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "\n".join(line.strip() for line in "".join(parser.parts).split("\n"))


def excerpt_of(text: str) -> str:
    """The reader's own words: quoted history ("On … wrote:", ">") and signature cut."""
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if line.rstrip() == "--" or _QUOTE_HEADER.match(stripped) or (
                following and _QUOTE_HEADER.match(f"{stripped} {following}")):
            break
        if not stripped.startswith(">"):
            kept.append(line.rstrip())
    excerpt = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return excerpt[:MAX_TEXT]
