"""The library part of the preferences page (issue 10) on the real uvicorn server, over HTTP:
upload a library file, see its seeds, remove one, save the statement; a bad file, a missing
CSRF token or a hostile upload changes nothing; a Chinese reader reads Chinese.
"""

from __future__ import annotations

import re
import sys
from html import unescape
from pathlib import Path

import httpx
import pytest
import webserver
from world import World

from digest_mailer import i18n
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.preferences import MAX_LIBRARY_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_i18n import visible, zh_faults

live_server = webserver.live_server
pytestmark = pytest.mark.network

FILES = Path(__file__).resolve().parent / "library"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TIMEOUT = 10.0
EN, ZH = i18n.texts("en"), i18n.texts("zh")


@pytest.fixture
def site(tmp_path, feed_server, live_server):
    server = live_server()
    world = World.build(tmp_path, feed_server, base_url=server.base_url)
    server.start(create_app(world.app))
    with httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as client:
        yield world, client


def _open(world: World, client: httpx.Client, language: str = "en") -> tuple[str, str, str]:
    """(email, preferences URL, CSRF token) of a new reader whose page was just loaded."""
    email = f"lib-{language}@example.org"
    reader = world.subscribe(email, ["cs.CV"], language=language)
    url = world.app.signer.links(reader.public_id, "none").preferences
    page = client.get(url)
    assert page.status_code == 200
    match = CSRF.search(page.text)
    assert match
    return email, url, match.group(1)


def _upload(client: httpx.Client, url: str, csrf: str | None, data: bytes, *,
            name: str = "library.bib", append: bool = False) -> httpx.Response:
    fields = ({"csrf": csrf} if csrf else {}) | ({"append": "1"} if append else {})
    return client.post(url + "/library", data=fields,
                       files={"file": (name, data, "application/x-bibtex")})


def _stored(world: World, email: str) -> list[tuple[str, str, str | None]]:
    return [(s.kind, s.title or s.abstract, s.arxiv_id) for s in world.app.library.seeds(email)]


def _seed_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'name="seed" value="(\d+)"', html)]


def test_upload_list_remove_and_the_statement(site):
    world, client = site
    email, url, csrf = _open(world, client)
    loaded = _upload(client, url, csrf, (FILES / "zotero.bib").read_bytes())
    assert loaded.status_code == 200, loaded.text[-800:]
    assert "Library saved: 3 papers, 0 of them found among the papers we hold." in loaded.text
    titles = ["Attention Is All You Need",
              "Denoising Diffusion Probabilistic Models for Schrödinger bridges",
              "A note on Gröbner bases by Kollár"]
    assert [t for _, t, _ in _stored(world, email)] == titles
    listed = re.findall(r'<span class="seed-text">([^<]*)</span>', loaded.text)
    assert listed == titles and "arXiv:1706.03762" in loaded.text

    # The page as loaded again lists the same seeds, each with its own remove form.
    page = client.get(url)
    ids = _seed_ids(page.text)
    assert len(ids) == 3 and re.findall(r'<span class="seed-text">([^<]*)</span>',
                                        page.text) == titles
    removed = client.post(url + "/library/remove", data={"csrf": csrf, "seed": str(ids[1])})
    assert removed.status_code == 200 and "Removed from your library." in removed.text
    assert [t for _, t, _ in _stored(world, email)] == [titles[0], titles[2]]
    assert _seed_ids(removed.text) == [ids[0], ids[2]]
    again = client.post(url + "/library/remove", data={"csrf": csrf, "seed": str(ids[1])})
    assert again.status_code == 404 and "no longer in your library" in again.text
    for junk in ("", "-1", "1e3", "٣", "9" * 40):  # never a 500
        assert client.post(url + "/library/remove",
                           data={"csrf": csrf, "seed": junk}).status_code == 404

    said = client.post(url + "/statement",
                       data={"csrf": csrf, "text": "Graph neural networks for <molecules>"})
    assert said.status_code == 200 and "Statement saved." in said.text
    assert ">Graph neural networks for &lt;molecules&gt;</textarea>" in said.text
    assert "<strong>What I work on: </strong>" in said.text
    assert _stored(world, email)[-1] == ("statement", "Graph neural networks for <molecules>",
                                         None)
    empty = client.post(url + "/statement", data={"csrf": csrf, "text": "  \u200b "})
    assert empty.status_code == 400 and 'id="statement-error"' in empty.text
    assert len(_stored(world, email)) == 3

    # An appended id list adds only what is new; an id-only seed waits for its title.
    more = _upload(client, url, csrf, b"1706.03762\narXiv:2403.99999\n", name="ids.txt",
                   append=True)
    assert more.status_code == 200 and "Library saved: 1 papers" in more.text
    assert _stored(world, email)[-1] == ("library", "", "2403.99999")
    assert "Title not known yet" in more.text and "arXiv:2403.99999" in more.text


