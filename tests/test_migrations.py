"""Schema migrations (Alembic), on SQLite and on the real PostgreSQL.

Head must be exactly the schema the models declare; a migration never loses a row; a
database made by create_all before migrations existed is adopted, not rebuilt; a database
behind the code is upgraded at start only where that is allowed, and otherwise the start
fails naming `digest-mailer db upgrade`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import at_once
from sqlmodel import Session, SQLModel, select
from test_cli import clean_env, cli

from digest_mailer import db
from digest_mailer.db import migrate
from digest_mailer.db.models import (
    ArxivLookup,
    Delivery,
    FetchLog,
    LibrarySeed,
    Run,
    Source,
    Subscriber,
    Vote,
)
from digest_mailer.domain.digest import FetchOutcome
from digest_mailer.domain.library import Seed
from digest_mailer.errors import SchemaError

HEAD = "0012"


def engine_of(url: str) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def differences(url: str) -> list[Any]:
    """What alembic autogenerate would still change to reach the models (nothing, at head)."""
    engine = engine_of(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, SQLModel.metadata))
    finally:
        engine.dispose()


def shape(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullability), indexes, unique and foreign keys, as reflected."""
    engine = engine_of(url)
    try:
        with engine.connect() as conn:
            db = sa.inspect(conn)
            found: dict[str, Any] = {}
            for table in sorted(set(db.get_table_names()) - {"alembic_version"}):
                found[table] = {
                    # Sorted: ADD COLUMN appends, so a migrated table's order differs.
                "columns": sorted((c["name"], str(c["type"]), c["nullable"])
                                  for c in db.get_columns(table)),
                    "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                                      for i in db.get_indexes(table)),
                    "unique": sorted((u["name"] or "", tuple(u["column_names"]))
                                     for u in db.get_unique_constraints(table)),
                    "foreign": sorted((tuple(f["constrained_columns"]), f["referred_table"])
                                      for f in db.get_foreign_keys(table)),
                }
            return found
    finally:
        engine.dispose()


def version(url: str) -> str | None:
    return migrate.current(url).revision


# The tables as revision 0001 has them: plain SQL, independent of today's models.
T = sa.table
C = sa.column
SOURCE = T("source", C("id"), C("url"), C("label"), C("category"), C("active", sa.Boolean),
           C("etag"), C("last_modified"), C("last_fetched_at", sa.DateTime),
           C("last_success_at", sa.DateTime), C("last_status"), C("last_error"),
           C("last_entry_count"))
ENTRY = T("entry", C("id"), C("key"), C("source_id"), C("title"), C("abstract"),
          C("authors", sa.JSON), C("link"), C("categories", sa.JSON), C("announce_type"),
          C("doi"), C("published", sa.DateTime), C("first_seen", sa.DateTime))
SUBSCRIBER = T("subscriber", C("id"), C("email"), C("name"), C("status"), C("timezone"),
               C("send_hour"), C("language"), C("categories", sa.JSON),
               C("keywords", sa.JSON), C("excluded_keywords", sa.JSON), C("public_id"),
               C("created_at", sa.DateTime))
DELIVERY = T("delivery", C("id"), C("subscriber_id"), C("digest_date", sa.Date), C("status"),
             C("entry_keys", sa.JSON), C("cutoff", sa.DateTime), C("briefing"),
             C("briefing_kind"), C("subject"), C("message_id"), C("attempts"), C("last_error"),
             C("public_id"), C("created_at", sa.DateTime), C("claimed_at", sa.DateTime),
             C("sent_at", sa.DateTime))
CACHE = T("briefingcacheentry", C("key"), C("text"), C("model"), C("created_at", sa.DateTime))
RUN = T("run", C("id"), C("kind"), C("started_at", sa.DateTime), C("finished_at", sa.DateTime),
        C("counts", sa.JSON), C("errors", sa.JSON))
VOTE = T("vote", C("id"), C("subscriber_id"), C("entry_key"), C("vote"),
         C("created_at", sa.DateTime))


