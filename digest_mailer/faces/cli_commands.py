"""The bodies of the CLI's commands: parse → call a service → print. Exit codes as documented."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from digest_mailer.domain.schedule import WEEKDAYS, WEEKLY
from digest_mailer.faces.cli_feeds import FEEDS
from digest_mailer.faces.cli_library import subscribers_library
from digest_mailer.faces.cli_table import digest_rows, table

if TYPE_CHECKING:
    from digest_mailer.app import App
    from digest_mailer.services.listing import DigestListing
    from digest_mailer.services.report import Report


def _print_report(report: Report) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing to do"
    print(f"{report.kind}: {counts}")
    for error in report.errors:
        print(f"  ! {error}")


def demo(args: argparse.Namespace, app: App) -> int:
    from digest_mailer.faces.demo import run_demo

    result = run_demo(app)
    _print_report(result.ingest)
    print(f"subscribers: {result.imported.summary()}")
    _print_report(result.send)
    if result.outbox:
        files = sorted(result.outbox.glob("*.eml"))
        print(f"outbox: {len(files)} .eml files (each with an .html preview) in "
              f"{result.outbox.resolve()}")
    return 1 if result.send.counts["failed"] else 0


def print_json(document: object) -> None:
    """One JSON document on stdout, UTF-8 whatever the locale says."""
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def send(args: argparse.Namespace, app: App) -> int:
    ids = None
    if args.subscriber is not None:
        subscriber = app.subscribers.by_email(args.subscriber.strip().lower())
        if subscriber is None:
            raise SystemExit(f"no subscriber {args.subscriber}")
        ids = [subscriber.id or 0]
    listings: list[DigestListing] | None = [] if args.dry_run else None
    report = app.send.send(ids, digest_date=args.date, dry_run=args.dry_run, listings=listings)
    if listings is not None and args.json:
        print_json({"counts": dict(sorted(report.counts.items())), "errors": report.errors,
                    "digests": [listing.as_json() for listing in listings]})
        return 1 if report.counts["failed"] else 0
    if listings:  # who would get what, then the counts
        print("\n".join(table(digest_rows(listings))))
    _print_report(report)
    return 1 if report.counts["failed"] else 0


def preview(args: argparse.Namespace, app: App) -> int:
    try:
        if args.json:
            print_json(app.composer.listing(args.email.strip().lower(), args.date).as_json())
            return 0
        rendered = app.composer.preview(args.email.strip().lower(), args.date)
    except LookupError as err:
        print(err.args[0], file=sys.stderr)
        return 1
    args.out.write_text(rendered.html, encoding="utf-8")
    print(f"{rendered.subject}\nwritten to {args.out}")
    return 0


def runs(args: argparse.Namespace, app: App) -> int:
    for run in app.status.recent_runs(since=args.since):
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
        print(f"{run.started_at:%Y-%m-%d %H:%M} {run.kind:7} {counts}")
        for error in run.errors:
            print(f"    ! {error}")
    return 0


def tick(args: argparse.Namespace, app: App) -> int:
    app.ingest.refresh()
    app.signup_purge.run()  # once a day, as the worker's tick
    _print_report(app.send.send(app.send.due()))
    return 0


def replies(args: argparse.Namespace, app: App) -> int:
    from digest_mailer.errors import MailboxError

    try:
        report = app.replies.process_mailbox()
    except MailboxError as err:
        print(f"replies: {err}", file=sys.stderr)
        return 1
    _print_report(report)
    return 1 if report.errors else 0


def subscribers_list(args: argparse.Namespace, app: App) -> int:
    for s in app.subscribers.every():
        cadence = f"weekly {WEEKDAYS[s.weekday]}" if s.cadence == WEEKLY else s.cadence
        print(f"{s.email:40} {s.status:13} {s.timezone:20} {s.send_hour:02d}h {cadence:10} "
              f"{','.join(s.categories)}")
    return 0


def subscribers_add(args: argparse.Namespace, app: App) -> int:
    """One line per bad field on stderr and exit 1 (nothing written), or one line, exit 0."""
    change = app.subscribers.add_or_update({
        "email": args.email, "name": args.name, "categories": args.categories,
        "keywords": args.keywords, "exclusions": args.exclusions, "timezone": args.timezone,
        "send_hour": args.send_hour, "language": args.language,
        "max_papers": args.max_papers, "cadence": args.cadence, "weekday": args.weekday})
    if change.errors:
        for error in change.errors:
            print(f"{error.field}: {error.reason}", file=sys.stderr)
        return 1
    if change.added:
        print(f"added {change.email}")
    else:
        print(f"updated {change.email}: {', '.join(change.changed) or 'nothing changed'}")
    return 0


def subscribers_import(args: argparse.Namespace, app: App) -> int:
    """Exit 0 when the import went (or would go) through, 1 when it is refused."""
    from functools import partial

    from tqdm import tqdm

    from digest_mailer.errors import ImportConflict

    bar = partial(tqdm, file=sys.stderr, unit=" rows", leave=False,
                  disable=args.quiet or not sys.stderr.isatty())
    try:
        report = app.subscribers.import_path(
            args.file, skip_invalid=args.skip_invalid, dry_run=args.dry_run,
            resubscribe=args.resubscribe, check_dns=args.check_dns,
            progress=lambda desc, total: bar(desc=desc, total=total))
    except OSError as err:
        print(f"cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 2
    except ImportConflict as err:
        print(f"import failed: {err}", file=sys.stderr)
        return 1
    print(report.headline())
    for line in report.lines(everything=args.dry_run):
        print(line)
    target = args.report or (args.file.with_name(args.file.name + ".rejected.csv")
                             if args.skip_invalid and not args.dry_run else None)
    if target is not None and report.rejected:
        with target.open("w", newline="", encoding="utf-8-sig") as handle:
            report.write_rejects(handle)
        print(f"rejected rows written to {target}")
    return 1 if report.refused else 0


def subscribers_export(args: argparse.Namespace, app: App) -> int:
    if args.file == "-":
        count = app.subscribers.export(sys.stdout)
    else:  # with a BOM, so Excel reads it as UTF-8
        with open(args.file, "w", newline="", encoding="utf-8-sig") as handle:
            count = app.subscribers.export(handle)
    print(f"{count} subscribers written to {args.file}", file=sys.stderr)
    return 0


def feeds_fetch(args: argparse.Namespace, app: App) -> int:
    report = app.ingest.refresh(force=not args.due)
    _print_report(report)
    return 1 if report.errors else 0


def feeds_list(args: argparse.Namespace, app: App) -> int:
    for s in app.sources.every():
        when = f"{s.last_fetched_at:%Y-%m-%d %H:%M}" if s.last_fetched_at else "never"
        state = f"ERROR {s.last_error}" if s.last_error else f"ok, {s.last_entry_count} items"
        state += "" if s.active else "  (disabled)"
        print(f"{s.label:28} {s.category:16} fetched {when}  {state}\n    #{s.id} {s.url}")
    return 0


RUN: dict[str, Callable[[argparse.Namespace, App], int]] = {
    "demo": demo, "send": send, "preview": preview, "runs": runs, "tick": tick,
    "replies": replies,
    "subscribers list": subscribers_list, "subscribers add": subscribers_add,
    "subscribers import": subscribers_import, "subscribers export": subscribers_export,
    "subscribers library": subscribers_library,
    "feeds fetch": feeds_fetch, "feeds list": feeds_list, **FEEDS,
}
