"""Render a :class:`Digest` into the subject, preheader, HTML and plain-text parts of one email.

HTML: Jinja2 renders MJML (autoescaped), mjml-python turns it into email HTML.
Text: Jinja2 renders a plain template (no escaping), wrapped for ~76 columns.

Size: Gmail clips an HTML part past ~102 KB and hides what follows, the unsubscribe footer
included. Every field is cut at render (rows stored before the ingest caps can be any
length), and a digest whose HTML is still over :data:`HTML_BUDGET` is rendered again with
shorter abstracts, then none, then fewer papers, the footer always kept.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup
from mjml import mjml2html

from digest_mailer.domain.digest import Briefing, CategoryGroup, Cut, Digest, RenderedDigest
from digest_mailer.i18n import category_in_text, digest_texts, spaced, texts
from digest_mailer.text import without_format

HTML_TEMPLATE = "digest.mjml.j2"
TEXT_TEMPLATE = "digest.txt.j2"
ABSTRACT_CHARS = 500
PREHEADER_CHARS = 100
MAX_AUTHORS = 5
TEXT_WIDTH = 76
# Caps on what one field may take in an email, whatever is stored.
TITLE_CHARS = 300
NAME_CHARS = 64  # the reader's name; as deliver.DISPLAY_NAME_CHARS for the To: header
AUTHOR_CHARS = 80  # one author's name
LABEL_CHARS = 80  # a category heading or badge
BRIEFING_CHARS = 3000
REASON_CHARS = 600
WHY_TITLE_CHARS = 80  # a title quoted in a paper's reason ("Close to ‘…’ in your library")
URL_CHARS = 2000  # a longer link is dropped: no real paper needs one
HTML_BUDGET = 100_000  # bytes of the HTML part; Gmail clips at ~102 KB
MIN_ABSTRACT_CHARS = 60  # shorter than this an abstract says nothing: drop it instead

# A Subject names this many categories, then "and N more".
SUBJECT_CATEGORIES = 3

# Characters mjml-python refuses to parse (C0 controls, non-characters) or cannot encode
# (lone surrogates): one stray byte in a feed must not break a whole send.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_SPACE = re.compile(r"\s+")
# Bidi embeddings, overrides and isolates: a stray U+202E turns the rest of a line around.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_WIDE = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
# A piece the wrapper never breaks: one wide character or a run of others, with the opening
# brackets before it and the closing punctuation after it (a line never starts with "」"
# or "，" nor ends with "「", as Chinese line breaking wants).
_WIDE_OR_RUN = re.compile(f"[「『（《〈【〔]*(?:[{_WIDE}]|[^{_WIDE}]+)"
                          "[」』）》〉】〕，。、：；！？]*")
_TRAILING = " ,;:.-–—"


def clean(value: str) -> str:
    """Drop characters that no email part should carry (controls, surrogates, bidi
    overrides)."""
    return _BIDI.sub("", _BAD_CHARS.sub("", value))


# The text helpers are pure and called for every paper of every digest: a paper shared by
# many digests is cleaned, trimmed and wrapped once (the benchmark's render hot spot).
_CACHE = 65536


@lru_cache(maxsize=_CACHE)
def one_line(value: str) -> str:
    """Clean and collapse every run of whitespace, CR/LF included, to one space."""
    return _SPACE.sub(" ", clean(value)).strip()


_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f]")


@lru_cache(maxsize=_CACHE)  # a digest asks for each link up to three times
def safe_url(url: str, fallback: str = "#") -> str:
    """The URL if it is absolute http(s) without whitespace, else ``fallback``.

    Blocks javascript:, data: and friends, which mjml-python passes through untouched.
    """
    url = (url or "").strip()
    if not url or len(url) > URL_CHARS or _UNSAFE_IN_URL.search(url):
        return fallback
    try:
        parts = urlsplit(url)
    except ValueError:
        return fallback
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else fallback


@lru_cache(maxsize=_CACHE)
def trim_words(text: str, limit: int = ABSTRACT_CHARS) -> str:
    """At most ~``limit`` characters, cut at a word boundary with an ellipsis."""
    if limit <= 0:
        return ""
    text = one_line(text[: limit * 4 + 64])  # a 100,000-character field is cut, not scanned
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    # No space in reach (CJK text, one huge token): a hard cut beats a stub.
    head = text[:cut] if cut > limit * 0.6 else text[:limit]
    return head.rstrip(_TRAILING) + "…"


def author_list(authors: tuple[str, ...] | list[str], language: str = "en") -> str:
    """The first few authors, then "et al." (等)."""
    return _author_list(tuple(authors), language)


@lru_cache(maxsize=_CACHE)
def person_name(value: str, limit: int = NAME_CHARS) -> str:
    """A person's name for display: no format characters (zero-width, bidi), cut."""
    return trim_words(without_format(value[: limit * 4 + 64]), limit)


