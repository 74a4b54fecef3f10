"""Issue 8, item 3: the admin login against real `digest-mailer web` processes.

Guessing is slowed and refused per address (counted in the database, so two processes
behind one "load balancer" count the same guesses), the account under attack tightens the
limit without locking the admin out of another address, the cookie holds only a random
token, and logout ends the session on the server. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from webprocess import WebProcess
from world import make_settings

from digest_mailer.app import App
from digest_mailer.faces.web import create_app
from digest_mailer.faces.web.login import ADMIN_COOKIE
from digest_mailer.services.admin import ATTACK_FIRST_WAIT

pytestmark = pytest.mark.network

PASSWORD = "the real admin password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _env(tmp_path: Path, database_url: str, password: str = PASSWORD) -> dict[str, str]:
    return {"DIGEST_VAR_DIR": str(tmp_path / "var"), "DIGEST_SECRET_KEY": "login-key",
            "DIGEST_DATABASE_URL": database_url, "DIGEST_AUTO_MIGRATE": "true",
            "DIGEST_ADMIN_PASSWORD": password, "DIGEST_BASE_URL": "http://127.0.0.1:8000"}


def _client(server: WebProcess, address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any 127.x.y.z is loopback)."""
    return httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=30,
                        transport=httpx.HTTPTransport(local_address=address))


def _csrf(client: httpx.Client, path: str = "/admin/login") -> str:
    match = CSRF.search(client.get(path).text)
    assert match
    return match.group(1)


def _login(server: WebProcess, address: str, password: str = PASSWORD) -> httpx.Response:
    with _client(server, address) as client:
        return client.post("/admin/login", data={"password": password, "csrf": _csrf(client)})


def _rows(database_url: str, query: str) -> list[sa.Row[tuple[object, ...]]]:
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(query)))
    finally:
        engine.dispose()


def test_200_guesses_from_one_address_are_refused_and_the_admin_gets_in_from_another(
        tmp_path, database_url):
    with WebProcess(tmp_path, _env(tmp_path, database_url), "web1") as one, \
            WebProcess(tmp_path, _env(tmp_path, database_url), "web2") as two:
        statuses: Counter[int] = Counter()
        waits: list[int] = []
        started = time.monotonic()
        with _client(one, "127.0.0.1") as first, _client(two, "127.0.0.1") as second:
            csrf = _csrf(first)  # one token for every guess, as the attacker did
            for guess in range(200):  # alternately through both processes
                client = first if guess % 2 == 0 else second
                answer = client.post("/admin/login",
                                     data={"password": f"guess{guess}", "csrf": csrf})
                statuses[answer.status_code] += 1
                if answer.status_code == 429:
                    waits.append(int(answer.headers["retry-after"]))
                    assert "Too many wrong passwords" in answer.text
        elapsed = time.monotonic() - started
        print(f"200 guesses in {elapsed:.1f} s: {dict(statuses)}")
        # Five free tries, then waits of 1, 2, 4, … s: a handful of passwords were checked.
        assert set(statuses) <= {403, 429} and statuses[403] <= 10, statuses
        assert statuses[429] >= 190 and min(waits) >= 1
        (failures,), = _rows(database_url, "SELECT failures FROM loginthrottle "
                                           "WHERE key = 'address:127.0.0.1'")
        assert failures == statuses[403]  # both processes counted into the same row

        welcome = _login(two, "127.0.0.2")
        assert welcome.status_code == 303 and ADMIN_COOKIE in welcome.cookies
        with _client(one, "127.0.0.2") as admin:  # the session works on the other process
            admin.cookies.set(ADMIN_COOKIE, welcome.cookies[ADMIN_COOKIE])
            assert "Recent runs" in admin.get("/admin").text


def test_an_account_under_attack_slows_every_address_but_a_fresh_one_still_gets_in(
        tmp_path, database_url):
    with WebProcess(tmp_path, _env(tmp_path, database_url)) as server:
        for host in range(1, 5):  # 4 addresses × 5 free tries: 20 failures, "under attack"
            with _client(server, f"127.0.1.{host}") as client:
                csrf = _csrf(client)
                for guess in range(5):
                    answer = client.post("/admin/login",
                                         data={"password": f"guess{guess}", "csrf": csrf})
                    assert answer.status_code == 403
        with _client(server, "127.0.2.1") as client:
            csrf = _csrf(client)
            tries = [client.post("/admin/login", data={"password": "nope", "csrf": csrf})
                     for _ in range(3)]
        assert [t.status_code for t in tries] == [403, 403, 429]  # two free tries, not five
        assert int(tries[2].headers["retry-after"]) >= ATTACK_FIRST_WAIT - 2
        assert _login(server, "127.0.2.2").status_code == 303  # the admin, elsewhere


