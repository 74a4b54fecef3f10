"""Issue 10, acceptance 3: a digest says why each paper is there and "N more in cs.LG
today" when the caps cut, linking to the reader's full ranked list of the day.

Real parts: the demo's arXiv feeds on loopback, the send path to a loopback SMTP server or
the outbox, the web app through TestClient (the browser test is in test_web_browser.py).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest
import test_reader_models
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from test_i18n import visible, zh_faults
from test_reader_models import LLM_LIBRARY
from test_render import make_digest
from world import REPO, World, parse, parts

from digest_mailer import db
from digest_mailer.db.models import Delivery, Vote
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.security import PAGE_CSP
from digest_mailer.mail.render import DigestRenderer, one_line, wrap

BASE = "https://digest.example.org"
DAY = date(2026, 11, 1)
KEYWORD = "conformal prediction"
EXPLORE = "To help us learn your taste"
REASON = re.compile(r'<span class="w">([^<]*)</span>')
FULL_LIST = re.compile(r'<a href="(https://digest\.example\.org/v/[^"/]+/all)">([^<]*)</a>')
# A seed whose title is hostile: markup, quotes, and long enough to be cut when quoted.
HOSTILE = (b'@article{evil, title = {<script>alert("x")</script><img src=x onerror=alert(1)> '
           b"LoRA: Low-Rank Adaptation of Large Language Models, injected into every layer of "
           b"the Transformer},\n  abstract = {We freeze the pretrained model weights and inject"
           b" trainable rank decomposition matrices into each layer of the Transformer, greatly"
           b" reducing the trainable parameters for fine-tuning large language models.}}\n")


# The demo's feeds ingested; digests cut at 5 papers, two of them exploring.
lg = test_reader_models.lg


def delivery_of(world: World, subscriber_id: int) -> Delivery:
    with Session(world.app.engine) as session:
        delivery = db.deliveries.of_day(session, subscriber_id, DAY)
        assert delivery is not None
        return delivery


def outbox_parts(world: World, address: str) -> tuple[str, str]:
    """(text, html) of the digest the outbox holds for ``address``."""
    for eml in sorted(world.app.settings.effective_outbox_dir.glob("*.eml")):
        message = parse(eml.read_bytes())
        if address in str(message["To"]):
            return parts(message)
    raise AssertionError(f"no digest to {address}")


def expected_reasons(delivery: Delivery) -> list[str]:
    """The reason each stored note gives, in the email's words, in reading order."""
    words = {"keyword": "Matched your keyword ‘{}’", "library": "Close to ‘{}’ in your library",
             "more": "Like ‘{}’, which you marked more like this", "explore": EXPLORE}
    found = [delivery.notes["papers"][k]["why"] for k in delivery.entry_keys]
    return [words[kind].format(label) for kind, label in filter(None, found)]


def readable(text: str) -> str:
    """The text part with its wrapping undone, for phrases that may span lines."""
    return " ".join(text.split())


def test_the_email_says_why_each_paper_is_there_and_how_many_more(tmp_path, feed_server,
                                                                  smtp_server):
    smtp = smtp_server()
    world = World.build(tmp_path, feed_server, max_papers=5, explore_slots=2,
                        smtp_url=smtp.url())
    world.add_demo_sources()
    world.app.ingest.refresh()
    reader = world.subscribe("llm@example.org", ["cs.LG"], keywords=[KEYWORD])
    world.app.library.load(reader.email, LLM_LIBRARY)
    assert world.app.send.send().counts["sent"] == 1
    (message,) = [parse(m.content) for m in smtp.messages]
    text, html = parts(message)
    delivery = delivery_of(world, reader.id)

    reasons = expected_reasons(delivery)
    assert reasons[0] == f"Matched your keyword ‘{KEYWORD}’"
    assert any(r.startswith("Close to ‘") and r.endswith("’ in your library") for r in reasons)
    assert reasons.count(EXPLORE) == 2
    # Every card says its stored reason, in reading order, in both parts.
    assert REASON.findall(html) == reasons
    flat = readable(text)
    positions = [flat.find(r) for r in reasons]
    assert -1 not in positions and positions == sorted(positions)

    # What the caps left out: counted under its group, linking to the full list.
    ((group, n),) = delivery.notes["more"]
    assert group == "cs.LG" and n > 0
    ((url, label),) = FULL_LIST.findall(html)
    assert label == f"{n} more in cs.LG today"
    view = world.app.signer.links(reader.public_id, delivery.public_id).view_online
    assert url == view + "/all"
    assert f"\n{n} more in cs.LG today: {url}\n" in text


