"""Rendering: subject, preheader, HTML (Jinja → MJML → HTML) and text parts of a digest."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from digest_mailer.domain.digest import (
    Briefing,
    CategoryGroup,
    Digest,
    Links,
    Paper,
    Recipient,
    RenderedDigest,
)
from digest_mailer.mail.render import (
    DigestRenderer,
    _width,
    author_list,
    safe_url,
    subject_for,
    trim_words,
    wrap,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
DAY = date(2026, 11, 24)
BASE = "https://digest.example.org"
# Signed tokens as the web app makes them (itsdangerous): long, so the size test is honest.
TOKEN = "eyJzIjo0MjE3LCJwIjoiMjYwNi4xOTM3MyIsImQiOiIyMDI2LTExLTI0In0.Z0NqRg.u8Vb3kq0xYxq2yV7pQ"

CATEGORIES = {
    "cs.CV": ("Computer Vision (cs.CV)", "arXiv"),
    "cs.LG": ("Machine Learning (cs.LG)", "arXiv"),
    "math.PR": ("Probability (math.PR)", "arXiv"),
    "bioinformatics": ("Bioinformatics", "bioRxiv"),
}
TITLES = {
    "cs.CV": [
        "DiffMath: Symbol- and Graph-Aware Latent Diffusion Transformer for Handwritten "
        "Mathematical Expression Generation",
        "A Scalable PyTorch Abstraction for Multi-GPU Gaussian Splatting",
        "ReMoT: Reinforcement Learning with Motion Contrast Triplets",
        "LiAuto-GeoX: Efficient Grounded Driving Transformer",
    ],
    "cs.LG": [
        "Is Stochastic Gradient Descent Effective? A PDE Perspective on Machine Learning "
        "Processes",
        "Not all Jensen-Shannon Divergence Estimators are Equal",
        "MiniMax Sparse Attention",
        "Viral Proteins Reveal Geometry of Protein Language Models",
    ],
    "math.PR": [
        "Functional Central Limit Theorems for Non-Local Branching Markov Processes",
        "A Small Noise Approximation for Muller's Ratchet",
    ],
    "bioinformatics": [
        "RetroMol: Parsing a Shared Encoding from Natural Products and Their Biosynthetic "
        "Gene Clusters",
        "SMART: A Flexible, Interpretable, and Scalable Spatio-temporal Brain Atlas",
    ],
}
ABSTRACT = (
    "Handwritten mathematical expression generation is challenging due to the complex "
    "two-dimensional layouts and long-range structural dependencies of expressions. Existing "
    "methods typically rely on explicit spatial supervision, such as symbol-level bounding "
    "boxes, which incurs high annotation costs and limits scalability. In this work, we "
    "propose a symbol- and graph-aware latent diffusion framework that leverages the "
    "hierarchical structure inherent in LaTeX as a structural prior, eliminating the need for "
    "positional supervision. First, we design a relational abstract syntax tree, a "
    "generation-oriented representation that distills MathML trees into compact triplet "
    "sequences. Second, we introduce a variational autoencoder that learns "
    "structure-preserving latent representations. Experiments show that the method produces "
    "structurally consistent expressions and improves the accuracy of downstream OCR models."
)
AUTHORS = ("Wei Zhang", "Maria Garcia", "Ahmed Hassan", "Yuki Tanaka", "Olga Petrova",
           "Jean Dupont", "Priya Natarajan")


def make_digest(n: int = 14, language: str = "en", kind: str = "llm", **over: object) -> Digest:
    """A realistic digest of ``n`` papers spread over the four categories, numbered 1..n."""
    cats = list(CATEGORIES)
    per_cat: dict[str, list[Paper]] = {c: [] for c in cats}
    for i in range(n):
        cat = cats[i % len(cats)] if i >= 4 else cats[min(i, 1)]  # cs.CV/cs.LG lead
        titles = TITLES[cat]
        title = titles[len(per_cat[cat]) % len(titles)]
        if len(per_cat[cat]) >= len(titles):
            title = f"{title} (part {len(per_cat[cat]) // len(titles) + 1})"
        source = CATEGORIES[cat][1]
        arxiv_id = f"2611.{10000 + i}"
        link = (f"https://arxiv.org/abs/{arxiv_id}" if source == "arXiv"
                else f"https://www.biorxiv.org/content/10.1101/2026.11.{i:02d}.612345v1")
        per_cat[cat].append(Paper(
            number=0, key=arxiv_id, title=title, abstract=f"{ABSTRACT} Variant {i}.",
            authors=AUTHORS[: 2 + i % 6], link=link, badge=f"{source} ({cat})", category=cat,
            categories=(cat,), published=date(2026, 11, 23),
            feedback_more_url=f"{BASE}/feedback/more/{TOKEN}{i}",
            feedback_less_url=f"{BASE}/feedback/less/{TOKEN}{i}",
        ))
    groups, number = [], 0
    for cat in cats:
        papers = []
        for p in per_cat[cat]:
            number += 1
            papers.append(replace(p, number=number))
        if papers:
            groups.append(CategoryGroup(cat, CATEGORIES[cat][0], tuple(papers)))
    briefing = (
        Briefing("Diffusion models dominate today's vision papers [1], while two learning "
                 "theory papers revisit SGD through PDEs [2].\n\nIn probability, a new "
                 "functional CLT covers non-local branching processes.", "llm", "gpt-4o-mini")
        if kind == "llm"
        else Briefing("We propose a symbol- and graph-aware latent diffusion framework.",
                      "extractive")
    )
    fields: dict[str, object] = {
        "recipient": Recipient("ada@example.org", "Ada Lovelace", language,
                               tuple(cats), ("diffusion",)),
        "digest_date": DAY,
        "groups": tuple(groups),
        "briefing": briefing,
        "links": Links(unsubscribe=f"{BASE}/u/{TOKEN}", unsubscribe_mailto="mailto:u@example.org",
                       preferences=f"{BASE}/p/{TOKEN}", view_online=f"{BASE}/v/{TOKEN}"),
        "reason": "You subscribed to cs.CV, cs.LG, math.PR and bioinformatics.",
    }
    fields.update(over)
    return Digest(**fields)  # type: ignore[arg-type]


class Anchors(HTMLParser):
    """Collects every tag's attributes and the text of each <a>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self._href, self._text = dict(attrs).get("href") or "", []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse(html: str) -> Anchors:
    parser = Anchors()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def renderer() -> DigestRenderer:
    return DigestRenderer(TEMPLATES)