def naive(*args: int) -> datetime:
    """A UTC instant as the database holds it (UTCDateTime stores naive UTC)."""
    return datetime(*args)


def fill_0001(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
    """Realistic rows at revision 0001; returns them as inserted (with their new ids)."""
    rows: dict[str, list[dict[str, Any]]] = {}

    def insert(table: sa.TableClause, values: dict[str, Any], key: str = "id") -> Any:
        if key == "id":
            values = {**values, "id": conn.execute(
                table.insert().values(**values).returning(table.c.id)).scalar_one()}
        else:
            conn.execute(table.insert().values(**values))
        rows.setdefault(table.name, []).append(values)
        return values.get(key)

    source = insert(SOURCE, dict(
        url="https://rss.arxiv.org/rss/cs.CV", label="arXiv (cs.CV)", category="cs.CV",
        active=True, etag='W/"abc"', last_modified="Tue, 24 Nov 2026 05:00:00 GMT",
        last_fetched_at=naive(2026, 11, 24, 5, 1, 2), last_success_at=naive(2026, 11, 24, 5, 1, 2),
        last_status=200, last_error=None, last_entry_count=2))
    insert(SOURCE, dict(
        url="https://connect.biorxiv.org/biorxiv_xml/bioinformatics", label="bioRxiv",
        category="bioinformatics", active=False, etag=None, last_modified=None,
        last_fetched_at=naive(2026, 11, 23, 6), last_success_at=None, last_status=503,
        last_error="503 Service Unavailable\nretry later", last_entry_count=0))
    for n, (kind, title) in enumerate([("new", "Diffusion models for 3D scenes — ünïcode ✓"),
                                       ("replace-cross", "Graph neural networks, revisited")]):
        insert(ENTRY, dict(
            key=f"2611.0000{n}", source_id=source, title=title,
            abstract="We show that a very long abstract survives. " * 40,
            authors=["Ada Lovelace", "张伟"], link=f"https://arxiv.org/abs/2611.0000{n}",
            categories=["cs.CV", "cs.LG"], announce_type=kind, doi=None if n else "10.1/x",
            published=naive(2026, 11, 24, 0, 0) if n == 0 else None,
            first_seen=naive(2026, 11, 24, 5, 1, 2, 345678)))
    alice = insert(SUBSCRIBER, dict(
        email="alice@example.org", name="Alice Ø", status="active", timezone="Europe/Berlin",
        send_hour=7, language="en", categories=["cs.CV"], keywords=["diffusion", "graph neural"],
        excluded_keywords=["survey"], public_id="pub-alice-123",
        created_at=naive(2026, 11, 20, 9, 30)))
    insert(SUBSCRIBER, dict(
        email="bob@example.org", name="", status="unsubscribed", timezone="Asia/Shanghai",
        send_hour=23, language="zh", categories=[], keywords=[], excluded_keywords=[],
        public_id="pub-bob-456", created_at=naive(2026, 11, 21, 1, 2, 3)))
    insert(DELIVERY, dict(
        subscriber_id=alice, digest_date=date(2026, 11, 24), status="sent",
        entry_keys=["2611.00000", "2611.00001"], cutoff=naive(2026, 11, 24, 6, 0, 0, 1),
        briefing="Two papers link 3D diffusion and graphs [1][2].", briefing_kind="llm",
        subject="Your research digest — 24 Nov", message_id="<d1@lab.example.org>",
        attempts=1, last_error=None, public_id="pub-delivery-1",
        created_at=naive(2026, 11, 24, 6), claimed_at=naive(2026, 11, 24, 6, 0, 1),
        sent_at=naive(2026, 11, 24, 6, 0, 2)))
    insert(CACHE, dict(key="sha256:" + "ab" * 32, text="A cached paragraph.",
                       model="gpt-4o-mini", created_at=naive(2026, 11, 24, 6)), key="key")
    insert(RUN, dict(kind="send", started_at=naive(2026, 11, 24, 6),
                     finished_at=naive(2026, 11, 24, 6, 0, 3),
                     counts={"sent": 1, "empty": 0}, errors=["bob@example.org: 4.2.2 full"]))
    return rows


TABLES = {"source": SOURCE, "entry": ENTRY, "subscriber": SUBSCRIBER, "delivery": DELIVERY,
          "briefingcacheentry": CACHE, "run": RUN, "vote": VOTE}


def assert_rows_kept(conn: sa.Connection, rows: dict[str, list[dict[str, Any]]]) -> None:
    for name, inserted in rows.items():
        table = TABLES[name]
        order = table.c.key if name == "briefingcacheentry" else table.c.id
        found = [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(order))]
        assert found == inserted, name


