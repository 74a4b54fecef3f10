"""`digest-mailer demo`: the whole morning job on the bundled snapshot feeds, offline."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from digest_mailer import store
from digest_mailer.importer import ImportReport, apply_rows, parse_csv
from digest_mailer.pipeline import Pipeline, Report
from digest_mailer.settings import PROJECT_ROOT


@dataclass
class DemoResult:
    ingest: Report
    imported: ImportReport
    send: Report
    outbox: Path | None


def add_demo_sources(pipeline: Pipeline, demo_dir: Path) -> int:
    """Register the bundled feeds as file:// sources (the real fetch and parse path)."""
    with (demo_dir / "sources.csv").open(newline="", encoding="utf-8") as handle, \
            Session(pipeline.engine) as session:
        rows = list(csv.DictReader(handle))
        for row in rows:
            url = (demo_dir / "feeds" / row["url"]).resolve().as_uri()
            store.add_source(session, url, row["label"], row["category"])
    return len(rows)


def import_file(pipeline: Pipeline, path: Path) -> ImportReport:
    """Import a subscriber CSV; rejected rows are reported and the good ones kept."""
    settings = pipeline.settings
    with Session(pipeline.engine) as session:
        known = sorted({s.category for s in store.all_sources(session)})
        rows, errors = parse_csv(path.read_text(encoding="utf-8-sig"), known_categories=known,
                                 default_timezone=settings.default_timezone,
                                 default_send_hour=settings.default_send_hour)
        report = apply_rows(session, rows)
    report.rejected.extend(errors)
    return report


def run_demo(pipeline: Pipeline) -> DemoResult:
    settings = pipeline.settings
    add_demo_sources(pipeline, settings.demo_dir)
    ingest = pipeline.refresh_feeds(force=True)
    imported = import_file(pipeline, PROJECT_ROOT / "subscribers.example.csv")
    # The demo sends everyone's digest for today at once, whatever their send hour.
    send = pipeline.send_digests(digest_date=pipeline.clock().date())
    return DemoResult(ingest, imported, send,
                      None if settings.smtp_url else settings.effective_outbox_dir)
