"""Schema migrations: Alembic, configured in code (no alembic.ini) from the package's
``migrations`` folder, so they ship with the wheel.

:func:`upgrade` brings a database to the newest revision in one transaction, under a lock
(PostgreSQL: an advisory lock; SQLite: ``BEGIN IMMEDIATE``), so the web and the worker
starting together upgrade it once. A database made by ``create_all`` before migrations
existed (tables, no ``alembic_version``) is first stamped at the revision whose schema it
has, then upgraded; nothing is dropped.

:func:`prepare`, called by :func:`digest_mailer.db.engine.make_engine`, upgrades automatically
or refuses to start with a :class:`SchemaError` naming ``digest-mailer db upgrade``
(``DIGEST_AUTO_MIGRATE``: unset → automatic for SQLite only). A database at :data:`HEAD`,
the usual start, is told by one SELECT: Alembic (~0.3 s to import) is loaded only to
upgrade or to describe a database that is not.

A new revision: change models.py, then
``alembic.command.revision(migrate.config(url), "what changed", autogenerate=True)``
against a database at head, review the file (types: see script.py.mako), set :data:`HEAD`
to its revision, and check with ``pytest tests/test_migrations.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import NullPool

from digest_mailer.errors import DatabaseUnavailable, SchemaError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest revision in migrations/versions: the start compares a database with it without
# loading Alembic. A new migration sets it (tests/test_migrations.py checks it is Alembic's).
HEAD = "0012"
SCRIPT_LOCATION = "digest_mailer.db:migrations"
# pg_advisory_xact_lock key: any constant shared by every digest-mailer process.
PG_LOCK_KEY = 0x64696765  # "dige"
UPGRADE_HINT = "run `digest-mailer db upgrade` (or set DIGEST_AUTO_MIGRATE=true)"


def config(url: str = "", connection: Connection | None = None) -> Config:
    """An Alembic Config built in code: the package's migrations and this database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    # configparser interpolation: a percent-encoded password must not be read as %(name)s.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@cache
