"""Subscriber CSV import: :mod:`.import_rows` reads and checks the file, this module
applies it in one transaction.

Someone who unsubscribed or bounced is never re-activated unless ``resubscribe`` is set.
:func:`import_csv` is the one entry point for the CLI and the web admin upload.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import SubscriberStatus
from digest_mailer.errors import ImportConflict
from digest_mailer.services.exporter import COLUMNS as COLUMNS
from digest_mailer.services.import_report import ImportReport as ImportReport
from digest_mailer.services.import_rows import Progress, SubscriberRow, parse

log = logging.getLogger(__name__)

RESUBSCRIBED = "resubscribed by import"
ADDED = "added by import"
FIELDS = ("name", "categories", "keywords", "excluded_keywords", "timezone", "send_hour",
          "language", "max_papers", "cadence", "weekday")


# --- applying: one transaction ---------------------------------------------------------

def _values(row: SubscriberRow) -> dict[str, Any]:
    values = {"name": row.name, "categories": list(row.categories),
              "keywords": list(row.keywords), "excluded_keywords": list(row.exclusions),
              "timezone": row.timezone, "send_hour": row.send_hour, "language": row.language}
    optional = {"max_papers": row.max_papers, "cadence": row.cadence, "weekday": row.weekday}
    values.update({k: v for k, v in optional.items() if v is not None})
    return values


def _existing(session: Session, rows: Sequence[SubscriberRow],
              progress: Progress | None) -> dict[str, Any]:
    """The stored state of these rows' subscribers, by address (chunked IN queries on the
    index, plain rows rather than ORM objects: a re-import of 100,000 stays cheap).

    Addresses are stored in lower case; a row stored in mixed case by an older version is
    found by one extra query over the mixed-case rows only, and gets its address lowered.
    """
    wanted = sorted({r.email for r in rows})
    bar = progress("look up", len(wanted)) if progress else None
    found = db.subscribers.profiles_by_email(
        session, wanted, ("id", "email", "status", *FIELDS),
        done=bar.update if bar is not None else None)
    if bar is not None:
        bar.close()
    return found


def apply_rows(session: Session, rows: Sequence[SubscriberRow],
               report: ImportReport | None = None, *, dry_run: bool = False,
               resubscribe: bool = False, progress: Progress | None = None,
               now: datetime | None = None) -> ImportReport:
    """Add or update subscribers in one transaction (or only plan it, with ``dry_run``).

    Unsubscribed and bounced subscribers are left as they are ("kept unsubscribed") unless
    ``resubscribe``: then they are re-activated, logged at WARNING and marked so.
    """
    report = report or ImportReport()
    report.dry_run = dry_run
    existing = _existing(session, rows, progress)
    held = db.library.identities(session, [existing[r.email].id for r in rows
                                           if r.library is not None and r.email in existing])
    libraries: list[SubscriberRow] = []  # rows whose library is (re)written
    changes: list[dict[str, Any]] = []
    new: list[SubscriberRow] = []
    for row in rows:
        values = _values(row)
        stored = existing.get(row.email)
        if stored is None:
            report.added.append(row.email)
            new.append(row)
            libraries += [row] if row.library else []
            continue
        if stored.status != SubscriberStatus.ACTIVE and not resubscribe:
            report.kept_unsubscribed.append(row.email)
            report.previous_status[row.email] = stored.status
            continue
        changed = tuple(k for k, v in values.items() if getattr(stored, k) != v)
        if row.library is not None and [s.identity for s in row.library] != held.get(
                stored.id, []):
            changed, libraries = (*changed, "library"), [*libraries, row]
        if stored.email != row.email:
            changed = ("email", *changed)
            values["email"] = row.email
        if stored.status != SubscriberStatus.ACTIVE:
            report.resubscribed.append(row.email)
            report.previous_status[row.email] = stored.status
            report.changes[row.email] = changed
            changes.append({**values, "id": stored.id, "status": SubscriberStatus.ACTIVE,
                            "status_reason": RESUBSCRIBED, "soft_bounces": 0})
        elif changed:
            report.updated.append(row.email)
            report.changes[row.email] = changed
            if set(changed) - {"library"}:
                changes.append({**values, "id": stored.id})
        else:
            report.unchanged.append(row.email)
    if dry_run:
        session.rollback()
        return report
    now = now or datetime.now(UTC)
    for values in changes:
        if "status" in values:
            values["status_changed_at"] = now
    bar = progress("insert", len(new)) if progress and new else None
    try:  # a row added meanwhile fails at an insert (PostgreSQL) or at the commit
        db.subscribers.update_many(session, changes)
        db.subscribers.insert_many(session, [{**_values(r), "email": r.email} for r in new],
                                   now, done=bar.update if bar is not None else None)
        _write_libraries(session, libraries)
        _record_statuses(session, report, {r.email for r in new}, existing, now)
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise ImportConflict("some of these subscribers were added meanwhile by someone "
                             "else; nothing was written, run the import again") from err
    finally:
        if bar is not None:
            bar.close()
    report.written = True
    for email in report.resubscribed:
        log.warning("resubscribed by import: %s (was %s)", email, report.previous_status[email])
    return report


def _record_statuses(session: Session, report: ImportReport, added: set[str],
                     existing: dict[str, Any], now: datetime) -> None:
    """The status history of this import: each new subscriber starts active, and each
    resubscribed one is active again, by "import"."""
    ids = db.subscribers.ids_by_email(session, sorted(added)) if added else {}
    rows = [{"subscriber_id": ids[e], "status": SubscriberStatus.ACTIVE, "previous": None,
             "reason": ADDED, "by": "import"} for e in sorted(added) if e in ids]
    rows += [{"subscriber_id": existing[e].id, "status": SubscriberStatus.ACTIVE,
              "previous": report.previous_status[e], "reason": RESUBSCRIBED, "by": "import"}
             for e in report.resubscribed]
    db.statuses.record_many(session, rows, now)


def _write_libraries(session: Session, rows: Sequence[SubscriberRow]) -> None:
    """Each row's library cell replaces that reader's library seeds (the statement stays),
    in the import's transaction; ids of stored papers get their titles."""
    ids = db.subscribers.ids_by_email(session, [r.email for r in rows])
    for row in rows:
        seeds, _ = db.library.resolve(session, row.library or ())
        db.library.add(session, ids[row.email], seeds, replacing=True)


