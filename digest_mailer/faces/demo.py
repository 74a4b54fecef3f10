"""`digest-mailer demo`: the whole morning job on the bundled snapshot feeds, offline."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.services.importer import ImportReport, Progress, import_csv
from digest_mailer.services.send import Pipeline, Report
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
            db.sources.add(session, url, row["label"], row["category"])
    return len(rows)


def import_file(pipeline: Pipeline, path: Path, *, skip_invalid: bool = True,
                dry_run: bool = False, resubscribe: bool = False, check_dns: bool = False,
                progress: Progress | None = None) -> ImportReport:
    """Import a subscriber CSV with the settings' defaults (see importer.import_csv).

    ``skip_invalid`` defaults to True here (the demo, and the admin upload for now): the
    good rows are kept and the rejected ones reported. The CLI passes its own flags.
    """
    settings = pipeline.settings
    with path.open("rb") as handle:  # read a line at a time, never the whole file
        return import_csv(pipeline.engine, handle,
                          default_timezone=settings.default_timezone,
                          default_send_hour=settings.default_send_hour, check_dns=check_dns,
                          smtputf8=settings.smtp_utf8, dry_run=dry_run,
                          skip_invalid=skip_invalid, resubscribe=resubscribe,
                          progress=progress)


def run_demo(pipeline: Pipeline) -> DemoResult:
    settings = pipeline.settings
    add_demo_sources(pipeline, settings.demo_dir)
    ingest = pipeline.refresh_feeds(force=True)
    imported = import_file(pipeline, PROJECT_ROOT / "subscribers.example.csv")
    # The demo sends everyone's digest for today at once, whatever their send hour.
    send = pipeline.send_digests(digest_date=pipeline.clock().date())
    return DemoResult(ingest, imported, send,
                      None if settings.smtp_url else settings.effective_outbox_dir)