def test_the_head_the_start_compares_with_is_alembics():
    """A start at head reads one row and never imports Alembic: migrate.HEAD must be the
    newest migration (a new migration sets it)."""
    assert migrate.HEAD == migrate.head() == HEAD


def test_head_is_exactly_the_models(database_url):
    before, after = migrate.upgrade(database_url)
    assert before.empty and after == migrate.head() == HEAD
    assert differences(database_url) == []
    assert version(database_url) == HEAD


def test_head_has_the_names_create_all_gives(database_url):
    """Same index and constraint names as create_all, so an adopted legacy database and a
    migrated one can be changed by the same later revisions."""
    engine = engine_of(database_url)
    SQLModel.metadata.create_all(engine)
    made = shape(database_url)
    SQLModel.metadata.drop_all(engine)
    engine.dispose()
    migrate.upgrade(database_url)
    assert shape(database_url) == made


def test_a_migration_never_loses_data(database_url):
    migrate.upgrade(database_url, "0001")
    assert version(database_url) == "0001"
    engine = engine_of(database_url)
    with engine.begin() as conn:
        rows = fill_0001(conn)

    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0001", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        new = conn.execute(sa.text("SELECT email, max_papers, soft_bounces, status_reason, "
                                   "status_changed_at FROM subscriber ORDER BY id")).all()
        assert [tuple(r) for r in new] == [("alice@example.org", None, 0, None, None),
                                           ("bob@example.org", None, 0, None, None)]
    engine.dispose()

    # Today's code reads the migrated rows and keeps writing (sequences continue).
    app = db.engine.make_engine(database_url, auto_migrate=True)
    with Session(app) as session:
        alice = session.exec(select(Subscriber).where(Subscriber.email == "alice@example.org")
                             ).one()
        assert (alice.soft_bounces, alice.max_papers, alice.keywords) == (
            0, None, ["diffusion", "graph neural"])
        assert alice.created_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
        assert db.deliveries.previous_cutoffs(session, [alice.id or 0], date(2026, 11, 25)) == {
            alice.id: datetime(2026, 11, 24, 6, 0, 0, 1, tzinfo=UTC)}
        delivery = session.exec(select(Delivery)).one()
        assert delivery.entry_keys == ["2611.00000", "2611.00001"]
        session.add(Subscriber(email="carol@example.org", categories=["cs.CV"]))
        session.add(Vote(subscriber_id=alice.id or 0, entry_key="2611.00000", vote="more"))
        session.add(Run(kind="ingest"))
        session.commit()
        assert len(session.exec(select(Subscriber)).all()) == 3
        assert db.sources.every(session)[0].url == "https://rss.arxiv.org/rss/cs.CV"
    app.dispose()


def test_a_create_all_database_from_before_migrations_is_stamped_and_upgraded(database_url):
    """A demo var/digest.db made by create_all (no alembic_version) is adopted as it is."""
    engine = engine_of(database_url)
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Source(url="https://example.org/feed", label="Example", category="cs.CV"))
        session.add(Subscriber(email="dana@example.org", categories=["cs.CV"], soft_bounces=2,
                               status_reason="4.2.2 mailbox full"))
        session.commit()
    assert migrate.current(database_url) == migrate.State(None, legacy=HEAD)

    before, after = migrate.upgrade(database_url)
    assert (before.legacy, after) == (HEAD, HEAD)
    assert version(database_url) == HEAD and differences(database_url) == []
    with Session(engine) as session:
        dana = session.exec(select(Subscriber)).one()
        assert (dana.email, dana.soft_bounces, dana.status_reason) == (
            "dana@example.org", 2, "4.2.2 mailbox full")
        assert session.exec(select(Source)).one().url == "https://example.org/feed"
    engine.dispose()


