"""The Reply-To mailbox over IMAP (imaplib): connect, list the new messages, fetch, flag.

The only I/O of reply handling; what a message means is decided by
:mod:`digest_mailer.replies.classify`, what it changes by the reply service.
"""

from __future__ import annotations

import contextlib
import imaplib
import ipaddress
import re
import ssl
from dataclasses import dataclass
from datetime import datetime

from digest_mailer.errors import MailboxError

KEYWORD = "$DigestProcessed"
MAX_BYTES = 2_000_000  # fetched per message (attachments beyond are not needed)
TIMEOUT = 30.0  # seconds per IMAP operation


@dataclass(frozen=True)
class ImapConfig:
    """``DIGEST_IMAP_*``."""

    host: str
    port: int
    security: str  # ssl | starttls | none
    user: str
    password: str
    folder: str


def connect(config: ImapConfig, context: ssl.SSLContext | None,
            timeout: float = TIMEOUT) -> imaplib.IMAP4:
    host, port, security = config.host, config.port, config.security
    if not host:
        raise MailboxError("DIGEST_IMAP_HOST", "not set: there is no mailbox to read")
    if security == "none" and not _loopback(host):
        raise MailboxError("DIGEST_IMAP_SECURITY", "'none' would send the password in "
                           f"clear to {host}; it is only for a loopback server")
    context = context or ssl.create_default_context()
    try:
        if security == "ssl":
            imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=context,
                                                    timeout=timeout)
        else:
            imap = imaplib.IMAP4(host, port, timeout=timeout)
    except ssl.SSLError as err:
        raise MailboxError("DIGEST_IMAP_SECURITY", f"TLS with {host}:{port} failed: {err}"
                           ) from err
    except (OSError, imaplib.IMAP4.error) as err:
        raise MailboxError("DIGEST_IMAP_HOST", f"cannot connect to {host}:{port}: {err}"
                           ) from err
    try:
        if security == "starttls":
            try:
                imap.starttls(ssl_context=context)
            except (imaplib.IMAP4.error, OSError) as err:
                raise MailboxError("DIGEST_IMAP_SECURITY",
                                   f"STARTTLS with {host}:{port} failed: {err}") from err
        try:
            imap.login(config.user, config.password)
        except imaplib.IMAP4.error as err:
            raise MailboxError("DIGEST_IMAP_USER/DIGEST_IMAP_PASSWORD",
                               f"login as {config.user!r} refused by {host}: {err}"
                               ) from err
    except BaseException:
        with contextlib.suppress(OSError):  # a failed TLS handshake closed it already
            imap.shutdown()
        raise
    return imap


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def open_folder(imap: imaplib.IMAP4, name: str) -> bool:
    """Select the folder; True when the server keeps our keyword ($DigestProcessed)."""
    folder = name.replace("\\", "\\\\").replace('"', '\\"')
    typ, data = imap.select(f'"{folder}"')
    if typ != "OK":
        raise MailboxError("DIGEST_IMAP_FOLDER", f"cannot open {name!r}: "
                           f"{data[0]!r}")
    _, flags = imap.response("PERMANENTFLAGS")
    permanent = b" ".join(f for f in flags if isinstance(f, bytes))
    return b"\\*" in permanent or KEYWORD.encode() in permanent


def fetch(imap: imaplib.IMAP4, uid: bytes) -> tuple[bytes, datetime | None]:
    typ, data = imap.uid("FETCH", uid, f"(INTERNALDATE BODY.PEEK[]<0.{MAX_BYTES}>)")
    if typ != "OK":
        raise imaplib.IMAP4.error(f"FETCH {typ}")
    for item in data:
        if isinstance(item, tuple):
            match = re.search(rb'INTERNALDATE "([^"]+)"', item[0])
            received = None
            if match:
                try:
                    received = datetime.strptime(match[1].decode().strip(),
                                                 "%d-%b-%Y %H:%M:%S %z")
                except ValueError:
                    received = None
            return bytes(item[1]), received
    raise imaplib.IMAP4.error(f"no message with UID {uid.decode()}")


def new_messages(imap: imaplib.IMAP4, keyword: bool) -> list[bytes]:
    """The UIDs not yet flagged with our keyword (or unseen, where it cannot be kept)."""
    criteria = ("UNKEYWORD", KEYWORD) if keyword else ("UNSEEN",)
    typ, data = imap.uid("SEARCH", *criteria)
    return (data[0] or b"").split() if typ == "OK" and data else []


def mark_done(imap: imaplib.IMAP4, uid: bytes, keyword: bool) -> None:
    flags = rf"(\Seen {KEYWORD})" if keyword else r"(\Seen)"
    imap.uid("STORE", uid, "+FLAGS.SILENT", flags)


def logout(imap: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):
        imap.logout()
