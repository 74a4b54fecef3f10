"""The outbox: each message written as an .eml file (with an .html preview), atomically."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Self

from digest_mailer.errors import DeliveryError
from digest_mailer.mail.message import message_bytes, only_address


def _write_atomic(path: Path, data: bytes) -> None:
    # Readers (a browser, a watcher) see either nothing or the whole file; no fsync: a
    # dev outbox, not a mail queue.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class OutboxTransport:
    """Writes each message to ``directory`` as ``.eml``, with an ``.html`` preview beside it.

    The short id is a hash of the Message-ID, so sending the same message again
    overwrites its file instead of adding a second one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.name = f"outbox:{self.directory}"
        self.sent: list[Path] = []

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def supports(self, extension: str) -> bool:
        """A file takes any message: UTF-8 addresses included."""
        return True

    def send(self, message: EmailMessage) -> None:
        recipient = only_address(message, "To")
        try:
            data = message_bytes(message)
            html = message.get_body(preferencelist=("html",))
            preview = html.get_content().encode("utf-8") if html is not None else None
        except (ValueError, UnicodeError) as err:
            raise DeliveryError(recipient, f"unsendable message: {err}", permanent=True) from err
        try:
            day = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            day = datetime.now(UTC)
        msg_id = str(message["Message-ID"] or "")
        short = hashlib.sha256(msg_id.encode()).hexdigest()[:8] if msg_id else secrets.token_hex(4)
        safe = re.sub(r"[^A-Za-z0-9@._+-]", "_", recipient)[:80]
        stem = f"{day:%Y%m%d}-{safe}-{short}"
        path = self.directory / f"{stem}.eml"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if preview is not None:
                _write_atomic(self.directory / f"{stem}.html", preview)
            _write_atomic(path, data)  # last: an .eml always has its preview
        except OSError as err:
            raise DeliveryError(recipient, f"cannot write {path}: {err}", permanent=False) from err
        self.sent.append(path)