def test_a_0001_database_opened_by_later_create_all_code_gets_its_columns(database_url):
    """create_all adds tables, never columns: a 0001 database run once by 0002 code has the
    vote table but a subscriber without soft_bounces. It is stamped 0001 and completed."""
    migrate.upgrade(database_url, "0001")
    engine = engine_of(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
        rows = fill_0001(conn)
    SQLModel.metadata.create_all(engine)  # adds vote and readermessage only
    with engine.begin() as conn:
        subscriber = rows["subscriber"][0]["id"]
        values = dict(subscriber_id=subscriber, entry_key="2611.00000", vote="less",
                      created_at=naive(2026, 11, 24, 8))
        vote = conn.execute(VOTE.insert().values(**values).returning(VOTE.c.id)).scalar_one()
        rows["vote"] = [{**values, "id": vote}]
    assert migrate.current(database_url).legacy == "0001"

    before, after = migrate.upgrade(database_url)
    assert (before.legacy, after) == ("0001", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
    engine.dispose()


def test_downgrade_to_0001_and_back(database_url):
    migrate.upgrade(database_url)
    command.downgrade(migrate.config(database_url), "0001")
    assert version(database_url) == "0001"
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def test_concurrent_starts_upgrade_once(database_url):
    """The web and the worker starting together: one upgrades, the other waits and finds
    the schema at head."""
    results = at_once(lambda: migrate.upgrade(database_url)[1], 4)
    assert results == [HEAD] * 4
    assert differences(database_url) == []


def test_a_database_behind_stops_the_start_unless_auto_migrate(database_url):
    migrate.upgrade(database_url, "0001")
    with pytest.raises(SchemaError, match="digest-mailer db upgrade") as err:
        db.engine.make_engine(database_url, auto_migrate=False)
    assert f"0001 (behind: head is {HEAD})" in str(err.value)
    assert version(database_url) == "0001"
    db.engine.make_engine(database_url, auto_migrate=True).dispose()
    assert version(database_url) == HEAD


def test_by_default_sqlite_upgrades_itself_and_postgresql_waits(database_url):
    if database_url.startswith("sqlite"):
        db.engine.make_engine(database_url).dispose()
        assert version(database_url) == HEAD
    else:
        with pytest.raises(SchemaError, match=rf"empty database; head is {HEAD}.*db upgrade"):
            db.engine.make_engine(database_url)
        assert version(database_url) is None


def test_a_database_newer_than_the_code_is_refused(database_url):
    migrate.upgrade(database_url)
    engine = engine_of(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(SchemaError, match=r"0099 \(unknown to this version"):
        db.engine.make_engine(database_url, auto_migrate=False)
    with pytest.raises(SchemaError, match="0099"):
        db.engine.make_engine(database_url, auto_migrate=True)


def test_cli_db_upgrade_and_current(database_url, tmp_path):
    env = clean_env(DIGEST_DATABASE_URL=database_url, DIGEST_AUTO_MIGRATE="false")
    assert "none (" in cli(tmp_path, "db", "current", env=env).stdout
    refused = cli(tmp_path, "feeds", "list", env=env, expect=2)
    assert "database error" in refused.stderr and "digest-mailer db upgrade" in refused.stderr
    assert cli(tmp_path, "db", "upgrade", env=env).stdout.strip() == (
        f"database upgraded: empty → {HEAD} (head)")
    assert cli(tmp_path, "db", "current", env=env).stdout.strip() == f"{HEAD} (head)"
    assert cli(tmp_path, "db", "upgrade", env=env).stdout.strip() == (
        f"database at {HEAD} (head): nothing to do")
    cli(tmp_path, "feeds", "list", env=env)


def source_kinds(conn: sa.Connection) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute(sa.text("SELECT url, kind FROM source ORDER BY id"))]


def test_0004_gives_the_sources_of_a_0003_database_the_kind_rss(database_url):
    migrate.upgrade(database_url, "0003")
    engine = engine_of(database_url)
    with engine.begin() as conn:
        rows = fill_0001(conn)  # every 0001 column is still there at 0003

    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0003", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        assert source_kinds(conn) == [
            ("https://rss.arxiv.org/rss/cs.CV", "rss"),
            ("https://connect.biorxiv.org/biorxiv_xml/bioinformatics", "rss")]
    engine.dispose()

    # Today's code reads the kind and records the one a fetch finds.
    app = db.engine.make_engine(database_url, auto_migrate=True)
    with Session(app) as session:
        arxiv = db.sources.every(session)[0]
        assert arxiv.kind == "rss"
        db.sources.record_fetch(session, arxiv, FetchOutcome(url=arxiv.url, status=200),
                                None, 2, datetime(2026, 12, 1, 5, tzinfo=UTC), "atom")
        session.commit()
        added = db.sources.add(session, "https://example.org/atom", "Example", "cs.CV", "atom")
        session.commit()
        assert added.id == 3  # the sequence continues past the migrated rows
        assert [s.kind for s in db.sources.every(session)] == ["atom", "rss", "atom"]
    app.dispose()

    # Downgrading drops the column and nothing else; upgrading again defaults to rss.
    command.downgrade(migrate.config(database_url), "0003")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert "kind" not in {c["name"] for c in sa.inspect(conn).get_columns("source")}
        assert conn.execute(sa.text("SELECT count(*) FROM source")).scalar_one() == 3
    migrate.upgrade(database_url)
    with engine.connect() as conn:
        assert [k for _, k in source_kinds(conn)] == ["rss", "rss", "rss"]
    engine.dispose()


def without_alembic_version(database_url: str, revision: str
                             ) -> tuple[sa.Engine, dict[str, list[dict[str, Any]]]]:
    """A database at ``revision`` that lost its alembic_version (as one made by create_all
    code of that revision has none), filled with realistic rows."""
    engine, rows = filled_at(database_url, revision)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    return engine, rows


def filled_at(database_url: str, revision: str
              ) -> tuple[sa.Engine, dict[str, list[dict[str, Any]]]]:
    """A database migrated to ``revision`` and filled with realistic rows."""
    migrate.upgrade(database_url, revision)
    engine = engine_of(database_url)
    with engine.begin() as conn:
        rows = fill_0001(conn)
    return engine, rows


def assert_adopted(database_url: str, engine: sa.Engine,
                   rows: dict[str, list[dict[str, Any]]], stamped: str) -> None:
    """The upgrade stamps the legacy database ``stamped`` and brings it to head, every
    row kept."""
    before, after = migrate.upgrade(database_url)
    assert (before.legacy, after) == (stamped, HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)


def test_a_0003_database_opened_by_later_create_all_code_gets_source_kind(database_url):
    """create_all never adds a column: a 0003 database without alembic_version (made by
    create_all code before 0004) lacks source.kind, is stamped 0003 and completed."""
    engine, rows = without_alembic_version(database_url, "0003")
    SQLModel.metadata.create_all(engine)  # every table exists: nothing to add
    assert migrate.current(database_url) == migrate.State(None, legacy="0003")
    assert_adopted(database_url, engine, rows, "0003")
    with engine.connect() as conn:
        assert [k for _, k in source_kinds(conn)] == ["rss", "rss"]
    engine.dispose()


def test_0005_adds_an_empty_libraryseed_table_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0004")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("libraryseed")

    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0004", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        assert conn.execute(sa.text("SELECT count(*) FROM libraryseed")).scalar_one() == 0
    engine.dispose()

    # Today's code writes seeds for a migrated subscriber, in order, and the foreign key holds.
    app = db.engine.make_engine(database_url, auto_migrate=True)
    with Session(app) as session:
        alice = session.exec(select(Subscriber).where(Subscriber.email == "alice@example.org")
                             ).one()
        db.library.add(session, alice.id or 0, [Seed(title="Attention", arxiv_id="1706.03762"),
                                                Seed(doi="10.1038/nature14539")])
        session.commit()
        assert [(s.position, s.title, s.arxiv_id, s.doi, s.kind) for s in
                db.library.of(session, alice.id or 0)] == [
            (0, "Attention", "1706.03762", None, "library"),
            (1, "", None, "10.1038/nature14539", "library")]
        session.add(LibrarySeed(subscriber_id=alice.id or 0, position=1, title="same place"))
        with pytest.raises(sa.exc.IntegrityError):
            session.commit()
    app.dispose()

    # Downgrading drops the table and nothing else.
    command.downgrade(migrate.config(database_url), "0004")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("libraryseed")
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def test_a_0004_database_opened_by_later_create_all_code_is_stamped_0005(database_url):
    """create_all of 0005 code adds the libraryseed table to a 0004 database without
    alembic_version: that is all 0005 does, so it is stamped 0005 as it stands."""
    engine, rows = without_alembic_version(database_url, "0004")
    assert migrate.current(database_url) == migrate.State(None, legacy="0004")
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy="0005")
    assert_adopted(database_url, engine, rows, "0005")
    engine.dispose()


