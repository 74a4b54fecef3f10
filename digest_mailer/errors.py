"""The exception tree: every error digest-mailer raises on purpose is a DigestError and
carries the context needed to act on it.

A feed that cannot be fetched or parsed is no exception: ingest returns it as a value
(``FetchOutcome.error``, ``ParsedFeed.error``), recorded on its Source, and the run goes on.
Exceptions that never leave their module (a body over a cap, a spent budget) stay there.
"""

from __future__ import annotations

from collections.abc import Mapping


class DigestError(Exception):
    """Base of every error digest-mailer raises on purpose."""


class SettingsError(DigestError):
    """A setting is unknown, missing or malformed; the message names it and the fix."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class BriefingError(DigestError):
    """The LLM endpoint failed or answered something unusable; the caller falls back."""


class DeliveryError(DigestError):
    """A message was not accepted by the transport.

    ``permanent`` is True for a 5xx answer (retrying would loop), False for a 4xx answer,
    a dropped connection or a refused connection (retry later). ``maybe_delivered`` is True
    when the whole message was written and the server's answer to it was lost: the server
    may have stored it, so it must not be sent again in the same run.
    """

    def __init__(self, recipient: str, reason: str, *, permanent: bool,
                 maybe_delivered: bool = False) -> None:
        self.recipient = recipient
        self.reason = reason
        self.permanent = permanent
        self.maybe_delivered = maybe_delivered
        super().__init__(f"{recipient}: {reason}")


class ImportRowError(DigestError):
    """One row of a subscriber CSV is invalid; ``reason`` in English. So a page can word it
    in its own language: ``refusal``, the validator's error behind it, or ``code`` and
    ``params``, the ``import.<code>`` string of the language tables."""

    def __init__(self, line: int, column: str, reason: str,
                 refusal: ProfileError | None = None, code: str = "",
                 params: Mapping[str, object] | None = None) -> None:
        self.line = line
        self.column = column
        self.reason = reason
        self.refusal = refusal
        self.code = code
        self.params: Mapping[str, object] = dict(params or {})
        super().__init__(f"line {line}, column {column!r}: {reason}")


class ImportConflict(DigestError):
    """The same subscribers were written by someone else during the import: nothing was."""


class ProfileError(DigestError, ValueError):
    """One field of a subscriber's profile is refused.

    ``code`` names the rule (the ``profile.<code>`` key of the language tables) and ``params``
    fill that string in, so a page can say it in the reader's language; ``reason`` is the
    English phrase CSV reports and CLI lines show.
    """

    def __init__(self, field: str, code: str, reason: str,
                 params: Mapping[str, object] | None = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.code, self.reason = field, code, reason
        self.params: Mapping[str, object] = dict(params or {})


class MailboxError(DigestError):
    """The Reply-To mailbox could not be reached, logged into or opened; names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class SchemaError(DigestError):
    """The database schema is behind (or ahead of) the code, or a migration failed."""


class DatabaseUnavailable(DigestError):
    """The database cannot be opened: refused, unknown host, bad credentials, no driver.
    The message is one line and names the database without its password."""


class LibraryError(DigestError, ValueError):
    """A reader's library file is refused, as a whole; ``line`` is where (0: the whole file),
    ``reason`` in English. So a page can word it in its own language: ``code`` and ``params``,
    the ``library.<code>`` string of the language tables (domain/library_refusal.py)."""

    def __init__(self, line: int, reason: str, code: str = "",
                 params: Mapping[str, object] | None = None) -> None:
        self.line, self.reason = line, reason
        self.code = code
        self.params: Mapping[str, object] = dict(params or {})
        super().__init__(f"line {line}: {reason}" if line else reason)