def head() -> str:
    """Alembic's head, read from the migration scripts (the start uses :data:`HEAD`)."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


@cache
def known_revisions() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(config()).walk_revisions()
    return frozenset(script.revision for script in scripts)


@dataclass(frozen=True)
class State:
    """Where a database stands: its revision, or what a legacy one would be stamped at."""

    revision: str | None  # from alembic_version; None when that table is absent or empty
    legacy: str | None = None  # tables without alembic_version: the revision they match

    @property
    def empty(self) -> bool:
        return self.revision is None and self.legacy is None

    def describe(self, head_revision: str) -> str:
        if self.revision == head_revision:
            return f"{self.revision} (head)"
        if self.revision is not None:
            if self.revision not in known_revisions():
                return (f"{self.revision} (unknown to this version of digest-mailer, whose head "
                        f"is {head_revision}: was the database upgraded by newer code?)")
            return f"{self.revision} (behind: head is {head_revision})"
        if self.legacy is not None:
            return (f"none (tables made before migrations, matching {self.legacy}; "
                    f"`digest-mailer db upgrade` stamps them {self.legacy} and upgrades)")
        return f"none (empty database; head is {head_revision})"


def _legacy_revision(conn: Connection) -> str | None:
    """The revision a database made by create_all (no alembic_version) has, or None."""
    db = inspect(conn)
    if not db.has_table("subscriber"):
        return None
    columns = {c["name"] for c in db.get_columns("subscriber")}
    # 0002 added the four subscriber columns; create_all never adds columns, so a 0001
    # database later opened by 0002 code has the new tables but not these.
    if "soft_bounces" not in columns:
        return "0001"
    # 0004 added source.kind: only create_all of 0004 code or later makes it.
    # 0005 only added libraryseed, so a create_all that made it made all of 0005.
    # 0006 added delivery.notes besides its tables: only create_all of 0006 code or later
    # makes it. 0007 only added arxivlookup, 0008 only signup, statuschange and ratecount;
    # 0009 added subscriber.cadence and weekday; 0010 source.removed_at besides fetchlog;
    # 0011 only importdraft; 0012 source.public_only.
    source_columns = {c["name"] for c in db.get_columns("source")}
    if "public_only" in source_columns:
        return "0012"
    if "removed_at" in source_columns:
        return "0011" if db.has_table("importdraft") else "0010"
    if "cadence" in columns:
        return "0009"
    if "kind" in source_columns:
        if "notes" in {c["name"] for c in db.get_columns("delivery")}:
            if db.has_table("signup"):
                return "0008"
            return "0007" if db.has_table("arxivlookup") else "0006"
        return "0005" if db.has_table("libraryseed") else "0004"
    # 0003 added tables and an index on the existing delivery table; create_all adds the
    # tables but not that index, so only the index tells a 0003 database.
    indexes = {i["name"] for i in db.get_indexes("delivery")}
    return "0003" if "ix_delivery_message_id" in indexes else "0002"


def _state(conn: Connection) -> State:
    if not inspect(conn).has_table("alembic_version"):
        return State(None, _legacy_revision(conn))
    # What Alembic's MigrationContext.get_current_revision reads, without importing Alembic.
    revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return State(revision)


def unavailable(url: str, err: Exception) -> DatabaseUnavailable:
    """The error of a database that cannot be opened: one line, without the password."""
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        shown = "the database URL"
    if isinstance(err, ImportError):
        reason = f"its driver is not installed ({err}; PostgreSQL's: pip install -e '.[postgres]')"
    else:
        cause = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
        reason = next((line.strip() for line in str(cause).splitlines() if line.strip()),
                      type(cause).__name__)
    return DatabaseUnavailable(f"cannot open {shown}: {reason}")


@contextmanager
def _connection(target: Engine | str) -> Iterator[Connection]:
    if isinstance(target, Engine):
        with target.connect() as conn:
            yield conn
        return
    connect_args = {"timeout": 30} if target.startswith("sqlite") else {}
    try:
        engine = create_engine(target, poolclass=NullPool, connect_args=connect_args)
    except (ArgumentError, ImportError) as err:
        raise unavailable(target, err) from err
    try:
        try:
            conn = engine.connect()
        except DBAPIError as err:
            raise unavailable(target, err) from err
        with conn:
            yield conn
    finally:
        engine.dispose()


def current(target: Engine | str) -> State:
    with _connection(target) as conn:
        return _state(conn)


def upgrade(target: Engine | str, revision: str = "head") -> tuple[State, str]:
    """Upgrade to ``revision`` in one locked transaction; returns (state before, revision now).

    On SQLite, foreign keys are off while it runs (batch mode may copy a table, and
    PRAGMA foreign_keys cannot change inside a transaction) and checked before the commit.
    """
    from alembic import command
    from alembic.util import CommandError

    with _connection(target) as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, before reading the state
        elif conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
        try:
            before = _state(conn)
            cfg = config(conn.engine.url.render_as_string(hide_password=True), conn)
            if before.legacy is not None:
                command.stamp(cfg, before.legacy)
            if not (revision == "head" and before.revision == head()):  # the usual start
                try:
                    command.upgrade(cfg, revision)
                except CommandError as err:
                    raise SchemaError(
                        f"cannot upgrade from {before.describe(head())}: {err}") from err
            if sqlite:
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise SchemaError(f"the upgrade would break foreign keys: {broken[:5]}")
            after = _state(conn).revision or ""
            conn.commit()
        finally:
            if sqlite:
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
    return before, after


def prepare(engine: Engine, auto_migrate: bool | None = None) -> None:
    """At start: nothing at :data:`HEAD`; else upgrade (``auto_migrate``; None → only
    SQLite) or fail."""
    try:
        state = current(engine)
    except DBAPIError as err:
        raise unavailable(engine.url.render_as_string(hide_password=True), err) from err
    if state.revision == HEAD:
        return
    if auto_migrate is None:
        auto_migrate = engine.dialect.name == "sqlite"
    if auto_migrate:
        upgrade(engine)  # under its lock, it reads the state again: another may have done it
        return
    raise SchemaError(f"the database schema is not current: it is at "
                      f"{state.describe(HEAD)}; {UPGRADE_HINT}")


def make_folder(url: str) -> None:
    """The folder of a SQLite database, made if missing (DatabaseUnavailable if it cannot)."""
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise DatabaseUnavailable(f"cannot create {path.parent} for the database: "
                                      f"{err.strerror}") from err


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    return None


def db_command(action: str, url: str) -> str:
    """`digest-mailer db upgrade|current`: what to print."""
    path = sqlite_path(url)
    if action == "current":
        if path is not None and not path.exists():
            return f"none (no database at {path}; head is {HEAD})"
        return current(url).describe(HEAD)
    make_folder(url)
    before, now = upgrade(url)
    if before.legacy is not None:
        return (f"tables made before migrations stamped {before.legacy}; "
                f"database upgraded to {now} (head)")
    if before.revision == now:
        return f"database at {now} (head): nothing to do"
    return f"database upgraded: {before.revision or 'empty'} → {now} (head)"