def test_a_group_the_caps_left_out_whole_is_named_at_the_end(tmp_path, feed_server):
    world = World.build(tmp_path, feed_server, max_papers=2)
    world.add_demo_sources()
    world.app.ingest.refresh()
    reader = world.subscribe("three@example.org", ["cs.CV", "cs.LG", "cs.AI"])
    world.app.send.send()
    delivery = delivery_of(world, reader.id)
    more = dict(delivery.notes["more"])
    assert set(more) == {"cs.CV", "cs.LG", "cs.AI"} and len(delivery.entry_keys) == 2
    text, html = outbox_parts(world, reader.email)
    links = dict((label, url) for url, label in FULL_LIST.findall(html))
    assert set(links) == {f"{more['cs.CV']} more in cs.CV today",
                          f"{more['cs.LG']} more in cs.LG today",
                          f"Not in this email: {more['cs.AI']} in cs.AI. "
                          "All are in today&#39;s full list."}
    assert len(set(links.values())) == 1  # one list of the day
    url = next(iter(links.values()))
    assert (f"Not in this email: {more['cs.AI']} in cs.AI. All are in today's full list.\n"
            f"{url}\n") in text
    # No cs.AI heading: the group has no paper in this email.
    assert "Artificial Intelligence (cs.AI)" not in re.sub(r"Not in this email:[^<]*", "", html)


def test_a_delivery_stored_without_notes_renders_as_before(lg):
    """Rows written before notes existed (NULL): no reasons, no "N more", nothing else
    changed. Removing exactly the new lines from the noted rendering gives the old one."""
    reader = lg.subscribe("llm@example.org", ["cs.LG"], keywords=[KEYWORD])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    lg.app.send.send()
    composer = lg.app.composer

    def rendered():
        with Session(lg.app.engine) as session:
            delivery = db.deliveries.of_day(session, reader.id, DAY)
            subscriber = session.get(type(reader), reader.id)
            return composer.compose(session, subscriber, delivery).rendered

    noted = rendered()
    with Session(lg.app.engine) as session:
        row = db.deliveries.of_day(session, reader.id, DAY)
        reasons = expected_reasons(row)
        ((_, n),) = row.notes["more"]
        row.notes = None
        session.add(row)
        session.commit()
    old = rendered()
    # The only link to the full list left is the text part's one "rate these papers" line.
    old_text = re.sub(r"\nRate these papers[^\n]*\n", "\n", old.text)
    assert "class=\"w\"" not in old.html and "/all" not in old.html and "/all" not in old_text
    assert "more in cs.LG today" not in old.html + old.text and EXPLORE not in old.text

    html = re.sub(r'<br /><span class="w">[^<]*</span>', "", noted.html)
    html = re.sub(r'<div class="x"><a href="[^"]+">[^<]*</a></div>', "", html)
    assert html != noted.html and html == old.html
    text = noted.text
    for reason in reasons:
        text = text.replace(wrap(reason, "    ") + "\n", "", 1)
    url = FULL_LIST.search(noted.html).group(1)
    text = text.replace(f"\n{n} more in cs.LG today: {url}\n", "", 1)
    assert text != noted.text and text == old.text
    assert (old.subject, old.preheader) == (noted.subject, noted.preheader)


