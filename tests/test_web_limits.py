"""Issue 8, item 1: a request is refused before its body is read, by a real uvicorn process.

A raw socket streams a large body (64 MB) while watching for the answer: the stranger's
upload, the closed admin area, a forged link, an announced size over the limit, and a
chunked body that never ends are all answered while the body is still coming, and the
server process writes (nearly) nothing: its write(2) count (/proc/pid/io) and its TMPDIR.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session
from webprocess import MB, WebProcess, stream_request
from world import make_settings

from digest_mailer.app import App
from digest_mailer.db.models import Subscriber
from digest_mailer.faces.web.admin import MAX_UPLOAD_BYTES
from digest_mailer.faces.web.preferences import LIBRARY_REQUEST_BYTES

pytestmark = pytest.mark.network

PASSWORD = "limits-admin-password"
TOTAL = 64 * MB  # the attack body; today's limits are 1 MB and, for the import, 5 MB
EARLY = 16 * MB  # "before the body is done": kernel buffers hold a few MB at most
QUIET = 2 * MB  # what the server may write meanwhile (logs, the database, spooled form)
BOUNDARY = "attack"


def _env(tmp_path: Path, password: str) -> dict[str, str]:
    return {"DIGEST_VAR_DIR": str(tmp_path / "var"), "DIGEST_SECRET_KEY": "limits-key",
            "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'digest.db'}",
            "DIGEST_ADMIN_PASSWORD": password, "DIGEST_BASE_URL": "http://127.0.0.1:8000"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with one subscriber, shared by the module's server (a start costs seconds)."""
    return tmp_path_factory.mktemp("limits")


@pytest.fixture(scope="module")
def reader_tokens(site: Path) -> dict[str, str]:
    """A subscriber in the server's database, and the signed tokens of their links."""
    app = App(make_settings(
        site, var_dir=site / "var", secret_key="limits-key",
        database_url=f"sqlite:///{site / 'var' / 'digest.db'}"))
    with Session(app.engine) as session:
        reader = Subscriber(email="r@example.org", categories=["cs.CV"])
        session.add(reader)
        session.commit()
        public_id = reader.public_id
    app.engine.dispose()
    return {purpose: app.signer.token(purpose, public_id)
            for purpose in ("unsubscribe", "preferences")}


@pytest.fixture(scope="module")
def server(site: Path, reader_tokens: dict[str, str]) -> Iterator[WebProcess]:
    with WebProcess(site, _env(site, PASSWORD)) as web:
        yield web


def _head(path: str, length: int | None, *, upload: bool = True, cookie: str = "") -> bytes:
    """A POST's head: multipart (a file, what FastAPI spools to disk) or a plain form;
    ``length`` None → chunked."""
    size = f"Content-Length: {length}\r\n" if length is not None else (
        "Transfer-Encoding: chunked\r\n")
    extra = f"Cookie: digest_admin={cookie}\r\n" if cookie else ""
    kind = (f"multipart/form-data; boundary={BOUNDARY}" if upload
            else "application/x-www-form-urlencoded")
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}"
            f"Content-Type: {kind}\r\n{size}\r\n").encode()


# The start of a multipart body: one file part, whose content the filler then makes huge.
UPLOAD = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
          f"filename=\"big.csv\"\r\nContent-Type: text/csv\r\n\r\nemail\r\n").encode()


def _refused_early(server: WebProcess, head: bytes, status: int, *, chunked: bool = False,
                   upload: bool = True) -> None:
    before = server.written()
    answer = stream_request(server, head, TOTAL, start=UPLOAD if upload else b"",
                            chunked=chunked)
    written = server.written() - before
    assert answer.status == status, (answer, server.log.read_text()[-1500:])
    assert answer.sent < EARLY, f"answered only after {answer.sent:,} body bytes"
    assert written < QUIET, f"the server wrote {written:,} bytes"
    assert answer.peak_tmp < QUIET and server.tmp_bytes() == 0
    assert b"connection: close" in answer.head.lower()


def test_a_strangers_upload_is_refused_before_it_is_read(server):
    _refused_early(server, _head("/admin/import", TOTAL), 403)
    _refused_early(server, _head("/admin/import", None), 403, chunked=True)


def test_the_closed_admin_area_refuses_an_upload_before_it_is_read(tmp_path):
    with WebProcess(tmp_path, _env(tmp_path, ""), name="closed") as closed:
        _refused_early(closed, _head("/admin/import", TOTAL), 404)


def test_a_forged_link_is_refused_before_its_form_is_read(server, reader_tokens):
    """Any form route parses a multipart body, files and all: the token decides first."""
    good = reader_tokens["preferences"]
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    _refused_early(server, _head(f"/p/{forged}", TOTAL), 400)
    _refused_early(server, _head(f"/u/{forged}/undo", None), 400, chunked=True)
    _refused_early(server, _head(f"/p/{forged}/library", TOTAL), 400)
    _refused_early(server, _head(f"/p/{forged}/statement", None), 400, chunked=True)


def test_an_announced_size_over_the_limit_is_refused_at_once(server, reader_tokens):
    _refused_early(server, _head(f"/p/{reader_tokens['preferences']}", TOTAL), 413)
    _refused_early(server, _head("/admin/login", TOTAL, upload=False), 413, upload=False)


def test_a_chunked_body_is_cut_at_the_limit_as_it_arrives(server, reader_tokens):
    token = reader_tokens["unsubscribe"]
    _refused_early(server, _head(f"/u/{token}", None), 413, chunked=True)
    _refused_early(server, _head("/admin/login", None, upload=False), 413, chunked=True,
                   upload=False)
    with httpx.Client(base_url=server.base_url) as client:  # the route still works
        done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "unsubscribed" in done.text.lower()


def test_the_admins_own_upload_is_capped_while_it_streams(server):
    """Logged in, the import route's cap (5 MB of CSV, plus framing) holds on a chunked
    body too; Starlette spools what passes 1 MB, so the disk sees at most the cap."""
    with httpx.Client(base_url=server.base_url, follow_redirects=False) as client:
        page = client.get("/admin/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore
        login = client.post("/admin/login", data={"password": PASSWORD, "csrf": csrf})
        assert login.status_code == 303
        cookie = login.cookies["digest_admin"]
    before = server.written()
    answer = stream_request(server, _head("/admin/import", None, cookie=cookie), TOTAL,
                            start=UPLOAD, chunked=True)
    written = server.written() - before
    assert answer.status == 413 and answer.sent < EARLY, answer
    assert written < MAX_UPLOAD_BYTES + QUIET, f"the server wrote {written:,} bytes"
    assert server.tmp_bytes() == 0


def test_a_readers_library_upload_is_capped_and_never_reaches_the_disk(server, reader_tokens):
    """The library route's own cap (5 MB, plus framing) holds on a chunked body; the part is
    kept in memory, so the server writes (nearly) nothing while 5 MB arrive."""
    path = f"/p/{reader_tokens['preferences']}/library"
    _refused_early(server, _head(path, TOTAL), 413)
    before = server.written()
    answer = stream_request(server, _head(path, None), TOTAL, start=UPLOAD, chunked=True)
    assert answer.status == 413 and answer.sent < EARLY, answer
    assert answer.sent > LIBRARY_REQUEST_BYTES
    assert server.written() - before < QUIET and answer.peak_tmp == 0
    assert server.tmp_bytes() == 0
