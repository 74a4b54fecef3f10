"""The query contract: every query module in digest_mailer/db, on SQLite and PostgreSQL.

One suite, run against each database by the ``database_url`` fixture (a temp SQLite file,
a fresh database on the real PostgreSQL), as huey runs its ``StorageTests`` against every
storage. The tests commit after each write themselves, so the contract holds whether a
query commits or leaves that to the service.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from digest_mailer import db
from digest_mailer.db.briefings import DatabaseBriefingCache
from digest_mailer.db.models import (
    BriefingCacheEntry,
    Delivery,
    DeliveryStatus,
    LibrarySeed,
    ReaderMessage,
    Run,
    Source,
    Subscriber,
    SubscriberStatus,
    Vote,
)
from digest_mailer.domain.digest import FetchOutcome, ParsedEntry
from digest_mailer.domain.library import Seed

T0 = datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
DAY = date(2026, 12, 1)
HOUR = timedelta(hours=1)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.engine.make_engine(database_url, auto_migrate=True)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session


def add_source(session: Session, url: str = "https://rss.arxiv.org/rss/cs.CV",
               category: str = "cs.CV", **fields: object) -> Source:
    source = db.sources.add(session, url, f"arXiv ({category})", category)
    session.commit()
    for name, value in fields.items():
        setattr(source, name, value)
    session.add(source)
    session.commit()
    return source


def paper(key: str, *categories: str, announce: str = "new", title: str = "") -> ParsedEntry:
    return ParsedEntry(key=key, title=title or f"Paper {key}", abstract="An abstract.",
                       authors=("Ada Lovelace", "张伟"), link=f"https://arxiv.org/abs/{key}",
                       categories=categories or ("cs.CV",), announce_type=announce)


def add_subscriber(session: Session, email: str, **fields: object) -> Subscriber:
    subscriber = Subscriber(email=email, categories=["cs.CV"], **fields)  # type: ignore[arg-type]
    session.add(subscriber)
    session.commit()
    return subscriber


# --- sources ---------------------------------------------------------------------------

class TestSources:
    def test_add_then_update_by_url(self, session: Session) -> None:
        first = add_source(session, active=False)
        again = db.sources.add(session, first.url, "arXiv CV", "cs.CV.new")
        session.commit()
        assert again.id == first.id
        assert [(s.url, s.label, s.category, s.active, s.kind)
                for s in db.sources.every(session)] == [
            ("https://rss.arxiv.org/rss/cs.CV", "arXiv CV", "cs.CV.new", True, "rss")]

    def test_kind_given_kept_and_defaulted(self, session: Session) -> None:
        atom = db.sources.add(session, "https://example.org/atom", "A", "cs.LG", "atom")
        plain = db.sources.add(session, "https://example.org/rss", "R", "cs.LG")
        session.commit()
        db.sources.add(session, atom.url, "A2", "cs.LG")  # no kind: it stays
        session.commit()
        assert [(s.label, s.kind) for s in db.sources.every(session)] == [
            ("A2", "atom"), ("R", "rss")]
        assert plain.kind == "rss"

    def test_active_and_due_by_interval(self, session: Session) -> None:
        never = add_source(session, "https://a.example/feed")
        fresh = add_source(session, "https://b.example/feed",
                           last_fetched_at=T0 - timedelta(minutes=10))
        old = add_source(session, "https://c.example/feed", last_fetched_at=T0 - 2 * HOUR)
        exact = add_source(session, "https://d.example/feed", last_fetched_at=T0 - HOUR)
        off = add_source(session, "https://e.example/feed", active=False)
        assert [s.id for s in db.sources.active(session)] == [
            never.id, fresh.id, old.id, exact.id]
        assert [s.id for s in db.sources.due(session, T0, HOUR)] == [never.id, old.id, exact.id]
        assert [s.id for s in db.sources.every(session)][-1] == off.id

    def test_record_fetch_keeps_the_last_error_visible(self, session: Session) -> None:
        source = add_source(session)
        ok = FetchOutcome(url=source.url, status=200, etag='W/"1"', last_modified="Mon")
        db.sources.record_fetch(session, source, ok, None, 12, T0, "atom")
        session.commit()
        failed = FetchOutcome(url=source.url, status=503, error="HTTP 503")
        db.sources.record_fetch(session, source, failed, "HTTP 503", 0, T0 + HOUR, "rss")
        session.commit()
        session.expire_all()
        row = db.sources.every(session)[0]
        assert (row.last_fetched_at, row.last_success_at, row.last_status, row.last_error,
                row.last_entry_count, row.etag, row.last_modified, row.kind) == (
            T0 + HOUR, T0, 503, "HTTP 503", 12, 'W/"1"', "Mon", "atom")

        # A 304 repeats no validators: the stored ones stay, and the error clears.
        same = FetchOutcome(url=source.url, status=304, not_modified=True)
        db.sources.record_fetch(session, row, same, None, 0, T0 + 2 * HOUR)
        session.commit()
        session.expire_all()
        row = db.sources.every(session)[0]
        assert (row.last_success_at, row.last_error, row.etag, row.last_entry_count,
                row.kind) == (T0 + 2 * HOUR, None, 'W/"1"', 0, "atom")

    def test_labels(self, session: Session) -> None:
        cv = add_source(session)
        bio = add_source(session, "https://connect.biorxiv.org/x", "bioinformatics")
        assert db.sources.labels(session) == {
            cv.id: ("arXiv (cs.CV)", "cs.CV"), bio.id: ("arXiv (bioinformatics)",
                                                       "bioinformatics")}

    def test_subscribable_categories_counts_only_arxiv_papers(self, session: Session) -> None:
        hep = add_source(session, "https://rss.arxiv.org/rss/hep-ph", "hep-ph")
        add_source(session, "https://connect.biorxiv.org/x", "bioinformatics")
        db.entries.store(session, hep, [
            paper("2612.00001", "hep-ph", "hep-ex", "astro-ph.CO"),
            paper("2612.00002", "hep-ph", "Not A Category", "math-ph"),
            # Not arXiv papers (their key has a ":"): their tags never become categories.
            paper("doi:10.1/x", "hep-ph", "nucl-th"),
            paper("https://journal.example/1", "gr-qc"),
        ], T0)
        session.commit()
        assert db.sources.subscribable_categories(session) == [
            "bioinformatics", "hep-ph", "astro-ph.CO", "hep-ex", "math-ph"]


# --- entries ---------------------------------------------------------------------------

class TestEntries:
    def test_store_new_then_merge_categories(self, session: Session) -> None:
        cv = add_source(session)
        lg = add_source(session, "https://rss.arxiv.org/rss/cs.LG", "cs.LG")
        assert db.entries.store(session, cv, [paper("2612.1", "cs.CV"),
                                              paper("2612.2", "cs.CV")], T0) == (2, 0)
        session.commit()
        again = [paper("2612.1", "cs.LG", "cs.CV"), paper("2612.2", "cs.CV"),
                 paper("2612.3", "cs.LG")]
        assert db.entries.store(session, lg, again, T0 + HOUR) == (1, 1)
        session.commit()
        session.expire_all()
        rows = {e.key: e for e in db.entries.seen_between(session, T0 - HOUR, T0 + HOUR)}
        assert rows["2612.1"].categories == ["cs.CV", "cs.LG"]
        assert rows["2612.2"].categories == ["cs.CV"]
        # The source it was first seen in, and first_seen, never move.
        assert [(k, rows[k].source_id, rows[k].first_seen) for k in sorted(rows)] == [
            ("2612.1", cv.id, T0), ("2612.2", cv.id, T0), ("2612.3", lg.id, T0 + HOUR)]
        assert rows["2612.1"].authors == ["Ada Lovelace", "张伟"]
        assert db.entries.count(session) == 3

    def test_an_update_becomes_new_when_announced_new(self, session: Session) -> None:
        cv = add_source(session)
        db.entries.store(session, cv, [paper("2612.1", announce="replace-cross")], T0)
        session.commit()
        assert db.entries.store(session, cv, [paper("2612.1", announce="replace")], T0) == (0, 0)
        assert db.entries.store(session, cv, [paper("2612.1")], T0 + HOUR) == (0, 1)
        session.commit()
        session.expire_all()
        (row,) = db.entries.by_keys(session, ["2612.1"])
        assert (row.announce_type, row.is_update, row.first_seen) == ("new", False, T0)

    def test_seen_between_is_half_open_in_arrival_order(self, session: Session) -> None:
        cv = add_source(session)
        for offset, key in [(2, "late"), (0, "edge"), (1, "b"), (1, "a")]:
            db.entries.store(session, cv, [paper(f"x:{key}")], T0 + offset * HOUR)
            session.commit()
        keys = [e.key for e in db.entries.seen_between(session, T0, T0 + 2 * HOUR)]
        assert keys == ["x:b", "x:a", "x:late"]  # (after, until]; same instant → by id
        assert db.entries.seen_between(session, T0 + 2 * HOUR, T0 + 9 * HOUR) == []

    def test_by_keys_keeps_the_order_asked(self, session: Session) -> None:
        cv = add_source(session)
        db.entries.store(session, cv, [paper(k) for k in ("a:1", "a:2", "a:3")], T0)
        session.commit()
        found = db.entries.by_keys(session, ["a:3", "missing", "a:1", "a:2"])
        assert [e.key for e in found] == ["a:3", "a:1", "a:2"]
        assert db.entries.by_keys(session, []) == []


# --- subscribers -----------------------------------------------------------------------

class TestSubscribers:
    def test_lookups(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org", name="Ada")
        bob = add_subscriber(session, "bob@example.org", status=SubscriberStatus.BOUNCED)
        cy = add_subscriber(session, "cy@example.org")
        assert db.subscribers.by_email(session, "bob@example.org").id == bob.id
        assert db.subscribers.by_email(session, "BOB@example.org") is None
        assert db.subscribers.by_public_id(session, ada.public_id).email == "ada@example.org"
        assert db.subscribers.by_public_id(session, "nope") is None
        assert [s.id for s in db.subscribers.active(session)] == [ada.id, cy.id]
        assert [s.id for s in db.subscribers.active(session, [cy.id, bob.id])] == [cy.id]
        assert db.subscribers.active(session, []) == []
        assert [s.email for s in db.subscribers.every(session)] == [
            "ada@example.org", "bob@example.org", "cy@example.org"]

    def test_status_change_is_idempotent(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        assert db.subscribers.set_status(session, ada, "unsubscribed", "one-click",
                                         "one-click", T0)
        session.commit()
        assert not db.subscribers.set_status(session, ada, "unsubscribed", "again", "admin",
                                             T0 + HOUR)
        session.commit()
        session.expire_all()
        row = db.subscribers.by_email(session, "ada@example.org")
        assert (row.status, row.status_reason, row.status_changed_at) == (
            "unsubscribed", "one-click", T0)
        # Only the change is in the history, not the repeat.
        assert [(h.previous, h.status, h.reason, h.by, h.changed_at)
                for h in db.statuses.history(session, ada.id)] == [
            ("active", "unsubscribed", "one-click", "one-click", T0)]

    def test_many_at_once_as_the_import_writes_them(self, session: Session) -> None:
        add_subscriber(session, "Old.Case@Example.org", name="Legacy")  # an older version's
        ada = add_subscriber(session, "ada@example.org", name="Ada")
        emails = ["ada@example.org", "old.case@example.org", "nobody@example.org",
                  *(f"r{n}@example.org" for n in range(1000))]  # past one IN chunk
        db.subscribers.insert_many(session, [
            {"email": f"r{n}@example.org", "name": f"R{n}", "categories": ["cs.LG"]}
            for n in range(1000)], T0)
        session.commit()
        seen: list[int] = []
        found = db.subscribers.profiles_by_email(session, emails, ("id", "email", "name"),
                                                 done=seen.append)
        assert sum(seen) == len(emails) and len(seen) == 2  # two chunks of 900 and 103
        assert found["ada@example.org"].name == "Ada"
        assert found["old.case@example.org"].email == "Old.Case@Example.org"  # found lowered
        assert "nobody@example.org" not in found and found["r999@example.org"].name == "R999"
        db.subscribers.update_many(session, [{"id": ada.id, "name": "Ada L."},
                                             {"id": found["r0@example.org"].id, "send_hour": 9}])
        session.commit()
        session.expire_all()
        assert db.subscribers.by_email(session, "ada@example.org").name == "Ada L."
        r0 = db.subscribers.by_email(session, "r0@example.org")
        assert (r0.send_hour, r0.name, r0.created_at, r0.status) == (9, "R0", T0, "active")
        assert len({s.public_id for s in db.subscribers.every(session)}) == 1002

    def test_undo_unsubscribe_never_revives_a_bounce(self, session: Session) -> None:
        gone = add_subscriber(session, "gone@example.org", status="unsubscribed")
        bounced = add_subscriber(session, "bounced@example.org", status="bounced")
        assert db.subscribers.undo_unsubscribe(session, gone, T0)
        assert not db.subscribers.undo_unsubscribe(session, bounced, T0)
        session.commit()
        assert (gone.status, gone.status_reason, gone.status_changed_at) == (
            "active", "undo", T0)
        assert db.subscribers.by_email(session, "bounced@example.org").status == "bounced"

    def test_update_preferences_leaves_the_status(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org", status="unsubscribed")
        db.subscribers.update_preferences(
            session, ada, categories=["cs.LG", "cs.CV"], keywords=["graph"],
            excluded_keywords=["survey"], send_hour=23, timezone="Asia/Shanghai",
            language="zh", max_papers=5)
        session.commit()
        session.expire_all()
        row = db.subscribers.by_email(session, "ada@example.org")
        assert (row.categories, row.keywords, row.excluded_keywords, row.send_hour,
                row.timezone, row.language, row.max_papers, row.status) == (
            ["cs.LG", "cs.CV"], ["graph"], ["survey"], 23, "Asia/Shanghai", "zh", 5,
            "unsubscribed")

    def test_search(self, session: Session) -> None:
        for n in range(5):
            add_subscriber(session, f"reader{n}@lab.example.org", name=f"Reader {n}")
        add_subscriber(session, "a_b@example.org", name="Zoë MÜLLER", status="bounced")
        add_subscriber(session, "axb@example.org", name="100%")
        page, total = db.subscribers.search(session, "LAB.example", offset=1, limit=2)
        assert ([s.email for s in page], total) == (
            ["reader1@lab.example.org", "reader2@lab.example.org"], 5)
        # "_" and "%" are text, not LIKE wildcards; the name is searched too.
        assert [s.email for s in db.subscribers.search(session, "a_b")[0]] == [
            "a_b@example.org"]
        assert [s.email for s in db.subscribers.search(session, "0%")[0]] == [
            "axb@example.org"]
        assert [s.email for s in db.subscribers.search(session, "reader 3")[0]] == [
            "reader3@lab.example.org"]
        assert db.subscribers.search(session, status="bounced")[1] == 1
        assert db.subscribers.search(session, "reader", "bounced") == ([], 0)
        everyone, count = db.subscribers.search(session, limit=50)
        assert count == len(everyone) == 7


# --- votes, messages, runs -------------------------------------------------------------

class TestVotes:
    def test_a_later_vote_replaces_the_earlier(self, session: Session) -> None:
        cv = add_source(session)
        db.entries.store(session, cv, [paper("2612.1", title="Old"),
                                       paper("2612.2", title="New")], T0)
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        db.votes.record(session, ada.id, "2612.1", "more")
        session.commit()
        db.votes.record(session, ada.id, "2612.2", "less")
        session.commit()
        db.votes.record(session, ada.id, "2612.1", "less")  # the latest one counts
        session.commit()
        db.votes.record(session, bob.id, "2612.2", "more")
        db.votes.record(session, bob.id, "unknown-key", "more")  # no entry: not listed
        session.commit()
        assert len(session.exec(select(Vote)).all()) == 4
        assert db.votes.of(session, [ada.id, bob.id]) == {
            ada.id: [("Old", "less"), ("New", "less")], bob.id: [("New", "more")]}
        assert db.votes.of(session, [bob.id + 1]) == {}


class TestLibrary:
    def test_add_appends_replacing_keeps_the_other_kind(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        db.library.add(session, ada.id or 0, [Seed(title="First"), Seed(arxiv_id="2401.00001")])
        db.library.add(session, ada.id or 0, [Seed(abstract="I work on graphs")], "statement")
        db.library.add(session, bob.id or 0, [Seed(title="Bob's")])
        session.commit()
        assert [(s.position, s.title, s.arxiv_id, s.kind) for s in db.library.of(
            session, ada.id or 0)] == [(0, "First", None, "library"),
                                       (1, "", "2401.00001", "library"),
                                       (2, "", None, "statement")]

        db.library.add(session, ada.id or 0, [Seed(title="New", doi="10.1/x")],
                       replacing=True)
        session.commit()
        assert [(s.position, s.title or s.abstract, s.doi) for s in db.library.of(
            session, ada.id or 0)] == [(2, "I work on graphs", None), (3, "New", "10.1/x")]
        assert [s.title for s in db.library.of(session, bob.id or 0)] == ["Bob's"]

    def test_nothing_is_written_until_the_caller_commits(self, session: Session,
                                                         engine: Engine) -> None:
        ada = add_subscriber(session, "ada@example.org")
        db.library.add(session, ada.id or 0, [Seed(title="Uncommitted")])
        session.rollback()
        with Session(engine) as other:
            assert db.library.of(other, ada.id or 0) == []

    def test_remove_only_the_readers_own_seed(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        first, _ = db.library.add(session, ada.id or 0, [Seed(title="A"), Seed(title="B")])
        session.commit()
        assert db.library.remove(session, bob.id or 0, first.id or 0) is False
        assert db.library.remove(session, ada.id or 0, first.id or 0) is True
        assert db.library.remove(session, ada.id or 0, 999_999) is False
        session.commit()
        assert [s.title for s in session.exec(select(LibrarySeed))] == ["B"]

    def test_resolve_from_stored_entries_by_arxiv_id_and_doi(self, session: Session) -> None:
        source = add_source(session)
        journal = ParsedEntry(key="doi:10.1038/nature14539", title="Deep learning",
                              abstract="A review.", link="https://doi.org/10.1038/nature14539",
                              authors=("Y. LeCun",), categories=("cs.LG",),
                              doi="10.1038/Nature14539")
        arxiv_paper = ParsedEntry(key="2401.00002", title="Stored title", abstract="Stored.",
                                  link="https://arxiv.org/abs/2401.00002",
                                  authors=(), categories=("cs.CV",),
                                  doi="10.48550/ARXIV.2401.00002")
        db.entries.store(session, source, [journal, arxiv_paper], T0)
        session.commit()
        seeds = [Seed(arxiv_id="2401.00002", line=1), Seed(doi="10.1038/nature14539", line=2),
                 Seed(arxiv_id="2401.99999", line=3), Seed(title="Mine", arxiv_id="2401.00002"),
                 Seed(doi="10.48550/arxiv.2401.00002", line=5)]
        resolved, filled = db.library.resolve(session, seeds)
        assert filled == 4
        assert [(s.title, s.abstract, s.line) for s in resolved] == [
            ("Stored title", "Stored.", 1), ("Deep learning", "A review.", 2),
            ("", "", 3), ("Mine", "Stored.", 0), ("Stored title", "Stored.", 5)]


class TestMessages:
    def message(self, message_id: str, kind: str, **fields: object) -> ReaderMessage:
        return ReaderMessage(message_id=message_id, kind=kind, **fields)  # type: ignore[arg-type]

    def test_record_is_idempotent_by_message_id(self, session: Session) -> None:
        db.messages.record(session, self.message("<1@x>", "feedback", body="Thanks!"))
        session.commit()
        assert db.messages.known(session, "<1@x>") and not db.messages.known(session, "<2@x>")
        db.messages.record(session, self.message("<1@x>", "auto"))
        with pytest.raises(IntegrityError):  # the unique Message-ID refuses the second
            session.commit()
        session.rollback()  # the session goes on after the duplicate
        (row,) = db.messages.recent(session)
        assert (row.message_id, row.kind, row.body) == ("<1@x>", "feedback", "Thanks!")

    def test_a_duplicate_rolls_its_subscriber_change_back(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        db.messages.record(session, self.message("<1@x>", "unsubscribe"))
        session.commit()
        ada.status = "unsubscribed"
        db.messages.record(session, self.message("<1@x>", "unsubscribe"), ada)
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        session.expire_all()
        assert db.subscribers.by_email(session, "ada@example.org").status == "active"

    def test_recent_by_kinds_newest_first(self, session: Session) -> None:
        for n, kind in enumerate(["bounce_hard", "feedback", "auto", "feedback"]):
            db.messages.record(session, self.message(f"<{n}@x>", kind))
            session.commit()
        assert [m.message_id for m in db.messages.recent(session, ["feedback", "auto"])] == [
            "<3@x>", "<2@x>", "<1@x>"]
        assert [m.message_id for m in db.messages.recent(session, limit=2)] == [
            "<3@x>", "<2@x>"]
        assert db.messages.recent(session, ["unsubscribe"]) == []


class TestRuns:
    def test_save_and_recent_newest_first(self, session: Session) -> None:
        for n, kind in enumerate(["ingest", "send", "demo"]):
            run = db.runs.save(session, Run(kind=kind, started_at=T0 + n * HOUR,
                                            counts={"sent": n}, errors=[f"e{n}"]))
            session.commit()
            assert run.id is not None and run.finished_at is not None
        recent = db.runs.recent(session, limit=2)
        assert [(r.kind, r.started_at, r.counts, r.errors) for r in recent] == [
            ("demo", T0 + 2 * HOUR, {"sent": 2}, ["e2"]),
            ("send", T0 + HOUR, {"sent": 1}, ["e1"])]
        assert [r.kind for r in db.runs.recent(session)] == ["demo", "send", "ingest"]


# --- deliveries ------------------------------------------------------------------------

def delivery(subscriber: Subscriber, day: date = DAY, status: str = DeliveryStatus.PENDING,
             cutoff: datetime = T0, **fields: object) -> Delivery:
    return Delivery(subscriber_id=subscriber.id or 0, digest_date=day, status=status,
                    cutoff=cutoff, **fields)  # type: ignore[arg-type]


def write(session: Session, *rows: Delivery) -> list[Delivery]:
    written = db.deliveries.insert_claimed(session, list(rows))
    session.commit()
    return written


class TestDeliveries:
    def test_insert_claimed_leaves_a_row_someone_wrote_first(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        mine = delivery(ada, status=DeliveryStatus.SENDING, claimed_at=T0, attempts=1,
                        entry_keys=["2612.1", "2612.2"])
        first = write(session, mine, delivery(bob))
        assert [(d.subscriber_id, d.id is not None) for d in first] == [
            (ada.id, True), (bob.id, True)]
        late = write(session, delivery(ada, entry_keys=["other"]),
                     delivery(ada, DAY + timedelta(days=1)))
        assert [(d.subscriber_id, d.digest_date) for d in late] == [
            (ada.id, DAY + timedelta(days=1))]
        session.expire_all()
        row = db.deliveries.of_day(session, ada.id, DAY)
        assert (row.id, row.status, row.entry_keys, row.claimed_at, row.attempts) == (
            mine.id, "sending", ["2612.1", "2612.2"], T0, 1)
        assert db.deliveries.of_day(session, bob.id, DAY + timedelta(days=1)) is None
        assert db.deliveries.by_public_id(session, row.public_id).id == mine.id
        assert db.deliveries.by_public_id(session, "nope") is None
        found = db.deliveries.of_subscribers(session, [ada.id, bob.id], [DAY])
        assert {key: d.id for key, d in found.items()} == {
            (ada.id, DAY): mine.id, (bob.id, DAY): first[1].id}

    def test_claim_once_then_take_a_stale_claim_over(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        (row,) = write(session, delivery(ada))
        stale = timedelta(minutes=15)
        assert db.deliveries.claim(session, row.id, T0, stale)
        session.commit()
        assert not db.deliveries.claim(session, row.id, T0 + timedelta(minutes=14), stale)
        session.commit()
        # The first worker died: after the timeout another takes the claim over.
        assert db.deliveries.claim(session, row.id, T0 + timedelta(minutes=16), stale)
        session.commit()
        assert not db.deliveries.renew_claim(session, row.id, 1, T0 + timedelta(minutes=17))
        assert db.deliveries.renew_claim(session, row.id, 2, T0 + timedelta(minutes=18))
        session.commit()
        session.expire_all()
        fresh = db.deliveries.of_day(session, ada.id, DAY)
        assert (fresh.status, fresh.attempts, fresh.claimed_at) == (
            "sending", 2, T0 + timedelta(minutes=18))

    def test_only_pending_or_resend_rows_are_claimed(self, session: Session) -> None:
        people = [add_subscriber(session, f"r{n}@example.org") for n in range(3)]
        rows = write(session, *(delivery(p, status=s) for p, s in zip(
            people, [DeliveryStatus.RESEND, DeliveryStatus.SENT, DeliveryStatus.EMPTY],
            strict=True)))
        claimed = [db.deliveries.claim(session, d.id, T0, timedelta(minutes=15)) for d in rows]
        session.commit()
        assert claimed == [True, False, False]

    def test_finish_records_what_went_out(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        sent, failed = write(session, delivery(ada, status=DeliveryStatus.SENDING),
                             delivery(bob, status=DeliveryStatus.SENDING))
        sent.briefing, sent.briefing_kind, sent.subject = "Two papers [1][2].", "llm", "Digest"
        db.deliveries.finish(session, sent.id,
                             db.deliveries.outcome(sent, DeliveryStatus.SENT, T0 + HOUR))
        db.deliveries.finish(session, failed.id, db.deliveries.outcome(
            failed, DeliveryStatus.FAILED, T0 + HOUR, "550 5.1.1"))
        session.commit()
        session.expire_all()
        got = [(d.status, d.sent_at, d.briefing, d.briefing_kind, d.subject, d.last_error)
               for d in (db.deliveries.of_day(session, p.id, DAY) for p in (ada, bob))]
        assert got == [("sent", T0 + HOUR, "Two papers [1][2].", "llm", "Digest", None),
                       ("failed", None, None, None, None, "550 5.1.1")]

    def test_closed_dates_and_previous_cutoffs(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        back = [DAY - timedelta(days=n) for n in range(5)]
        write(session,
              delivery(ada, back[4], DeliveryStatus.SENT, T0 - 96 * HOUR),
              delivery(ada, back[3], DeliveryStatus.EMPTY, T0 - 72 * HOUR),
              delivery(ada, back[2], DeliveryStatus.FAILED, T0 - 40 * HOUR),  # not closed
              delivery(ada, back[1], DeliveryStatus.RESEND, T0 - 48 * HOUR),  # maybe there
              delivery(ada, back[0], DeliveryStatus.SENT, T0),  # not before DAY
              delivery(bob, back[1], DeliveryStatus.PENDING, T0 - 24 * HOUR),
              delivery(bob, back[0], DeliveryStatus.UNKNOWN, T0))
        assert db.deliveries.previous_cutoffs(session, [ada.id, bob.id], DAY) == {
            ada.id: T0 - 48 * HOUR}
        assert db.deliveries.previous_cutoffs(session, [bob.id], DAY + timedelta(days=1)) == {
            bob.id: T0}
        assert db.deliveries.closed_dates(session, back[:3]) == {
            (ada.id, back[2]), (ada.id, back[0]), (bob.id, back[0])}

    def test_digest_sent_to_proves_a_reply_is_about_our_mail(self, session: Session) -> None:
        ada = add_subscriber(session, "ada@example.org")
        bob = add_subscriber(session, "bob@example.org")
        write(session,
              delivery(ada, DAY, DeliveryStatus.SENT, message_id="<a1@lab>"),
              delivery(ada, DAY - timedelta(days=1), DeliveryStatus.EMPTY,
                       message_id="<a0@lab>"),
              delivery(bob, DAY, DeliveryStatus.SENT, message_id="<b1@lab>"))
        ask = ["<x@elsewhere>", "<b1@lab>", "<a0@lab>", "<a1@lab>"]
        assert db.deliveries.digest_sent_to(session, ada.id, ask) == "<a1@lab>"
        assert db.deliveries.digest_sent_to(session, bob.id, ask) == "<b1@lab>"
        assert db.deliveries.digest_sent_to(session, ada.id, ask[:3]) is None
        assert db.deliveries.digest_sent_to(session, ada.id, []) is None


# --- the briefing cache ----------------------------------------------------------------

class TestBriefingCache:
    def test_claim_put_get(self, engine: Engine) -> None:
        cache = DatabaseBriefingCache(engine)
        assert cache.claim("k", 60) and not cache.claim("k", 60)  # one writer per key
        assert cache.get("k") is None  # a claim is no briefing
        cache.put("k", "A paragraph.", "gpt-4o-mini")
        assert cache.get("k") == "A paragraph."
        assert not cache.claim("k", 0)  # a stored briefing is never claimed
        cache.put("k", "Another worker's.", "other")  # the first stored stays
        cache.release("k")  # releases claims only
        assert cache.get("k") == "A paragraph." and cache.get("missing") is None
        with Session(engine) as session:
            assert session.get(BriefingCacheEntry, "k").model == "gpt-4o-mini"

    def test_release_and_stale_claims(self, engine: Engine) -> None:
        cache = DatabaseBriefingCache(engine)
        assert cache.claim("j", 60)
        cache.release("j")  # the call failed: someone else may try
        assert cache.claim("j", 60)
        # A worker that died holding the claim: once it is older than stale_after.
        with Session(engine) as session:
            row = session.get(BriefingCacheEntry, "j")
            row.created_at = row.created_at - timedelta(minutes=2)
            session.add(row)
            session.commit()
        assert not cache.claim("j", 300)
        assert cache.claim("j", 60) and not cache.claim("j", 60)