def test_a_hostile_title_quoted_in_a_reason_is_escaped_and_cut(lg):
    reader = lg.subscribe("evil@example.org", ["cs.LG"])
    lg.app.library.load(reader.email, HOSTILE)
    lg.app.send.send()
    text, html = outbox_parts(lg, reader.email)
    library = [r for r in REASON.findall(html) if r.startswith("Close to")]
    assert library, REASON.findall(html)
    assert "<script" not in html and "<img src=x" not in html and "onerror=alert" not in \
        re.sub(r"&lt;img src=x onerror=alert\(1\)&gt;", "", html)
    quoted = re.fullmatch(r"Close to ‘(.*)’ in your library", library[0]).group(1)
    assert quoted.startswith("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img")
    assert quoted.endswith("…") and len(one_line(quoted.replace("&lt;", "<")
                                                .replace("&gt;", ">").replace("&#34;", '"'))) <= 81
    # The text part is text/plain: the title as written, cut the same way.
    assert 'Close to ‘<script>alert("x")</script><img src=x' in readable(text)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_kind_of_reason_in_the_readers_words(language):
    digest = make_digest(4, language=language)
    kinds = [("keyword", "diffusion"), ("library", "Paper X " * 20), ("more", "Paper Y"),
             ("explore", "")]
    groups, k = [], 0
    for group in digest.groups:
        papers = []
        for paper in group.papers:
            papers.append(replace(paper, reason=kinds[k]))
            k += 1
        groups.append(replace(group, papers=tuple(papers), more=3))
    digest = replace(digest, groups=tuple(groups),
                     links=replace(digest.links, full_list=f"{BASE}/v/tok/all"))
    out = DigestRenderer(REPO / "templates" / "email").render(digest)
    shown = REASON.findall(out.html)
    if language == "en":
        assert shown == ["Matched your keyword ‘diffusion’",
                         "Close to ‘" + ("Paper X " * 10).strip() + "…’ in your library",
                         "Like ‘Paper Y’, which you marked more like this", EXPLORE]
    else:
        assert shown == ["匹配您的关键词「diffusion」",
                         "与您文库中的「" + ("Paper X " * 10).strip() + "…」相近",
                         "与您标记为多推荐的「Paper Y」相似", "帮助我们了解您的偏好"]
        assert "今日计算机视觉另有3篇" in out.html and "今日计算机视觉另有3篇：" in out.text
        for part in (out.text, visible(out.html)):
            assert zh_faults(part) == []
    assert all(r in readable(out.text) for r in shown)


def test_a_chinese_reader_gets_chinese_reasons_and_counts(lg):
    reader = lg.subscribe("li@example.cn", ["cs.LG"], keywords=[KEYWORD], language="zh")
    lg.app.library.load(reader.email, LLM_LIBRARY)
    lg.app.send.send()
    text, html = outbox_parts(lg, reader.email)
    delivery = delivery_of(lg, reader.id)
    ((_, n),) = delivery.notes["more"]
    shown = REASON.findall(html)
    assert shown[0] == f"匹配您的关键词「{KEYWORD}」" and shown.count("帮助我们了解您的偏好") == 2
    assert any(r.startswith("与您文库中的「") and r.endswith("」相近") for r in shown)
    assert [label for _, label in FULL_LIST.findall(html)] == [f"今日机器学习另有{n}篇"]
    assert f"今日机器学习另有{n}篇：" in text
    assert not any("Matched" in r or "more in" in r for r in shown)
    for part in (text, visible(html)):
        assert zh_faults(part) == []


# --- the full list of the day over HTTP -------------------------------------------------

@pytest.fixture()
def client(lg):
    with TestClient(create_app(lg.app), base_url=BASE, follow_redirects=False) as c:
        yield c


PAPER = re.compile(r'<div class="paper( sent)?" id="p(\d+)">\n<div><span class="muted">'
                   r'\[\d+\]</span> <a class="title" href="https://arxiv\.org/abs/([^"]+)">')
MORE_FORM = re.compile(r'<form method="post" action="(https://digest\.example\.org/f/[^"]+)"'
                       r' class="inline"><button type="submit" class="secondary vote-more">')