def test_a_bad_file_shows_the_parsers_line_and_stores_nothing(site):
    world, client = site
    email, url, csrf = _open(world, client)
    assert _upload(client, url, csrf, (FILES / "zotero.bib").read_bytes()).status_code == 200
    before = _stored(world, email)
    for data, shown in (
        ((FILES / "unclosed.bib").read_bytes(),
         "Nothing was stored. Line 3 of the file: this entry is never closed"),
        (b"\xff\xfe\x00garbage", "Nothing was stored. Line 1 of the file: not UTF-8 text"),
        (b"", "Choose a file to upload."),
    ):
        refused = _upload(client, url, csrf, data)
        assert refused.status_code == 400 and shown in refused.text, refused.text[-600:]
        assert 'id="library-error" role="alert"' in refused.text
        assert _stored(world, email) == before
    # A form without its file part, and a body that is not multipart at all.
    body = f'--b\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n--b--\r\n'
    no_file = client.post(url + "/library", content=body.encode(),
                          headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert no_file.status_code == 400 and "Choose a file to upload." in no_file.text
    assert client.post(url + "/library", content=b"csrf=" + csrf.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded"}).status_code == 403
    assert _stored(world, email) == before


def test_hostile_uploads_reach_no_header_no_link_and_no_markup(site):
    world, client = site
    email, url, csrf = _open(world, client)
    name = 'x"\r\nSet-Cookie: a=b\r\n<script>.bib'
    data = (b'@misc{x, title = {<script>alert(1)</script> <a href="https://evil.example">x</a>},'
            b' url = {javascript:alert(1)}, eprint = {2401.00002}}\n')
    response = client.post(url + "/library", data={"csrf": csrf},
                           files={"file": (name, data, "text/html\r\nX-Evil: 1")})
    assert response.status_code == 200, response.text[-500:]
    assert "set-cookie" not in response.headers and "x-evil" not in response.headers
    assert "<script>" not in response.text and "evil.example\">" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    links = re.findall(r'(?:href|action)="([^"]*)"', response.text)
    assert links and all(not ("evil" in link or "javascript" in link) for link in links)
    assert _stored(world, email)[0][2] == "2401.00002"
    # Two file parts, or a file over the cap: refused, nothing stored.
    two = client.post(url + "/library", data={"csrf": csrf}, files=[
        ("file", ("a.txt", b"2401.00003", "text/plain")),
        ("file", ("b.txt", b"2401.00004", "text/plain"))])
    assert two.status_code == 403  # the parse stopped at the second file: no CSRF field read
    big = client.post(url + "/library", data={"csrf": csrf},
                      files={"file": ("big.txt", b"2401.00005\n" * (MAX_LIBRARY_BYTES // 11 + 2),
                                      "text/plain")})
    assert big.status_code == 413 and "The file is larger than 5 MB." in big.text
    assert [i for _, _, i in _stored(world, email)] == ["2401.00002"]


@pytest.mark.parametrize("form", ["library", "library/remove", "statement"])
def test_every_library_form_needs_the_csrf_token(site, form):
    world, client = site
    email, url, csrf = _open(world, client)
    assert _upload(client, url, csrf, (FILES / "ids.txt").read_bytes()).status_code == 200
    before = _stored(world, email)
    seed = _seed_ids(client.get(url).text)[0]
    other_url, other_csrf = _open(world, client, "zh")[1:]
    for token in (None, csrf[:-2] + "xx", other_csrf):
        fields = {"seed": str(seed), "text": "anything"} | ({"csrf": token} if token else {})
        if form == "library":
            response = _upload(client, url, token, (FILES / "zotero.bib").read_bytes())
        else:
            response = client.post(f"{url}/{form}", data=fields)
        assert response.status_code == 403 and "Form expired" in response.text
        assert _stored(world, email) == before
    assert client.post(f"{other_url}/{form}", data={"csrf": csrf}).status_code == 403


def test_a_chinese_reader_reads_the_library_in_chinese(site):
    world, client = site
    _, url, csrf = _open(world, client, "zh")
    pages = {
        "loaded": _upload(client, url, csrf, (FILES / "zotero.bib").read_bytes()),
        "refused": _upload(client, url, csrf, (FILES / "unclosed.bib").read_bytes()),
        "statement": client.post(url + "/statement", data={"csrf": csrf, "text": "图神经网络"}),
    }
    seed = _seed_ids(pages["statement"].text)[0]
    pages["removed"] = client.post(url + "/library/remove", data={"csrf": csrf,
                                                                  "seed": str(seed)})
    pages["expired"] = client.post(url + "/statement", data={"text": "x"})
    expected = {
        "loaded": "文献库已保存：共3篇论文，其中0篇在已收录的论文中找到。",
        "refused": "未保存任何内容。文件第3行：这个条目没有结束（其中是否有",  # quotes: &#39;
        "statement": ZH["page.library.statement_saved"],
        "removed": ZH["page.library.removed"],
        "expired": ZH["page.form_expired.text"],
    }
    for name, response in pages.items():
        assert '<html lang="zh-Hans">' in response.text, name
        text = visible(response.text)
        assert expected[name] in text, name
        if name != "expired":
            for key in ("page.library.heading", "page.library.statement",
                        "page.library.file", "page.library.upload"):
                assert ZH[key] in text and EN[key] not in text, (name, key)
        assert zh_faults(text) == [], name


# Broken files, each refused by another part of the parser; what an English reader reads.
BROKEN = {
    "unclosed entry": ((FILES / "unclosed.bib").read_bytes(),
                       "Line 3 of the file: this entry is never closed (a '{' in it without"
                       " its '}'?)"),
    "missing =": (b"@misc{k, title {A paper}}",
                  "Line 1 of the file: expected '=', found '{A paper}}'"),
    "cut short": (b"@misc{k, title = ", "Line 1 of the file: expected a field value, found"
                                        " the end"),
    "unclosed brace": (b"@misc{k, title = {A paper\n",
                       "Line 1 of the file: this '{' is never closed"),
    "not UTF-8": (b"@misc{k, title = {Caf\xe9}}\n",
                  "Line 1 of the file: not UTF-8 text (export the library as UTF-8)"),
    "no seeds": (b"% only a comment\n@comment{nothing here}\n", "Nothing was stored: no seeds"
                                                                " in the file"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_file_is_refused_in_the_readers_language(site, case):
    world, client = site
    data, english = BROKEN[case]
    _, en_url, en_csrf = _open(world, client, "en")
    shown = _upload(client, en_url, en_csrf, data)
    assert shown.status_code == 400 and english in unescape(shown.text), shown.text[-600:]

    _, url, csrf = _open(world, client, "zh")
    refused = _upload(client, url, csrf, data)
    assert refused.status_code == 400 and '<html lang="zh-Hans">' in refused.text
    error = re.search(r'id="library-error" role="alert"[^>]*>(.*?)</', refused.text, re.S)
    assert error, refused.text[-600:]
    text = unescape(error.group(1)).strip()
    # The whole sentence is Chinese: the page's frame and the parser's reason, with only the
    # file's own characters (quoted) and format names in Latin letters.
    assert text.startswith(("未保存任何内容。文件第", "未保存任何内容：")), text
    reason = english.split(": ", 1)[1]
    assert reason not in text and not re.search(r"\b(?:expected|found|never|closed|the end|"
                                                r"seeds|file|text)\b", text), text
    assert zh_faults(text) == [], text