def test_0006_adds_the_model_tables_and_delivery_notes_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0005")
    with engine.connect() as conn:
        assert "notes" not in {c["name"] for c in sa.inspect(conn).get_columns("delivery")}
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0005", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        assert conn.execute(sa.text("SELECT count(*) FROM delivery WHERE notes IS NULL")
                            ).scalar_one() == conn.execute(sa.text(
                                "SELECT count(*) FROM delivery")).scalar_one() > 0
        for table in ("textmodel", "readermodel"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    engine.dispose()

    # Today's code stores a text model and a reader's model for a migrated subscriber.
    app = db.engine.make_engine(database_url, auto_migrate=True)
    with Session(app) as session:
        alice = session.exec(select(Subscriber).where(Subscriber.email == "alice@example.org")
                             ).one()
        text = db.rankings.add_text_model(session, b"vocabulary", 2, datetime.now(UTC))
        db.rankings.save_reader_model(session, alice.id or 0, text.id or 0, "sig", b"w",
                                      datetime.now(UTC))
        session.commit()
        stored = db.rankings.reader_models(session, [alice.id or 0])
        assert [(r.signature, r.data) for r in stored.values()] == [("sig", b"w")]
    app.dispose()

    command.downgrade(migrate.config(database_url), "0005")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert not inspector.has_table("textmodel") and not inspector.has_table("readermodel")
        assert "notes" not in {c["name"] for c in inspector.get_columns("delivery")}
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def test_a_0005_database_opened_by_later_create_all_code_gets_delivery_notes(database_url):
    """create_all of 0006 code adds the model tables to a 0005 database without
    alembic_version but never delivery.notes: it is stamped 0005 and completed."""
    engine, rows = without_alembic_version(database_url, "0005")
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy="0005")
    assert_adopted(database_url, engine, rows, "0005")
    with engine.connect() as conn:
        assert "notes" in {c["name"] for c in sa.inspect(conn).get_columns("delivery")}
    engine.dispose()