@pytest.fixture(scope="module")
def rendered(renderer: DigestRenderer) -> RenderedDigest:
    return renderer.render(make_digest(14))


def test_html_has_titles_groups_briefing_and_links(rendered: RenderedDigest) -> None:
    digest = make_digest(14)
    html = rendered.html
    for paper in digest.papers:
        assert str(escape(paper.title)) in html
    positions = [html.index(g.label) for g in digest.groups]
    assert positions == sorted(positions) and len(positions) == 4
    assert "Diffusion models dominate today&#39;s vision papers" in html
    assert "Briefing written by an AI model (gpt-4o-mini) from today&#39;s abstracts" in html
    anchors = dict(parse(html).links)
    assert anchors[digest.links.unsubscribe] == "Unsubscribe"
    assert anchors[digest.links.preferences] == "Manage preferences"
    assert anchors[digest.links.view_online] == "View in browser"
    for paper in digest.papers:
        assert anchors[paper.link] == paper.title
        assert anchors[paper.feedback_more_url] == "More like this"
        assert anchors[paper.feedback_less_url] == "Less like this"
    toc = [(href, text) for href, text in parse(html).links if href.startswith("#g")]
    assert toc == [(f"#g{i}", g.label) for i, g in enumerate(digest.groups, 1)]
    assert "In this issue:</b> <a" in html
    assert '<html lang="en"' in html
    assert "<title>Research Digest · 24 November 2026</title>" in html
    assert digest.reason in html
    assert "Wei Zhang, Maria Garcia" in html


def test_extractive_briefing_is_labelled(renderer: DigestRenderer) -> None:
    out = renderer.render(make_digest(5, kind="extractive"))
    assert "Briefing extracted from today&#39;s abstracts (no AI model used)" in out.html
    assert "AI model (" not in out.html
    assert "(no AI model used)" in out.text


def test_unknown_briefing_kind_is_refused(renderer: DigestRenderer) -> None:
    digest = make_digest(3, briefing=Briefing("x", "magic"))
    with pytest.raises(ValueError, match="briefing kind"):
        renderer.render(digest)


