"""`digest-mailer demo`: the whole morning job on the bundled snapshot feeds, offline."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from digest_mailer.app import App
from digest_mailer.services.importer import ImportReport
from digest_mailer.services.report import Report
from digest_mailer.settings import PROJECT_ROOT


@dataclass
class DemoResult:
    ingest: Report
    imported: ImportReport
    send: Report
    outbox: Path | None


def add_demo_sources(app: App, demo_dir: Path) -> int:
    """Register the bundled feeds as file:// sources (the real fetch and parse path)."""
    with (demo_dir / "sources.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        url = (demo_dir / "feeds" / row["url"]).resolve().as_uri()
        app.sources.register(url, row["label"], row["category"])
    return len(rows)


def run_demo(app: App) -> DemoResult:
    settings = app.settings
    add_demo_sources(app, settings.demo_dir)
    ingest = app.ingest.refresh(force=True)
    imported = app.subscribers.import_path(PROJECT_ROOT / "subscribers.example.csv")
    # The demo sends everyone's digest for today at once, whatever their send hour.
    send = app.send.send(digest_date=app.clock().date())
    return DemoResult(ingest, imported, send,
                      None if settings.smtp_url else settings.effective_outbox_dir)