def test_0007_adds_an_empty_arxivlookup_table_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0006")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("arxivlookup")
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0006", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        assert conn.execute(sa.text("SELECT count(*) FROM arxivlookup")).scalar_one() == 0
    engine.dispose()

    # Today's code records a lookup and asks again after it (one row per id).
    app = db.engine.make_engine(database_url, auto_migrate=True)
    asked = datetime(2026, 12, 2, 4, tzinfo=UTC)
    with Session(app) as session:
        db.library.record_asked(session, "1706.03762", asked, found=False, error="HTTP 503")
        session.commit()
        db.library.record_asked(session, "1706.03762", asked.replace(day=3), found=True,
                                error=None)
        session.commit()
        assert db.library.asked_since(session, ["1706.03762", "2401.01234"],
                                      asked.replace(day=3)) == {"1706.03762"}
        (row,) = session.exec(select(ArxivLookup)).all()
        assert (row.found, row.error, row.asked_at) == (True, None, asked.replace(day=3))
    app.dispose()

    command.downgrade(migrate.config(database_url), "0006")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("arxivlookup")
        assert sa.inspect(conn).has_table("readermodel")
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def test_a_0006_database_opened_by_later_create_all_code_is_stamped_at_head(database_url):
    """create_all of 0008 code adds arxivlookup (0007) and the sign-up tables (0008) to a
    0006 database without alembic_version: that is all 0007 and 0008 do, so it is stamped
    at head as it stands."""
    engine, rows = without_alembic_version(database_url, "0006")
    assert migrate.current(database_url) == migrate.State(None, legacy="0006")
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy="0008")
    assert_adopted(database_url, engine, rows, "0008")
    engine.dispose()