def test_subject() -> None:
    subject = subject_for(make_digest(14))
    assert subject == "Research digest, 24 Nov 2026: 14 new papers in cs.CV, cs.LG and 2 more"
    assert subject_for(make_digest(1)) == "Research digest, 24 Nov 2026: 1 new paper in cs.CV"
    assert subject_for(make_digest(2)).endswith("2 new papers in cs.CV and cs.LG")
    assert subject_for(make_digest(0)) == "Research digest, 24 Nov 2026: no new papers"
    zh = subject_for(make_digest(14, language="zh"))
    # The measure word sits on its number ("14篇", not "14 篇"): tests/test_i18n.py.
    assert zh == "科研简报 2026-11-24：计算机视觉、机器学习及另外2个领域的14篇新论文"
    hostile = make_digest(3)
    group = replace(hostile.groups[0], category="cs.CV\r\nBcc: x@evil.org")
    subject = subject_for(replace(hostile, groups=(group, *hostile.groups[1:])))
    assert "\r" not in subject and "\n" not in subject


def test_preheader(rendered: RenderedDigest, renderer: DigestRenderer) -> None:
    assert rendered.preheader.startswith("Diffusion models dominate")
    assert len(rendered.preheader) <= 101 and "\n" not in rendered.preheader
    assert rendered.preheader.replace("'", "&#39;") in rendered.html
    no_brief = renderer.render(make_digest(3, briefing=Briefing("", "extractive")))
    assert no_brief.preheader == make_digest(3).papers[0].title[:100].rsplit(" ", 1)[0] + "…"


def test_text_part_carries_the_same_content(rendered: RenderedDigest) -> None:
    digest = make_digest(14)
    text = rendered.text
    squashed = " ".join(text.split())
    for paper in digest.papers:
        assert f"[{paper.number}] {paper.title}" in squashed
        assert f"\n    {paper.link}\n" in text
        assert paper.feedback_more_url in text and paper.feedback_less_url in text
    for url in (digest.links.unsubscribe, digest.links.preferences, digest.links.view_online):
        assert url in text
    assert "arXiv (cs.CV) · 2026-11-23 · Wei Zhang, Maria Garcia" in text
    assert "Briefing written by an AI model (gpt-4o-mini)" in squashed
    assert "Diffusion models dominate today's vision papers" in squashed
    assert "&#39;" not in text and "&amp;" not in text
    long_lines = [ln for ln in text.splitlines() if len(ln) > 76 and "://" not in ln]
    assert not long_lines


def test_sixty_paper_digest_stays_under_gmail_clipping(renderer: DigestRenderer) -> None:
    digest = make_digest(60)
    html = renderer.render(digest).html
    size = len(html.encode("utf-8"))
    print(f"\nHTML size for 60 papers: {size} bytes ({size / 1024:.1f} KiB)")
    assert size < 100_000
    for paper in digest.papers:
        assert str(escape(paper.title)) in html


def test_render_time(renderer: DigestRenderer) -> None:
    digest = make_digest(40)
    renderer.render(digest)  # warm-up
    start = time.perf_counter()
    runs = 20
    for _ in range(runs):
        renderer.render(digest)
    print(f"\nrender one 40-paper digest: {(time.perf_counter() - start) / runs * 1000:.1f} ms")


def test_hostile_input_is_escaped(renderer: DigestRenderer) -> None:
    digest = make_digest(6)
    first = replace(
        digest.groups[0].papers[0],
        title="<script>alert(1)</script>",
        abstract="Great results <img src=x onerror=alert(1)> and \x00\x1b control bytes.",
        link="javascript:alert(1)",
        badge='arXiv (cs.CV)"><svg onload=alert(1)>',
        authors=("Eve <b onmouseover=alert(1)>",),
        feedback_more_url="  JaVaScRiPt:alert(1)",
        feedback_less_url="data:text/html,<script>alert(1)</script>",
    )
    group = replace(digest.groups[0], papers=(first, *digest.groups[0].papers[1:]),
                    label="<i>Vision</i>")
    hostile = replace(
        digest,
        groups=(group, *digest.groups[1:]),
        recipient=replace(digest.recipient, name="Mallory\r\nBcc: x@evil.org"),
        briefing=Briefing("Summary </mj-text><mj-raw><script>alert(2)</script></mj-raw>",
                          "llm", "evil<script>"),
        links=replace(digest.links, view_online="javascript:alert(3)"),
        reason="<a href='javascript:alert(4)'>click</a>",
    )
    out = renderer.render(hostile)
    html = out.html
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    parsed = parse(html)
    for tag, attrs in parsed.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert tag not in ("script", "svg", "mj-raw", "img") or attrs.get("alt")
    for href, _ in parsed.links:
        assert href.startswith(("http://", "https://", "#")), href
    assert ("#", "<script>alert(1)</script>") in parsed.links  # title kept, as text, unlinked
    assert "javascript:" not in " ".join(href for href, _ in parsed.links).lower()
    assert "Mallory Bcc: x@evil.org" in html
    assert "\r\n" not in out.subject and "\n" not in out.preheader
    # The text part is text/plain: raw text is fine, but no unsafe URL is written out.
    url_lines = [ln.split(": ", 1)[-1].strip().lower() for ln in out.text.splitlines()
                 if "javascript:" in ln.lower() or "data:" in ln]
    assert url_lines == ["<a href='javascript:alert(4)'>click</a>"]  # only the reason's text
    assert "View in browser:" not in out.text
    assert "\x00" not in out.text and "\x1b" not in html