@lru_cache(maxsize=_CACHE)
def _author_list(authors: tuple[str, ...], language: str) -> str:
    names = [n for n in (person_name(a, AUTHOR_CHARS) for a in authors[: MAX_AUTHORS * 4]) if n]
    shown = ", ".join(names[:MAX_AUTHORS])
    more = len(names) > MAX_AUTHORS or len(authors) > MAX_AUTHORS * 4
    return f"{shown} {texts(language)['email.et_al']}" if more else shown


def paper_count(n: int, language: str = "en") -> str:
    t = texts(language)
    return t["email.paper_one"] if n == 1 else t["email.paper_many"].format(n=n)


def join_list(items: list[str] | tuple[str, ...], language: str) -> str:
    """"a, b and c" in the reader's language ("a、b 和 c")."""
    t = texts(language)
    if len(items) < 2:
        return "".join(items)
    return t["lang.list_sep"].join(items[:-1]) + t["lang.list_and"] + items[-1]


def why(reason: tuple[str, str] | None, language: str = "en") -> str:
    """A paper's reason in the reader's words ("Matched your keyword ‘diffusion’"); ""
    for none or a kind this version has no words for. Plain text: the caller escapes."""
    if not reason:
        return ""
    kind, label = reason
    table = texts(language)
    key = f"email.why_{kind}"
    if key not in table:
        return ""
    return table[key].format(label=trim_words(label, WHY_TITLE_CHARS))


def _named(category: str, language: str) -> str:
    """A category as a sentence of ``language`` names it ("cs.LG", "机器学习"), cut."""
    return trim_words(category_in_text(category, language), LABEL_CHARS)


def more_in(n: int, category: str, language: str = "en", cadence: str = "daily") -> str:
    """"12 more in cs.LG today" (a weekly digest: "this week")."""
    return spaced(digest_texts(language, cadence)["email.more_in"].format(
        n=n, category=_named(category, language)))


def cross_from(category: str, language: str = "en") -> str:
    """"cross-listed from cs.CR" ("交叉列自密码学与安全")."""
    return spaced(texts(language)["email.cross_from"].format(category=_named(category, language)))


def cut_entirely(cuts: tuple[Cut, ...] | list[Cut], language: str = "en",
                 cadence: str = "daily") -> str:
    """The line naming the groups the caps left out whole ("Not in this email: 3 in
    cs.AI …"), or ""."""
    if not cuts:
        return ""
    t = digest_texts(language, cadence)
    items = [t["email.more_item"].format(n=c.n, category=_named(c.category, language))
             for c in cuts]
    return spaced(t["email.more_elsewhere"].format(groups=join_list(items, language)))


def paragraphs(text: str) -> list[str]:
    """Split on blank lines; each paragraph on one line."""
    return [p for p in (one_line(b) for b in re.split(r"\n\s*\n", clean(text))) if p]


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@lru_cache(maxsize=_CACHE)
def wrap(text: str, indent: str = "", width: int = TEXT_WIDTH, hang: str | None = None) -> str:
    """Wrap one paragraph for the text part, like textwrap but by display width.

    Breaks at spaces and between CJK characters (which have no spaces); never inside a
    URL or a long word. ``indent`` starts the first line, ``hang`` (default ``indent``)
    the following ones.
    """
    hang = indent if hang is None else hang
    lines: list[str] = []
    line, used, empty = indent, _width(indent), True
    for word in one_line(text).split(" "):
        pieces = [word] if "://" in word else _WIDE_OR_RUN.findall(word)
        for k, piece in enumerate(pieces):
            sep = "" if empty or k else " "
            w = _width(piece)
            if not empty and used + len(sep) + w > width:
                lines.append(line)
                line, used, sep = hang, _width(hang), ""
            line, used, empty = line + sep + piece, used + len(sep) + w, False
    lines.append(line)
    return "" if empty else "\n".join(lines)


