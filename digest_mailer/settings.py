"""Settings, loaded once from the environment and an optional ``.env`` file.

No other module reads environment variables: the CLI, the worker and the web app call
:func:`load_settings` and pass the result (or parts of it) down.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from digest_mailer import i18n
from digest_mailer.briefing import MIN_SUPPORT
from digest_mailer.errors import SettingsError
from digest_mailer.text import is_invisible

PREFIX = "DIGEST_"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bundled(name: str) -> Path:
    """A folder shipped with the project: in the checkout, or inside an installed wheel."""
    in_repo = PROJECT_ROOT / name
    return in_repo if in_repo.exists() else Path(__file__).resolve().parent / f"_{name}"


class Settings(BaseModel):
    """Every setting, with its environment variable in the README's table.

    A plain pydantic model: :func:`load_settings` reads the environment and the ``.env``
    file itself (pydantic-settings cost every start ~0.06 s of imports for that).
    """

    # The defaults are validated too, as the values read are: a default is a setting.
    model_config = ConfigDict(validate_default=True, populate_by_name=True, extra="forbid")

    # Storage and queue
    var_dir: Path = Path("var")
    database_url: str = ""  # default: sqlite:///<var_dir>/digest.db
    redis_url: str = ""  # set → RedisHuey; empty → SqliteHuey in var_dir
    # Upgrade the schema at start (Alembic)? Unset → yes for SQLite, no for other databases
    # (production runs `digest-mailer db upgrade`; a database behind stops the start).
    auto_migrate: bool | None = None

    # Mail
    smtp_url: str = ""  # smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465
    smtp_timeout: float = 30.0
    smtp_rate: float = 0.0  # messages per second across one worker process; 0 = unlimited
    smtp_batch_size: int = 100  # messages per SMTP connection before reconnecting
    # A message whose answer was lost after the data may have arrived: send it once more
    # on the next run (same Message-ID)? Never in the same run.
    resend_unknown: bool = True
    # Does the SMTP server announce SMTPUTF8? Only then are addresses with a non-ASCII
    # local part (üser@…) accepted from an import.
    smtp_utf8: bool = False
    outbox_dir: Path | None = None  # default: <var_dir>/outbox, used when smtp_url is empty
    mail_from: str = "Research Digest <digest@localhost>"
    reply_to: str = ""
    list_id: str = "Research Digest <digest.localhost>"
    base_url: str = "http://127.0.0.1:8000"
    # Comma-separated, newest first: links signed with an older key keep working.
    secret_key: str = ""  # default: generated once and kept in <var_dir>/secret.key

    # Web app and replies
    admin_password: str = ""  # empty → the admin pages are closed
    admin_language: str = "en"  # the admin pages' language: a code of i18n.LANGUAGES
    admin_email: str = ""  # where "send a test digest to me" goes unless another is typed
    # Any request body larger is refused (413) while it streams in; the admin CSV upload
    # has its own cap (5 MB). 1 MB keeps every other form in memory: Starlette spools only
    # what passes 1 MB to the temp directory.
    max_request_bytes: int = 1_000_000
    imap_host: str = ""  # empty → replies are not read
    imap_port: int = 993
    imap_security: str = "ssl"  # ssl | starttls | none (none only for a loopback server)
    imap_user: str = ""
    imap_password: str = ""
    imap_folder: str = "INBOX"
    # authserv-ids (comma-separated) of the receiving servers whose Authentication-Results
    # header is believed for an unsubscribe reply; empty → none is (RFC 8601).
    imap_authserv_id: str = ""
    soft_bounce_threshold: int = 3  # consecutive 4.x.x reports that suppress a subscriber
    # The public sign-up page /subscribe (double opt-in); false → 404.
    signup: bool = True
    signup_client_limit: int = 20  # sign-up requests per client address (IPv6: /64) an hour
    signup_min_seconds: float = 3.0  # a sign-up form sent sooner is a bot's: refused silently
    # A confirmed reader's first digest: at their next send hour, or queued at once.
    welcome_digest: Literal["morning", "now"] = "morning"
    # The public archive /archive: each day's announced papers per category, with an Atom
    # feed; false → 404 (what was announced, never anyone's digest).
    public_archive: bool = False

    # Briefing (any OpenAI-compatible endpoint)
    openai_api_key: str = Field(
        "", validation_alias=AliasChoices("OPENAI_API_KEY", "DIGEST_OPENAI_API_KEY")
    )
    openai_base_url: str = Field(
        "", validation_alias=AliasChoices("OPENAI_BASE_URL", "DIGEST_OPENAI_BASE_URL")
    )
    llm_model: str = "gpt-4o-mini"
    # "digest": one LLM briefing per distinct digest; "theme": one paragraph per theme of
    # the day and language, assembled per reader (calls that do not grow with readers).
    llm_briefing: Literal["digest", "theme"] = "theme"
    llm_timeout: float = 30.0
    llm_retries: int = 2
    llm_concurrency: int = 8  # briefing requests in flight at once in a send batch
    briefing_max_chars: int = 1200
    # Share of a briefing sentence's terms its cited papers must carry (briefing/faithful.py);
    # an answer with one sentence below it gets the extractive briefing (`llm_unfaithful`).
    llm_min_support: float = MIN_SUPPORT
    # Per send run: 0 = unlimited. Once spent, the run's remaining digests get the
    # extractive briefing.
    llm_max_calls: int = 0
    llm_max_tokens: int = 0  # input (prompt) tokens
    llm_budget_seconds: float = 120.0  # wall time all briefings of one run may take

    # Feeds
    fetch_timeout: float = 20.0
    fetch_max_bytes: int = 10_000_000
    fetch_concurrency: int = 8
    fetch_interval_minutes: int = 60
    user_agent: str = "digest-mailer/0.1 (research paper digest; feed reader)"
    # e.g. http://export.arxiv.org/api/query; empty → id-only library seeds wait for the feeds
    arxiv_api_url: str = ""
    # A feed added or fetched now from the admin pages may be at a loopback, private,
    # link-local or other non-public address (false: refused, so a browser session cannot
    # make the server probe its own network). `feeds add` at a shell is trusted either way.
    sources_allow_private: bool = False

    # Selection
    max_per_category: int = 10
    max_papers: int = 40
    send_empty: bool = False
    include_updates: bool = False
    first_digest_lookback_hours: int = 36
    # A weekly digest's caps: max_per_category and max_papers times this (a reader's own
    # max_papers is their digest's size, weekly or not).
    weekly_cap_scale: int = 3

    # Ranking (domain/ranking.py): the text model's window, and exploration slots
    explore_slots: int = 2  # papers the reader's model is unsure about, when a digest cuts
    text_model_days: float = 90.0  # the vocabulary comes from entries of these last days
    text_model_refit_days: float = 30.0  # then it is fitted again (every reader refits)

    # Schedule
    schedule_minutes: int = 5
    send_batch_size: int = 500  # a batch reads the day once: larger batches share more
    claim_timeout_minutes: float = 15.0  # a claim this old belongs to a killed worker
    default_timezone: str = "UTC"
    default_send_hour: int = 7

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as "
                             "'Europe/Berlin')") from err
        return value

    @field_validator("default_send_hour")
    @classmethod
    def _hour(cls, value: int) -> int:
        if not 0 <= value <= 23:
            raise ValueError("must be an hour from 0 to 23")
        return value

    @field_validator("schedule_minutes")
    @classmethod
    def _tick(cls, value: int) -> int:
        if not 0 <= value <= 59:
            raise ValueError("must be from 1 to 59 minutes (a crontab '*/N' step), or 0 for "
                             "no schedule of the worker's own")
        return value

    @field_validator("admin_language")
    @classmethod
    def _language(cls, value: str) -> str:
        i18n.check(value)  # UnknownLanguage is a ValueError naming the known codes
        return value

    @field_validator("imap_security")
    @classmethod
    def _imap_security(cls, value: str) -> str:
        if value not in ("ssl", "starttls", "none"):
            raise ValueError("must be ssl, starttls or none")
        return value

    @field_validator("imap_authserv_id")
    @classmethod
    def _authserv_ids(cls, value: str) -> str:
        for ident in value.split(","):
            if ident.strip() and not re.fullmatch(r"[A-Za-z0-9._-]+", ident.strip()):
                raise ValueError(f"{ident.strip()!r} is not an authserv-id (a host name such "
                                 "as 'mx.example.org'; several are separated by commas)")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("smtp", "smtps"):
            raise ValueError("must start with smtp:// (STARTTLS) or smtps:// (implicit TLS)")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if value and scheme.split("+")[0] not in ("sqlite", "postgresql"):
            what = f"{scheme}://" if scheme else "a URL without a scheme"
            raise ValueError(f"{what} is not a database digest-mailer runs on: give "
                             "sqlite:///FILE or postgresql://USER@HOST/DB")
        return value

    @field_validator("mail_from", "reply_to", "list_id", "base_url", "user_agent", "smtp_url",
                     "openai_base_url", "llm_model", "imap_host", "imap_user", "imap_folder",
                     "arxiv_api_url", mode="before")
    @classmethod
    def _one_line(cls, value: object) -> object:
        # These end up in mail or HTTP headers (or the URLs in them): a CR/LF would start a
        # header of its own, and the message builder would only quietly mend it.
        if isinstance(value, str):
            bad = next((c for c in value if is_invisible(c)), None)
            if bad is not None:
                raise ValueError(f"contains the control character U+{ord(bad):04X}; "
                                 "give the value on one line, without control characters")
        return value

    @field_validator("mail_from", "reply_to")
    @classmethod
    def _mailbox(cls, value: str) -> str:
        from digest_mailer.mail.message import check_mailbox

        if value.strip():
            check_mailbox(value)  # ValueError says why: the start stops, naming the variable
        return value

    @field_validator("list_id")
    @classmethod
    def _list_id(cls, value: str) -> str:
        from digest_mailer.mail.message import check_list_id

        check_list_id(value)
        return value

    @field_validator("base_url", "openai_base_url", "arxiv_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator(
        "max_per_category", "max_papers", "fetch_max_bytes", "fetch_concurrency",
        "send_batch_size", "soft_bounce_threshold", "llm_concurrency", "briefing_max_chars",
        "fetch_interval_minutes", "smtp_batch_size", "signup_client_limit", "weekly_cap_scale",
    )
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value

    @field_validator("signup_min_seconds")
    @classmethod
    def _fill_time(cls, value: float) -> float:
        if not 0 <= value <= 600:
            raise ValueError("must be 0 to 600 seconds")
        return value

    @field_validator("explore_slots")
    @classmethod
    def _explore(cls, value: int) -> int:
        if not 0 <= value <= 5:
            raise ValueError("must be 0 (off) to 5")
        return value

    @field_validator("text_model_days", "text_model_refit_days")
    @classmethod
    def _days(cls, value: float) -> float:
        if value < 1:
            raise ValueError("must be at least 1 day")
        return value

    @field_validator("smtp_rate", "llm_max_calls", "llm_max_tokens", "llm_budget_seconds")
    @classmethod
    def _not_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("must be 0 (unlimited) or more")
        return value

    @field_validator("llm_min_support")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError("must be a share from 0 to 1 (0.6: three in five of a sentence's "
                             "terms found in the papers it cites)")
        return value

    @field_validator("max_request_bytes")
    @classmethod
    def _request_bytes(cls, value: int) -> int:
        if value < 10_000:
            raise ValueError("must be at least 10000 bytes (a full preferences form)")
        return value

    @field_validator("claim_timeout_minutes")
    @classmethod
    def _claim_timeout(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be more than 0 minutes")
        return value

    # (secret_key, var_dir) → the keys worked out from them
    _secret_keys: tuple[tuple[str, Path], tuple[str, ...]] | None = PrivateAttr(default=None)

    # Derived values: computed here so no other module guesses defaults.
    @property
    def effective_database_url(self) -> str:
        if self.database_url.startswith("postgresql://"):  # SQLAlchemy's default is psycopg2
            return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
        return self.database_url or f"sqlite:///{self.var_dir / 'digest.db'}"

    @property
    def effective_outbox_dir(self) -> Path:
        return self.outbox_dir or self.var_dir / "outbox"

    @property
    def trusted_authserv_ids(self) -> tuple[str, ...]:
        return tuple(i.strip().lower() for i in self.imap_authserv_id.split(",") if i.strip())

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def templates_dir(self) -> Path:
        return _bundled("templates") / "email"

    @property
    def demo_dir(self) -> Path:
        return _bundled("demo")

    def effective_secret_keys(self) -> list[str]:
        """The signing keys, newest first; one is generated and kept in ``var_dir`` if unset.

        Worked out once per Settings: later calls (one per web request) touch no file. The
        answer is kept with what it came from, so a ``model_copy`` with another
        ``secret_key`` or ``var_dir`` works its own out.
        """
        source = (self.secret_key, self.var_dir)
        if self._secret_keys is None or self._secret_keys[0] != source:
            self._secret_keys = (source, tuple(self._read_secret_keys()))
        return list(self._secret_keys[1])

    def _read_secret_keys(self) -> list[str]:
        if self.secret_key:
            return [k.strip() for k in self.secret_key.split(",") if k.strip()]
        path = self.var_dir / "secret.key"
        if not path.exists():
            _create_secret_file(path)
        return [path.read_text().strip()]


def _create_secret_file(path: Path) -> None:
    """Write a new key to ``path`` unless another process got there first.

    The key is written to a private temporary file and linked into place, so a process
    starting at the same moment reads either no file or the whole key, never half of one.
    """
    import secrets
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        os.link(temporary, path)
    except FileExistsError:
        pass  # the other process's key stands
    finally:
        os.unlink(temporary)


def _env_names(field: str) -> tuple[str, ...]:
    """The variables that set ``field``, the first one first: DIGEST_<FIELD>, or its aliases."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(choice) for choice in alias.choices)
    return (PREFIX + field.upper(),)