@contextmanager
def _session(target: Engine | Session) -> Iterator[Session]:
    if isinstance(target, Session):
        yield target
        return
    with Session(target) as session:
        yield session


def import_csv(target: Engine | Session, data: str | bytes | BinaryIO, *,
               default_timezone: str, default_send_hour: int,
               known_categories: Sequence[str] | None = None, check_dns: bool = False,
               smtputf8: bool = False,
               dry_run: bool = False, skip_invalid: bool = False, resubscribe: bool = False,
               progress: Progress | None = None, now: datetime | None = None) -> ImportReport:
    """Parse, validate and apply a subscriber CSV: the CLI's and the admin upload's import.

    ``default_timezone`` and ``default_send_hour`` (the settings') fill a row's empty cells.
    ``data`` may be an open binary file (read a line at a time). Any rejected row means
    nothing is written unless ``skip_invalid``; a file-level error (encoding, header)
    always means nothing is written. ``known_categories`` defaults to
    ``db.sources.subscribable_categories`` (the sources' and stored arXiv papers' categories).
    ``smtputf8`` admits non-ASCII local parts (``DIGEST_SMTP_UTF8``).
    ``dry_run`` plans the same import and writes nothing.
    """
    with _session(target) as session:
        if known_categories is None:
            known_categories = db.sources.subscribable_categories(session)
        parsed = parse(data, known_categories=known_categories,
                       default_timezone=default_timezone, default_send_hour=default_send_hour,
                       check_dns=check_dns, smtputf8=smtputf8, progress=progress)
        report = ImportReport(rejected=parsed.errors, header=parsed.header, cells=parsed.cells,
                              dry_run=dry_run)
        report.fatal = parsed.fatal
        report.refused = parsed.fatal or (bool(parsed.errors) and not skip_invalid)
        if parsed.fatal or (report.refused and not dry_run):
            return report
        return apply_rows(session, parsed.rows, report, dry_run=dry_run,
                          resubscribe=resubscribe, progress=progress, now=now)
