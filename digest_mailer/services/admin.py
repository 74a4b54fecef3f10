"""The admin login, behind faces/web/login.py: a slow password hash, sessions, a throttle.

- The password given in ``DIGEST_ADMIN_PASSWORD`` is hashed once at start with argon2id
  (argon2-cffi); a login is checked against that hash, never against the plain text.
- The cookie holds a random token and nothing derived from the password. The database
  holds only the token's SHA-256 (``adminsession``), with an expiry; logout deletes the row,
  so a replayed cookie is refused. Each row also keeps the password hash in force when it
  was made: after the password is changed, old sessions are refused.
- Failed logins are counted in the database (``loginthrottle``), so every web process
  behind a load balancer sees the same guesses: per client address, a few free tries then
  a wait that doubles; for the account, many failures from anywhere put it "under attack",
  which leaves each address fewer free tries and longer waits. A fresh address always gets
  its first tries, so an attacker slows the account but never locks the real admin out.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Engine

from digest_mailer import db

SESSION_MAX_AGE = 8 * 3600
MAX_COOKIE_CHARS = 100  # our tokens are 43 characters; longer input is not even hashed

ACCOUNT_KEY = "account"
FREE_TRIES = 5  # failures from one address before the first wait
ATTACK_FAILURES = 20  # failures of the account, from anywhere, that mean "under attack"
ATTACK_FREE_TRIES = 2  # … after which each address gets only this many free tries
FIRST_WAIT = 1.0  # seconds; doubles with each further failure
ATTACK_FIRST_WAIT = 30.0
MAX_WAIT = 15 * 60.0
WINDOW = timedelta(hours=1)  # failures older than this (since the last one) are forgotten

def token_hash(token: str) -> str:
    """What the database keeps of a session token (the token itself is random, 256 bits:
    a fast hash suffices; a copy of the table opens nothing)."""
    return hashlib.sha256(token.encode()).hexdigest()


def address_key(host: str) -> str:
    """The throttle key of a client: its IPv4 address, or its IPv6 /64 (one host's share)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"address:{host[:64]}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"address:{address.ipv4_mapped}"
        return f"address:{ipaddress.ip_network(f'{address}/64', strict=False)}"
    return f"address:{address}"


@dataclass(frozen=True)
class Refused:
    """A login attempt refused before the password was looked at."""

    retry_after: int  # seconds


class LoginThrottleBook:
    """The failure counts in the database; every attempt is counted before the password is
    checked (so concurrent guesses cannot slip past the count) and forgiven on success."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def attempt(self, host: str) -> Refused | None:
        """Count one attempt from ``host``; a :class:`Refused` while it must wait."""
        now = self.clock()
        key = address_key(host)
        # One transaction: the counts stay locked from the read to the write.
        with self.engine.begin() as conn:
            # Addresses that stopped guessing an hour ago are forgotten.
            db.admin.forget_idle(conn, ACCOUNT_KEY, now - WINDOW, now)
            rows = db.admin.lock_counts(conn, [key, ACCOUNT_KEY])
            for row in rows.values():
                if row["last_failure_at"] is not None and now - row["last_failure_at"] > WINDOW:
                    row.update(failures=0, blocked_until=None)
            address, account = rows[key], rows[ACCOUNT_KEY]
            blocked = address["blocked_until"]
            if blocked is not None and blocked > now:
                return Refused(max(1, math.ceil((blocked - now).total_seconds())))
            attack = account["failures"] >= ATTACK_FAILURES
            free = ATTACK_FREE_TRIES if attack else FREE_TRIES
            first = ATTACK_FIRST_WAIT if attack else FIRST_WAIT
            address["failures"] += 1
            account["failures"] += 1
            if address["failures"] >= free:
                wait = min(first * 2.0 ** min(address["failures"] - free, 30), MAX_WAIT)
                address["blocked_until"] = now + timedelta(seconds=wait)
            for row in (address, account):
                db.admin.save_count(conn, row["key"], row["failures"], now,
                                    row["blocked_until"])
        return None

    def succeeded(self, host: str) -> None:
        """The right password: the address starts afresh; the account's count keeps the
        attacker's failures and only forgives this one attempt."""
        with self.engine.begin() as conn:
            db.admin.forgive(conn, address_key(host), ACCOUNT_KEY)


class AdminAuth:
    """The admin password (hashed once, here) and the sessions it opens."""

    def __init__(self, engine: Engine, password: str, clock: Callable[[], datetime],
                 max_age: int = SESSION_MAX_AGE) -> None:
        self.engine = engine
        self.clock = clock
        self.max_age = max_age
        self.enabled = bool(password)
        self._password = password  # kept only to recognise other processes' hashes of it
        self._hasher = PasswordHasher()
        # argon2id with a random salt, computed once per process, not per request.
        self._hash = self._hasher.hash(password) if password else ""
        # Hashes made by other processes (or earlier starts) with the same password: each
        # is verified once, then known.
        self._known: dict[str, bool] = {self._hash: True} if password else {}
        self.throttle = LoginThrottleBook(engine, clock)

    def password_ok(self, given: str) -> bool:
        """Constant-time by construction: argon2 compares digests, and an empty or absent
        password costs the same hash as any other."""
        if not self.enabled:
            return False
        try:
            return bool(self._hasher.verify(self._hash, given[:1024]))
        except (VerificationError, InvalidHashError):
            return False

    def _current(self, password_hash: str) -> bool:
        if password_hash not in self._known:
            if len(self._known) > 100:  # bounded: rows are only ever written by us
                self._known = {self._hash: True}
            try:
                # Does the password of this process open the hash stored by another?
                ok = bool(self._hasher.verify(password_hash, self._password))
            except (VerificationError, InvalidHashError):
                ok = False
            self._known[password_hash] = ok
        return self._known[password_hash]

    def issue(self, client: str) -> str:
        """A new session for a successful login; the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.engine.begin() as conn:
            db.admin.add_session(conn, token_hash(token), self._hash, client[:64], now,
                                 now + timedelta(seconds=self.max_age))
        return token

    def session(self, cookie: str | None) -> str | None:
        """A handle of the live session the cookie opens (for binding CSRF tokens), or None.

        The handle is a hash of the stored hash: the cookie's token never reaches a page.
        """
        if not self.enabled or not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        stored = token_hash(cookie)
        with self.engine.connect() as conn:
            row = db.admin.session_of(conn, stored)
        if row is None or row.expires_at <= self.clock() or not self._current(row.password_hash):
            return None
        return hmac.new(b"digest-mailer.admin-csrf", stored.encode(), "sha256").hexdigest()[:32]

    def revoke(self, cookie: str | None) -> None:
        """Logout: the session's row is deleted; the cookie opens nothing any more."""
        if cookie and len(cookie) <= MAX_COOKIE_CHARS:
            with self.engine.begin() as conn:
                db.admin.delete_session(conn, token_hash(cookie))
