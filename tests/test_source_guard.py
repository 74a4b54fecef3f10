"""A source named from the browser is fetched at public addresses only (issue 12, review):
the add form's test fetch and "fetch now" refuse loopback, private, link-local and the
like, on every redirect hop, with one message whether or not anything listens there, and
the loopback server hears nothing. The shell's `feeds add` stays trusted.

"The internet" here is the loopback feed server behind a public address: the test's network
backend, under the guard, dials 127.0.0.1 for 93.184.215.14 and records what it was asked to
dial — so the guard's resolve-and-check is the real one, and only checked addresses arrive.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path

import httpcore
import pytest
from fastapi.testclient import TestClient
from test_web import BASE, PASSWORD, csrf_of, login
from world import DEMO, World

from digest_mailer.faces.web import create_app
from digest_mailer.ingest.guard import NOT_PUBLIC, is_public

CV = DEMO / "feeds" / "arxiv_cs.CV.xml"
PUBLIC = "93.184.215.14"  # a global address; its connections land on the feed server


class Internet(httpcore.AnyIOBackend):
    """The sockets under the guard: a connection to PUBLIC goes to loopback, any other
    address is a test failure (the guard let it through)."""

    def __init__(self) -> None:
        self.dialed: list[str] = []

    async def connect_tcp(self, host, port, timeout=None, local_address=None,
                          socket_options=None):
        self.dialed.append(host)
        assert host == PUBLIC, f"the guard let {host} through"
        return await super().connect_tcp("127.0.0.1", port, timeout=timeout,
                                         local_address=local_address,
                                         socket_options=socket_options)


@pytest.fixture
def guarded(tmp_path: Path, feed_server):
    internet = Internet()
    world = World.build(tmp_path, feed_server, hooks={"network": internet},
                        admin_password=PASSWORD)  # DIGEST_SOURCES_ALLOW_PRIVATE: default
    assert world.app.settings.sources_allow_private is False
    with TestClient(create_app(world.app), base_url=BASE, follow_redirects=False) as client:
        login(client)
        yield world, client, internet


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again once the block ends


def _url_error(html: str) -> str:
    found = re.search(r'<p class="error" id="url-error">([^<]+)</p>', html)
    assert found, html
    return found.group(1)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.8.8", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1",
    "::1", "::", "fe80::1", "fc00::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "2002:7f00:1::", "2001:db8::1", "64:ff9b:1::a00:1",
    "64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe",  # NAT64 to 10.0.0.1, …
])
def test_non_global_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [PUBLIC, "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:93.184.215.14", "64:ff9b::5db8:d70e"])
def test_global_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


def test_the_add_form_refuses_every_inward_address_alike_and_nothing_is_fetched(guarded):
    world, client, internet = guarded
    feeds = world.feeds
    port = feeds.url("/").split(":")[2].split("/")[0]
    feeds.add_file("/cs.CV", CV)
    feeds.add_redirect("/moved", f"http://127.0.0.1:{port}/cs.CV")
    inward = [f"http://127.0.0.1:{port}/cs.CV", f"http://localhost:{port}/cs.CV",
              f"http://[::1]:{port}/cs.CV", f"http://0:{port}/cs.CV",
              f"http://[::ffff:127.0.0.1]:{port}/cs.CV",
              f"http://127.0.0.1:{_closed_port()}/cs.CV",  # closed: the same answer
              "http://169.254.169.254/latest/meta-data/",
              f"http://{PUBLIC}:{port}/moved"]  # public, then a redirect to loopback
    csrf = csrf_of(client.get("/admin/sources").text)
    answers = set()
    for url in inward:
        refused = client.post("/admin/sources", data={"csrf": csrf, "url": url,
                                                      "label": "Feed", "category": "cs.CV"})
        assert refused.status_code == 400, url
        answers.add(_url_error(refused.text))
    assert answers == {f"the test fetch failed: {NOT_PUBLIC}"}
    assert feeds.hits["/cs.CV"] == 0  # the loopback feed heard nothing
    assert feeds.hits["/moved"] == 1 and internet.dialed == [PUBLIC]  # only the public hop
    assert world.app.sources.every() == []

    # The guard lets a public feed through.
    feeds.add_file("/public.xml", CV)
    added = client.post("/admin/sources", data={"csrf": csrf, "label": "arXiv (cs.CV)",
                                                "url": f"http://{PUBLIC}:{port}/public.xml",
                                                "category": "cs.CV"})
    assert added.status_code == 200 and "Added. The test fetch found" in added.text


def two_sources(world: World):  # type: ignore[no-untyped-def]
    """A loopback feed the shell added (trusted) and a public one the browser added, each
    test-fetched once: (the feed server, its port, the two SourceChanges)."""
    feeds = world.feeds
    port = feeds.url("/").split(":")[2].split("/")[0]
    feeds.add_file("/cs.CV", CV)
    feeds.add_file("/public.xml", CV)
    # The shell is trusted: it may add the loopback feed (the browser then may not fetch it).
    local = world.app.sources.add(feeds.url("/cs.CV"), "Local", "cs.CV", trusted=True)
    public = world.app.sources.add(f"http://{PUBLIC}:{port}/public.xml", "Public", "cs.LG")
    assert local.source and public.source and feeds.hits["/cs.CV"] == 1
    return feeds, port, local, public


def test_fetch_now_is_guarded_too(guarded):
    world, client, internet = guarded
    feeds, port, local, public = two_sources(world)
    csrf = csrf_of(client.get("/admin/sources").text)

    refused = client.post(f"/admin/sources/{local.source.id}/fetch", data={"csrf": csrf})
    assert f"The fetch failed: {NOT_PUBLIC}" in refused.text
    # A public feed that now redirects inwards: its second hop is refused.
    feeds.add_redirect("/public.xml", f"http://127.0.0.1:{port}/cs.CV")
    moved = client.post(f"/admin/sources/{public.source.id}/fetch", data={"csrf": csrf})
    assert f"The fetch failed: {NOT_PUBLIC}" in moved.text
    assert feeds.hits["/cs.CV"] == 1  # only the shell's own test fetch
    assert set(internet.dialed) == {PUBLIC}


def test_the_workers_fetches_of_a_browsers_source_are_guarded_too(guarded):
    """The add's test fetch passed; afterwards the host moved inwards (here: a redirect, as
    a DNS change would be judged the same at connect time). The scheduled run refuses it,
    and still fetches the shell's trusted loopback source in the same run."""
    world, _, internet = guarded
    feeds, port, local, public = two_sources(world)
    assert (local.source.public_only, public.source.public_only) == (False, True)
    feeds.add_redirect("/public.xml", f"http://127.0.0.1:{port}/cs.CV")
    report = world.app.ingest.refresh(force=True)
    assert report.counts["sources"] == 2 and report.counts["fetched"] == 1
    assert feeds.hits["/cs.CV"] == 2  # the shell's test fetch and its scheduled one, no more
    failing = {s.label: s.last_error for s in world.app.sources.every()}
    assert failing == {"Local": None, "Public": NOT_PUBLIC}
    assert set(internet.dialed) == {PUBLIC}


def test_the_setting_lets_the_browser_name_loopback(tmp_path, feed_server):
    world = World.build(tmp_path, feed_server, sources_allow_private=True)
    url = world.feeds.add_file("/cs.CV", CV)
    added = world.app.sources.add(url, "arXiv (cs.CV)", "cs.CV")
    assert added.errors == () and world.feeds.hits["/cs.CV"] == 1
    assert world.app.ingest.refresh().counts["fetched"] == 1  # and the worker fetches it
    assert world.feeds.hits["/cs.CV"] == 2
