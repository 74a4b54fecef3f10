"""A digest as data (`preview --json`, `send --dry-run --json`): the same papers, order,
scores, reasons and cuts as the Delivery the send path writes.

Real parts: the demo's arXiv feeds on loopback, ingested into SQLite, a library through
LibraryService, the send path into the outbox.
"""

from __future__ import annotations

from datetime import date

import test_reader_models
from sqlmodel import Session, select
from world import World

from digest_mailer import db
from digest_mailer.db.models import Delivery, DeliveryStatus

DAY = date(2026, 11, 1)
LLM_LIBRARY = test_reader_models.LLM_LIBRARY
lg = test_reader_models.lg  # the demo's feeds ingested, digests cut at 5 with 2 exploring


def deliveries(world: World) -> list[Delivery]:
    with Session(world.app.engine) as session:
        return list(session.exec(select(Delivery)))


def test_the_listing_is_the_digest_that_is_then_sent(lg):
    reader = lg.subscribe("llm@example.org", ["cs.LG", "cs.CL"], keywords=["retrieval"])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    drafted = lg.app.composer.listing(reader.email, DAY)
    assert deliveries(lg) == []  # a preview writes no Delivery

    lg.app.send.send()
    with Session(lg.app.engine) as session:
        sent = db.deliveries.of_day(session, reader.id, DAY)
        titles = {e.key: e.title for e in db.entries.by_keys(session, sent.entry_keys)}
    assert lg.app.composer.listing(reader.email, DAY) == drafted  # now read from the row
    assert [p.key for p in drafted.papers] == sent.entry_keys
    as_json = drafted.as_json()
    assert as_json["email"] == reader.email and as_json["digest_date"] == "2026-11-01"
    for paper, key in zip(as_json["papers"], sent.entry_keys, strict=True):
        noted = sent.notes["papers"][key]
        assert set(paper) == {"key", "title", "link", "category", "score", "reason"}
        assert (paper["key"], paper["title"], paper["score"]) == (key, titles[key],
                                                                   noted["score"])
        assert paper["link"] == f"https://arxiv.org/abs/{key}"
        why = noted["why"]
        assert paper["reason"] == (None if why is None else {"kind": why[0], "label": why[1]})
    # Grouped as the email groups them: the reader's categories in their order, then the
    # groups of papers only a keyword found; each group in one run.
    groups = [p["category"] for p in as_json["papers"]]
    mine = ["cs.LG", "cs.CL"]
    assert groups == sorted(groups, key=lambda g: mine.index(g) if g in mine else len(mine))
    runs = [g for n, g in enumerate(groups) if n == 0 or groups[n - 1] != g]
    assert len(runs) == len(set(groups)) and runs[0] == "cs.LG"
    assert [p["reason"]["kind"] for p in as_json["papers"]].count("explore") == 2
    assert as_json["more"] == [{"category": g, "count": n} for g, n in sent.notes["more"]]
    assert as_json["more"] and all(m["count"] > 0 for m in as_json["more"])


def test_a_dry_run_lists_each_due_digest_writes_none_and_lists_a_retry_as_stored(lg):
    reader = lg.subscribe("llm@example.org", ["cs.LG"])
    quiet = lg.subscribe("quiet@example.org", ["cs.LG"])
    lg.app.library.load(reader.email, LLM_LIBRARY)
    listed: list = []
    report = lg.app.send.send(dry_run=True, listings=listed)
    assert report.counts["would_send"] == 2 and deliveries(lg) == []
    by_email = {x.email: x for x in listed}
    assert set(by_email) == {reader.email, quiet.email}
    for email, listing in by_email.items():
        assert listing == lg.app.composer.listing(email, DAY) and not listing.retry
    assert all(p.score is None and p.reason is None for p in by_email[quiet.email].papers)

    # A digest written but never sent (its worker killed): listed as it will be sent.
    lg.app.send.send()
    with Session(lg.app.engine) as session:
        row = db.deliveries.of_day(session, reader.id, DAY)
        row.status = DeliveryStatus.PENDING
        session.add(row)
        session.commit()
    again: list = []
    report = lg.app.send.send(dry_run=True, listings=again)
    assert (report.counts["would_retry"], report.counts["already_done"]) == (1, 1)
    (retry,) = again
    assert retry.retry and retry.email == reader.email
    assert [p.key for p in retry.papers] == [p.key for p in by_email[reader.email].papers]