def _env_name(field: str) -> str:
    return _env_names(field)[0]


def _from_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Each setting the environment gives, by field name. A variable's name is matched
    whatever its case (``digest_max_papers`` too), as pydantic-settings matched it."""
    given = {key.lower(): value for key, value in environ.items()}
    values = {}
    for field in Settings.model_fields:
        name = next((n for n in _env_names(field) if n.lower() in given), None)
        if name is not None:
            values[field] = given[name.lower()]
    return values


def known_variables() -> list[str]:
    return [_env_name(name) for name in Settings.model_fields]


def _check_unknown(environ: dict[str, str]) -> None:
    known = set(known_variables())
    for key in sorted(environ):
        if key.startswith(PREFIX) and key not in known and key[len(PREFIX):].lower() not in (
            "openai_api_key", "openai_base_url"
        ):
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise SettingsError(key, f"unknown setting{hint} (the README lists every setting)")


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Read the settings; raise :class:`SettingsError` naming the first bad variable.

    ``overrides`` (by field name) win over the environment, which wins over ``env_file``.
    A .env is shared with the process manager (PORT=…): only DIGEST_* keys must be known.
    """
    in_file: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        from dotenv import dotenv_values

        in_file = {k: v for k, v in dotenv_values(env_file, encoding="utf-8").items()
                   if v is not None}
    environ = {**in_file, **os.environ}
    _check_unknown(environ)
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(unknown[0], "unknown setting")
    try:
        return Settings(**{**_from_environment(environ), **overrides})
    except ValidationError as err:
        first = err.errors()[0]
        loc = first["loc"][0] if first["loc"] else "?"
        name = _env_name(str(loc)) if str(loc) in Settings.model_fields else str(loc)
        raise SettingsError(name, str(first["msg"]).removeprefix("Value error, ")) from err