def test_the_cookie_holds_only_a_random_token_and_logout_ends_the_session(
        tmp_path, database_url):
    with WebProcess(tmp_path, _env(tmp_path, database_url)) as server:
        cookies = [_login(server, "127.0.0.3").cookies[ADMIN_COOKIE] for _ in range(2)]
        assert cookies[0] != cookies[1]
        fingerprint = hashlib.sha256(PASSWORD.encode()).hexdigest()
        for cookie in cookies:
            decoded = b"".join(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
                               for part in re.split(r"[.]", cookie) if part)
            assert fingerprint[:16] not in cookie and fingerprint[:16].encode() not in decoded
            assert PASSWORD not in cookie
        stored = _rows(database_url, "SELECT token_hash, password_hash FROM adminsession")
        assert {row[0] for row in stored} == {hashlib.sha256(c.encode()).hexdigest()
                                              for c in cookies}
        for _, password_hash in stored:  # salted and slow; each process its own salt
            assert str(password_hash).startswith("$argon2id$")
            assert PasswordHasher().verify(str(password_hash), PASSWORD)

        with _client(server, "127.0.0.3") as admin:
            admin.cookies.set(ADMIN_COOKIE, cookies[0])
            csrf = _csrf(admin, "/admin")
            assert admin.post("/admin/logout", data={"csrf": csrf}).status_code == 303
        with _client(server, "127.0.0.4") as thief:  # the old cookie, replayed
            thief.cookies.set(ADMIN_COOKIE, cookies[0])
            page = thief.get("/admin")
            assert "Admin login" in page.text and "Recent runs" not in page.text
            upload = thief.post("/admin/import", files={"file": ("a.csv", b"email\n")})
            assert upload.status_code == 403
            thief.cookies.set(ADMIN_COOKIE, cookies[1])  # the other session lives on
            assert "Recent runs" in thief.get("/admin").text
        assert len(_rows(database_url, "SELECT id FROM adminsession")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_processes_share_sessions_and_a_new_password_ends_them(tmp_path, database_url):
    """Each process hashes the password with its own salt, yet honours the sessions of
    another with the same password; after the password is changed, none are honoured."""
    def app(password: str) -> TestClient:
        built = App(make_settings(tmp_path, database_url=database_url,
                                  admin_password=password))
        return TestClient(create_app(built), base_url="https://digest.example.org",
                          follow_redirects=False)

    with app(PASSWORD) as first:
        csrf = CSRF.search(first.get("/admin/login").text).group(1)  # type: ignore[union-attr]
        cookie = first.post("/admin/login", data={"password": PASSWORD, "csrf": csrf}
                            ).cookies[ADMIN_COOKIE]
    with app(PASSWORD) as second:
        second.cookies.set(ADMIN_COOKIE, cookie, domain="digest.example.org", path="/admin")
        assert "Recent runs" in second.get("/admin").text
    with app("a new password") as changed:
        changed.cookies.set(ADMIN_COOKIE, cookie, domain="digest.example.org", path="/admin")
        assert "Admin login" in changed.get("/admin").text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_waits_double_and_are_forgotten_an_hour_after_the_last_failure(tmp_path, database_url):
    """On the app's clock: 5 free tries, then 1 s, 2 s, 4 s …; an hour later, a fresh start."""
    now = [datetime(2026, 12, 1, 9, tzinfo=UTC)]
    app = App(make_settings(tmp_path, database_url=database_url, admin_password=PASSWORD),
              clock=lambda: now[0])
    with TestClient(create_app(app), base_url="https://digest.example.org",
                    follow_redirects=False) as client:
        csrf = CSRF.search(client.get("/admin/login").text).group(1)  # type: ignore[union-attr]

        def guess() -> tuple[int, str | None]:
            answer = client.post("/admin/login", data={"password": "wrong", "csrf": csrf})
            return answer.status_code, answer.headers.get("retry-after")

        assert [guess() for _ in range(6)] == [(403, None)] * 5 + [(429, "1")]
        waits = []
        for _ in range(4):
            now[0] += timedelta(seconds=int(waits[-1]) if waits else 1)
            assert guess()[0] == 403
            waits.append(guess()[1])
        assert waits == ["2", "4", "8", "16"]
        now[0] += timedelta(hours=1, minutes=1)
        assert [guess()[0] for _ in range(5)] == [403] * 5  # forgotten: five free tries again
        now[0] += timedelta(hours=2)
        client.post("/admin/login", data={"password": PASSWORD, "csrf": csrf})
        assert _rows(database_url, "SELECT key FROM loginthrottle") == [("account",)]