def format_date(day: date, language: str = "en", short: bool = False) -> str:
    t, shape = texts(language), "short" if short else "long"
    month = t[f"lang.month{'_short' if short else ''}.{day.month}"]
    return t[f"lang.date_{shape}"].format(day=day.day, month=month, year=day.year)


def briefing_label(briefing: Briefing, language: str = "en", cadence: str = "daily") -> str:
    """Say honestly who wrote the briefing: an AI model or an extract of the abstracts."""
    t = digest_texts(language, cadence)
    if briefing.kind == "extractive":
        return t["email.kind_extractive"]
    if briefing.kind != "llm":
        raise ValueError(f"unknown briefing kind {briefing.kind!r} (expected llm|extractive)")
    model = one_line(briefing.model or "")
    shown = t["email.kind_llm_model"].format(model=model) if model else ""
    return spaced(t["email.kind_llm"].format(model=shown))


def subject_for(digest: Digest) -> str:
    """One line with the date, the paper count and the categories; never CR/LF."""
    lang = digest.recipient.language
    t = digest_texts(lang, digest.cadence)
    day = format_date(digest.digest_date, lang, short=True)
    groups = [g for g in digest.groups if g.papers]
    n = sum(len(g.papers) for g in groups)
    if not n:
        return one_line(t["email.subject_empty"].format(date=day))
    # Configured names only: the reader's categories, else CategoryGroup.subject_name (a
    # source's category), never a feed's free-form tag; each once, cut to a sane length.
    mine = {c.casefold() for c in digest.recipient.categories}
    named = (g.category if g.subject_name is None or g.category.casefold() in mine
             else g.subject_name for g in groups)
    cats = list(dict.fromkeys(c for c in (_named(c, lang) for c in named) if c))
    count = t["email.new_one"] if n == 1 else t["email.new_many"].format(n=n)
    if not cats:
        text = t["email.subject_unnamed"].format(date=day, count=count)
    else:
        if len(cats) > SUBJECT_CATEGORIES:
            listed = t["email.subject_more"].format(first=t["lang.list_sep"].join(cats[:2]),
                                                    more=len(cats) - 2)
        else:
            listed = join_list(cats, lang)
        text = t["email.subject"].format(date=day, count=count, categories=listed)
    return one_line(spaced(text))


def preheader_for(digest: Digest) -> str:
    """The inbox snippet: the first theme, then the start of the briefing (the subject
    names the fields, so this says what links them), else the first title."""
    source = one_line(digest.briefing.text) or (digest.papers[0].title if digest.papers else "")
    headline = one_line(digest.briefing.headline)
    if headline and source:
        source = f"{headline[:1].upper()}{headline[1:]} · {source}"
    return trim_words(source, PREHEADER_CHARS) or digest_texts(
        digest.recipient.language, digest.cadence)["email.empty"]


def _finalize(value: Any) -> Any:
    # Every {{ }} passes here before escaping, so no field can smuggle in a control char.
    return clean(value) if isinstance(value, str) and not isinstance(value, Markup) else value