def test_the_full_list_ranks_every_paper_of_the_day_with_reasons_and_votes(lg, client):
    reader = lg.subscribe("llm@example.org", ["cs.LG"], keywords=[KEYWORD])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    lg.app.send.send()
    delivery = delivery_of(lg, reader.id)
    ((_, n),) = delivery.notes["more"]
    _, html = outbox_parts(lg, reader.email)
    url = FULL_LIST.search(html).group(1)
    page = client.get(url.removeprefix(BASE))
    assert page.status_code == 200 and page.headers["content-security-policy"] == PAGE_CSP
    assert "<h1>Your full list for 1 November 2026</h1>" in page.text
    papers = PAPER.findall(page.text)
    keys = [key for _, _, key in papers]
    # Every paper of the reader's window: the email's and the ones the caps left out.
    assert len(keys) == len(set(keys)) == len(delivery.entry_keys) + n
    assert [number for _, number, _ in papers] == [str(i) for i in range(1, len(keys) + 1)]
    sent = [key for mark, _, key in papers if mark]
    assert sorted(sent) == sorted(delivery.entry_keys)
    assert page.text.count("In your email</span>") == len(delivery.entry_keys)
    # Ranked as the send path ranks: the email's ranked papers lead, in the email's order;
    # the two it explored with sit lower, marked as the email marked them.
    explored = [k for k, p in delivery.notes["papers"].items() if p["why"] == ["explore", ""]]
    ranked = [k for k in delivery.entry_keys if k not in explored]
    assert keys[:len(ranked)] == ranked
    assert all(keys.index(k) >= len(ranked) for k in explored)
    assert page.text.count(EXPLORE) == 2
    assert f"Matched your keyword ‘{KEYWORD}’" in page.text.split('id="p2"')[0]

    # The vote buttons POST to the feedback link; a GET of the page voted nothing.
    forms = MORE_FORM.findall(page.text)
    assert len(forms) == len(keys)
    with Session(lg.app.engine) as session:
        assert list(session.exec(select(Vote))) == []
    last = keys[-1]
    assert client.post(forms[-1].removeprefix(BASE)).status_code == 200
    with Session(lg.app.engine) as session:
        assert [(v.subscriber_id, v.entry_key, v.vote) for v in session.exec(select(Vote))] == [
            (reader.id, last, "more")]


def test_the_full_list_refuses_forged_links_and_unsent_digests(lg, client):
    reader = lg.subscribe("r@example.org", ["cs.LG"], language="zh")
    for bad in ("garbage", lg.app.signer.token("unsubscribe", reader.public_id),
                lg.app.signer.token("view", "no-such-delivery")):
        page = client.get(f"/v/{bad}/all")
        assert page.status_code == 400 and "This link is not valid" in page.text
    with Session(lg.app.engine) as session:
        pending = Delivery(subscriber_id=reader.id, digest_date=DAY, entry_keys=[],
                           cutoff=lg.now)
        session.add(pending)
        session.commit()
        public_id = pending.public_id
    page = client.get(lg.app.signer.links(reader.public_id, public_id).full_list
                      .removeprefix(BASE))
    assert page.status_code == 404 and "这期简报尚未发送" in page.text


def test_the_full_list_speaks_the_readers_language(lg, client):
    reader = lg.subscribe("li@example.cn", ["cs.LG"], keywords=[KEYWORD], language="zh")
    lg.app.send.send()
    delivery = delivery_of(lg, reader.id)
    page = client.get(lg.app.signer.links(reader.public_id, delivery.public_id).full_list
                      .removeprefix(BASE))
    assert page.status_code == 200
    assert "<h1>2026年11月1日的完整列表</h1>" in page.text and '<html lang="zh-Hans">' in page.text
    assert f"匹配您的关键词「{KEYWORD}」" in page.text and "多推荐类似论文" in page.text
    assert "In your email" not in page.text and "已在邮件中" in page.text
    assert zh_faults(visible(page.text)) == []


