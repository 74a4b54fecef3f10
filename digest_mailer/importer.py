"""Subscriber CSV import: a pure parser that reports every bad row, and one apply step.

Columns (header names case-insensitive): email, name, categories, keywords, exclusions,
timezone, send_hour, language. List cells separate items with "|" (a keyword may be a
phrase with spaces). Someone who unsubscribed or bounced is never re-activated here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session

from digest_mailer import store
from digest_mailer.errors import ImportRowError
from digest_mailer.models import Subscriber

COLUMNS = ("email", "name", "categories", "keywords", "exclusions", "timezone", "send_hour",
           "language")
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class SubscriberRow:
    line: int
    email: str
    name: str
    categories: tuple[str, ...]
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...]
    timezone: str
    send_hour: int
    language: str


@dataclass
class ImportReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_unsubscribed: list[str] = field(default_factory=list)
    rejected: list[ImportRowError] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.updated)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.kept_unsubscribed)} left "
                f"unsubscribed, {len(self.rejected)} rejected")


def _items(cell: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip() for i in cell.split("|") if i.strip()))


def parse_csv(text: str, *, known_categories: Sequence[str], default_timezone: str,
              default_send_hour: int) -> tuple[list[SubscriberRow], list[ImportRowError]]:
    """Read and validate every row; nothing is written. Returns (good rows, errors)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    if "email" not in header:
        return [], [ImportRowError(1, "email", "the header has no 'email' column")]
    known = {c.casefold(): c for c in known_categories}
    rows: list[SubscriberRow] = []
    errors: list[ImportRowError] = []
    seen: dict[str, int] = {}
    for raw in reader:
        # line_num is the record's last line; a quoted cell may span several.
        line = reader.line_num - sum(v.count("\n") for v in raw.values() if isinstance(v, str))
        cell = {c: (raw.get(header[c]) or "").strip() if c in header else "" for c in COLUMNS}
        try:
            email = validate_email(cell["email"], check_deliverability=False).normalized
        except EmailNotValidError as err:
            errors.append(ImportRowError(line, "email", str(err)))
            continue
        if email in seen:
            errors.append(ImportRowError(line, "email", f"duplicate of line {seen[email]}"))
            continue
        seen[email] = line
        categories = []
        for item in _items(cell["categories"]):
            if item.casefold() not in known:
                errors.append(ImportRowError(line, "categories", f"unknown category {item!r}"))
                break
            categories.append(known[item.casefold()])
        else:
            zone = cell["timezone"] or default_timezone
            try:
                ZoneInfo(zone)
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(ImportRowError(line, "timezone", f"unknown time zone {zone!r}"))
                continue
            hour_text = cell["send_hour"] or str(default_send_hour)
            if not hour_text.isdecimal() or not 0 <= int(hour_text) <= 23:
                errors.append(ImportRowError(line, "send_hour", "must be an hour from 0 to 23"))
                continue
            language = (cell["language"] or "en").lower()
            if language not in LANGUAGES:
                errors.append(ImportRowError(line, "language", "must be 'en' or 'zh'"))
                continue
            keywords = _items(cell["keywords"])
            if not categories and not keywords:
                errors.append(ImportRowError(line, "categories",
                                             "give at least one category or keyword"))
                continue
            rows.append(SubscriberRow(line, email, cell["name"], tuple(categories), keywords,
                                      _items(cell["exclusions"]), zone, int(hour_text),
                                      language))
    return rows, errors


def apply_rows(session: Session, rows: Sequence[SubscriberRow],
               report: ImportReport | None = None) -> ImportReport:
    """Add or update subscribers in one transaction; statuses are never changed."""
    report = report or ImportReport()
    for row in rows:
        values = {"name": row.name, "categories": list(row.categories),
                  "keywords": list(row.keywords), "excluded_keywords": list(row.exclusions),
                  "timezone": row.timezone, "send_hour": row.send_hour,
                  "language": row.language}
        existing = store.subscriber_by_email(session, row.email)
        if existing is None:
            session.add(Subscriber(email=row.email, **values))
            report.added.append(row.email)
            continue
        if existing.status != "active":
            report.kept_unsubscribed.append(row.email)  # preferences kept, status never
        changed = any(getattr(existing, k) != v for k, v in values.items())
        for key, value in values.items():
            setattr(existing, key, value)
        session.add(existing)
        if existing.status == "active":
            (report.updated if changed else report.unchanged).append(row.email)
    session.commit()
    return report