def test_empty_digest_still_renders(renderer: DigestRenderer) -> None:
    out = renderer.render(make_digest(0, briefing=Briefing("", "extractive")))
    assert out.subject == "Research digest, 24 Nov 2026: no new papers"
    assert "No new papers in your categories today." in out.html
    assert "No new papers in your categories today." in out.text
    assert "Today&#39;s briefing" not in out.html
    assert make_digest(0).links.unsubscribe in out.text


def test_chinese_digest(renderer: DigestRenderer) -> None:
    out = renderer.render(make_digest(6, language="zh"))
    assert '<html lang="zh-Hans"' in out.html
    for phrase in ("科研简报", "今日简报", "本简报由 AI 模型 gpt-4o-mini 根据今日摘要生成",
                   "退订", "管理订阅偏好", "在浏览器中查看", "多推荐类似论文", "2026年11月24日"):
        assert phrase in out.html, phrase
        assert phrase in out.text, phrase
    assert "Unsubscribe" not in out.html
    assert out.subject.startswith("科研简报 2026-11-24：")
    wide = [ln for ln in out.text.splitlines() if _width(ln) > 76 and "://" not in ln]
    assert not wide
    extractive = renderer.render(make_digest(2, language="zh", kind="extractive"))
    assert "本简报摘自今日论文摘要，未使用 AI 模型" in extractive.html


def test_every_image_has_alt(rendered: RenderedDigest) -> None:
    for tag, attrs in parse(rendered.html).tags:
        if tag == "img":
            assert (attrs.get("alt") or "").strip()


def test_trim_words_keeps_word_boundaries() -> None:
    trimmed = trim_words(ABSTRACT, 500)
    assert len(trimmed) <= 501 and trimmed.endswith("…")
    head = trimmed[:-1]
    assert ABSTRACT.startswith(head)
    assert ABSTRACT[len(head)] in " ,.;"  # the cut fell between words
    assert trim_words("short  text\n here", 500) == "short text here"
    assert trim_words("x" * 600, 500) == "x" * 500 + "…"  # no space: hard cut
    assert len(trim_words("深度学习" * 200, 100)) == 101


def test_authors_are_capped() -> None:
    assert author_list(AUTHORS[:5]) == ", ".join(AUTHORS[:5])
    assert author_list(AUTHORS) == ", ".join(AUTHORS[:5]) + " et al."
    assert author_list(AUTHORS, "zh").endswith(" 等")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2611.10001", "https://arxiv.org/abs/2611.10001"),
        ("http://example.org/x?a=1&b=2", "http://example.org/x?a=1&b=2"),
        ("javascript:alert(1)", "#"),
        (" JavaScript:alert(1)", "#"),
        ("data:text/html,x", "#"),
        ("//evil.org/x", "#"),
        ("https://ok.org/a\r\nBcc: x", "#"),
        ("", "#"),
    ],
)
def test_safe_url(url: str, expected: str) -> None:
    assert safe_url(url) == expected


def test_wrap_keeps_urls_and_breaks_cjk() -> None:
    url = "https://example.org/" + "a" * 90
    assert url in wrap(f"see {url} now").splitlines()
    lines = wrap("深度学习模型" * 40, "    ").splitlines()
    assert all(ln.startswith("    ") for ln in lines) and len(lines) > 1
    assert all(len(ln) <= 4 + 36 for ln in lines)


def test_one_renderer_renders_the_same_digest_the_same_way_twice() -> None:
    renderer = DigestRenderer(TEMPLATES)  # a retry must send the email the first try built
    first = renderer.render(make_digest(2))
    assert renderer.render(make_digest(2)) == first and first.html and first.text