def test_0008_adds_the_empty_signup_tables_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0007")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("signup")
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0007", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        for table in ("signup", "statuschange", "ratecount"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    engine.dispose()

    command.downgrade(migrate.config(database_url), "0007")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert not {"signup", "statuschange", "ratecount"} & set(
            sa.inspect(conn).get_table_names())
        assert sa.inspect(conn).has_table("arxivlookup")
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def cadences(conn: sa.Connection) -> list[tuple[str, str, int]]:
    return [tuple(r) for r in conn.execute(sa.text(
        "SELECT email, cadence, weekday FROM subscriber ORDER BY id"))]


def test_0009_makes_every_subscriber_daily_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0008")
    with engine.connect() as conn:
        assert "cadence" not in {c["name"] for c in sa.inspect(conn).get_columns("subscriber")}
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0008", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        found = cadences(conn)
    assert found and {(c, w) for _, c, w in found} == {("daily", 0)}

    # Today's code stores a weekly reader and reads the columns back.
    app = db.engine.make_engine(database_url, auto_migrate=True)
    with Session(app) as session:
        session.add(Subscriber(email="weekly@example.org", cadence="weekly", weekday=4))
        session.commit()
        stored = db.subscribers.by_email(session, "weekly@example.org")
        assert stored is not None and (stored.cadence, stored.weekday) == ("weekly", 4)
        session.delete(stored)  # the filled rows alone go through the downgrade
        session.commit()
    app.dispose()

    command.downgrade(migrate.config(database_url), "0008")
    with engine.connect() as conn:
        assert "cadence" not in {c["name"] for c in sa.inspect(conn).get_columns("subscriber")}
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def test_a_0008_database_opened_by_later_create_all_code_gets_the_cadence(database_url):
    """create_all never adds a column: a 0008 database without alembic_version lacks
    subscriber.cadence, is stamped 0008 and completed; one create_all made whole is 0011."""
    engine, rows = without_alembic_version(database_url, "0008")
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy="0008")
    assert_adopted(database_url, engine, rows, "0008")
    with engine.connect() as conn:
        assert {(c, w) for _, c, w in cadences(conn)} == {("daily", 0)}
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE alembic_version"))
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy=HEAD)
    engine.dispose()


def test_0010_adds_source_removed_at_and_an_empty_fetchlog_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0009")
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0009", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        assert conn.execute(sa.text("SELECT count(*) FROM fetchlog")).scalar_one() == 0
        assert conn.execute(sa.text(
            "SELECT count(*) FROM source WHERE removed_at IS NULL")).scalar_one() == 2
    engine.dispose()

    command.downgrade(migrate.config(database_url), "0009")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("fetchlog")
        assert "removed_at" not in {c["name"] for c in sa.inspect(conn).get_columns("source")}
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []

    # Today's code keeps a history per source and removes a source as a tombstone.
    app = db.engine.make_engine(database_url, auto_migrate=True)
    when = datetime(2026, 12, 2, 5, tzinfo=UTC)
    with Session(app) as session:
        arxiv, bio = db.sources.every(session)
        db.sources.record_fetch(session, arxiv, FetchOutcome(url=arxiv.url, status=200),
                                None, 2, when, trigger="now", entries_new=1)
        db.sources.remove(session, bio, when)
        session.commit()
        assert [s.url for s in db.sources.every(session)] == [arxiv.url]
        (fetch,) = session.exec(select(FetchLog)).all()
        assert (fetch.source_id, fetch.trigger, fetch.status, fetch.entry_count,
                fetch.entries_new, fetch.fetched_at) == (arxiv.id, "now", 200, 2, 1, when)
        assert db.sources.labels(session)[bio.id or 0] == ("bioRxiv", "bioinformatics")
    app.dispose()