def email_environment(templates_dir: Path) -> jinja2.Environment:
    """The Jinja environment of every email template (the digest's, the sign-up notices')."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(templates_dir)),
        # Escape everything except the plain-text part: feed text is hostile.
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # templates do not change under a running worker
        finalize=_finalize,
    )
    env.filters.update(
        safe_url=safe_url, trim_words=trim_words, one_line=one_line, wrap=wrap,
        authors=author_list, paper_count=paper_count, paragraphs=paragraphs, why=why,
        more_in=more_in, cross_from=cross_from,
    )
    env.tests["http_url"] = lambda url: safe_url(url, "") != ""
    return env


class DigestRenderer:
    """Renders digests with one Jinja environment; build once, render many."""

    def __init__(self, templates_dir: Path) -> None:
        self.templates_dir = Path(templates_dir)
        self.env = email_environment(self.templates_dir)
        self._html = self.env.get_template(HTML_TEMPLATE)
        self._text = self.env.get_template(TEXT_TEMPLATE)

    def context(self, digest: Digest) -> dict[str, Any]:
        lang = digest.recipient.language
        t = digest_texts(lang, digest.cadence)
        name = person_name(digest.recipient.name)
        return {
            "d": digest,
            "t": t,
            "lang": lang,
            "colon": t["lang.colon"] + t["lang.word_sep"],  # "label: value" / "标签：值"
            "date_long": format_date(digest.digest_date, lang),
            "greeting": t["email.greeting"].format(name=name) if name else "",
            "briefing": paragraphs(_cut(digest.briefing.text, BRIEFING_CHARS)),
            "briefing_label": briefing_label(digest.briefing, lang, digest.cadence),
            "groups": [g for g in digest.groups if g.papers],
            "preheader": preheader_for(digest),
            "reason": trim_words(digest.reason, REASON_CHARS),
            "abstract_chars": ABSTRACT_CHARS,
            "title_chars": TITLE_CHARS,
            "label_chars": LABEL_CHARS,
            "omitted": 0,
            "full_list": safe_url(digest.links.full_list, ""),
            "cut_entirely": cut_entirely(digest.cut_entirely, lang, digest.cadence),
        }

    def render(self, digest: Digest) -> RenderedDigest:
        ctx = self.context(digest)
        html = self._fit(ctx)
        return RenderedDigest(subject=subject_for(digest), preheader=ctx["preheader"],
                              html=html, text=self._text.render(ctx))

    def _html_of(self, ctx: dict[str, Any]) -> tuple[str, int]:
        html = mjml2html(self._html.render(ctx), disable_comments=True)
        return html, len(html.encode("utf-8"))

    def _fit(self, ctx: dict[str, Any]) -> str:
        """The HTML within :data:`HTML_BUDGET`; ``ctx`` is left as the HTML was rendered.

        Shorter abstracts first (their length estimated from one render without them),
        then none, then only the papers that fit, with a line pointing to the browser view.
        """
        html, size = self._html_of(ctx)
        if size <= HTML_BUDGET:
            return html
        full = size
        ctx["abstract_chars"] = 0
        html, bare = self._html_of(ctx)
        if bare <= HTML_BUDGET:
            chars = int(ABSTRACT_CHARS * (HTML_BUDGET - bare) / (full - bare) * 0.95)
            while chars >= MIN_ABSTRACT_CHARS:
                ctx["abstract_chars"] = chars
                shorter, size = self._html_of(ctx)
                if size <= HTML_BUDGET:
                    return shorter
                chars = int(chars * 0.85)
            ctx["abstract_chars"] = 0
            return html
        groups: list[CategoryGroup] = ctx["groups"]
        total = sum(len(g.papers) for g in groups)
        keep = int(total * HTML_BUDGET / bare * 0.95)
        while True:
            ctx["groups"] = _first_papers(groups, keep)
            ctx["omitted"] = total - keep
            html, size = self._html_of(ctx)
            if size <= HTML_BUDGET or keep == 0:
                return html
            keep = int(keep * 0.9)


def _cut(text: str, limit: int) -> str:
    """At most ``limit`` characters, paragraph breaks kept, cut at a space with "…"."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rfind(" ")
    return (head[:cut] if cut > limit // 2 else head).rstrip(_TRAILING) + "…"


def _first_papers(groups: list[CategoryGroup], keep: int) -> list[CategoryGroup]:
    """The groups cut to their first ``keep`` papers in reading order."""
    kept: list[CategoryGroup] = []
    for group in groups:
        if keep <= 0:
            break
        kept.append(replace(group, papers=group.papers[:keep]))
        keep -= len(kept[-1].papers)
    return kept