def test_a_0009_database_opened_by_later_create_all_code_gets_source_removed_at(database_url):
    """create_all of 0010 code adds fetchlog to a 0009 database without alembic_version but
    never source.removed_at: it is stamped 0009 and completed."""
    engine, rows = without_alembic_version(database_url, "0009")
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy="0009")
    assert_adopted(database_url, engine, rows, "0009")
    engine.dispose()


def test_0011_adds_empty_import_drafts_and_keeps_every_row(database_url):
    engine, rows = filled_at(database_url, "0010")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("importdraft")
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0010", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        for table in ("statuschange", "importdraft"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() == 0
    engine.dispose()

    # Today's code logs a status change of a migrated subscriber and keeps a draft.
    app = db.engine.make_engine(database_url, auto_migrate=True)
    when = datetime(2026, 12, 2, 17, tzinfo=UTC)
    with Session(app) as session:
        alice = session.exec(select(Subscriber).where(Subscriber.email == "alice@example.org")
                             ).one()
        assert db.subscribers.set_status(session, alice, "bounced", "5.1.1", "bounce", when)
        db.statuses.add_draft(session, "h" * 64, "session", b"email\n", when)
        session.commit()
        (change,) = db.statuses.history(session, alice.id or 0)
        assert (change.previous, change.status, change.by, change.changed_at) == (
            "active", "bounced", "bounce", when)
        assert db.statuses.draft(session, "h" * 64, "session").data == b"email\n"
        assert db.statuses.draft(session, "h" * 64, "another session") is None
    app.dispose()
    # The one change made since: alice bounced.
    for row in rows["subscriber"]:
        if row["email"] == "alice@example.org":
            row["status"] = "bounced"

    command.downgrade(migrate.config(database_url), "0010")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("importdraft")
        assert sa.inspect(conn).has_table("statuschange")
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []


def test_a_0010_database_opened_by_later_create_all_code_is_stamped_0011(database_url):
    """create_all of 0011 code adds importdraft to a 0010 database without alembic_version:
    that is all 0011 does, so it is stamped 0011 as it stands."""
    engine, rows = without_alembic_version(database_url, "0010")
    assert migrate.current(database_url) == migrate.State(None, legacy="0010")
    SQLModel.metadata.create_all(engine)
    assert migrate.current(database_url) == migrate.State(None, legacy="0011")
    assert_adopted(database_url, engine, rows, "0011")
    engine.dispose()


def test_0012_adds_source_public_only_false_for_every_source_and_keeps_every_row(
        database_url):
    """Sources already there were named at a shell (or before the browser could): they stay
    unguarded. Down and up again keeps every row."""
    engine, rows = filled_at(database_url, "0011")
    before, after = migrate.upgrade(database_url)
    assert (before.revision, after) == ("0011", HEAD)
    assert differences(database_url) == []
    with engine.connect() as conn:
        assert_rows_kept(conn, rows)
        flags = conn.execute(sa.text("SELECT public_only FROM source")).scalars().all()
        assert flags and not any(flags)
    engine.dispose()
    command.downgrade(migrate.config(database_url), "0011")
    engine = engine_of(database_url)
    with engine.connect() as conn:
        assert "public_only" not in {c["name"] for c in sa.inspect(conn).get_columns("source")}
        assert_rows_kept(conn, rows)
    engine.dispose()
    migrate.upgrade(database_url)
    assert version(database_url) == HEAD and differences(database_url) == []
