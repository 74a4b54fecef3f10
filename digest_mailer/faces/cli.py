"""The command-line face: `digest-mailer COMMAND`. Every command calls the pipeline."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.app import build_pipeline
from digest_mailer.errors import SchemaError, SettingsError
from digest_mailer.faces.demo import import_file, run_demo
from digest_mailer.ingest.parsers import KINDS
from digest_mailer.services.send import Pipeline, Report
from digest_mailer.settings import load_settings


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-24") from err


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digest-mailer", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="ingest the bundled feeds and send every example digest")

    feeds = commands.add_parser("feeds", help="manage sources").add_subparsers(
        dest="action", required=True)
    add = feeds.add_parser("add", help="add or update a source")
    add.add_argument("url")
    add.add_argument("--label", required=True, help='shown on each paper, e.g. "arXiv (cs.CV)"')
    add.add_argument("--category", required=True, help="e.g. cs.CV")
    add.add_argument("--kind", choices=KINDS, help="its parser (default: found at first fetch)")
    feeds.add_parser("list", help="every source with its last fetch and error")
    fetch = feeds.add_parser("fetch", help="fetch sources now")
    fetch.add_argument("--due", action="store_true", help="only those due by the interval")

    subs = commands.add_parser("subscribers", help="manage subscribers").add_subparsers(
        dest="action", required=True)
    imp = subs.add_parser("import", help="import a CSV (see subscribers.example.csv)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true",
                     help="print what would be added, updated, kept and rejected; write nothing")
    imp.add_argument("--skip-invalid", action="store_true",
                     help="import the good rows; write the rejected ones to --report")
    imp.add_argument("--resubscribe", action="store_true",
                     help="re-activate unsubscribed/bounced subscribers listed in the file")
    imp.add_argument("--report", type=Path, metavar="FILE.csv",
                     help="rejected rows (default with --skip-invalid: FILE.rejected.csv)")
    imp.add_argument("--check-dns", action="store_true",
                     help="also check that each address's domain accepts mail (slow)")
    imp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    exp = subs.add_parser("export", help="write every subscriber to a CSV ('-': stdout)")
    exp.add_argument("file")
    subs.add_parser("list", help="every subscriber with status")

    send = commands.add_parser("send", help="send the digests that are due")
    send.add_argument("--dry-run", action="store_true", help="select only; write and send nothing")
    send.add_argument("--subscriber", metavar="EMAIL", help="only this subscriber")
    send.add_argument("--date", type=_date, help="send this date's digest (ignores send hours)")

    preview = commands.add_parser("preview", help="render a subscriber's digest to HTML")
    preview.add_argument("email")
    preview.add_argument("--out", type=Path, required=True, metavar="FILE.html")
    preview.add_argument("--date", type=_date)

    commands.add_parser("runs", help="recent runs with their counts")
    commands.add_parser("tick", help="run one scheduler tick now, in this process")
    commands.add_parser("replies", help="read the Reply-To mailbox once (DIGEST_IMAP_*)")
    web = commands.add_parser("web", help="serve the web app (subscriber and admin pages)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    db = commands.add_parser("db", help="the database schema (Alembic migrations)")
    db_actions = db.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="upgrade the schema to the newest revision")
    db_actions.add_parser("current", help="print the schema's revision")
    return parser


def _print_report(report: Report) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing to do"
    print(f"{report.kind}: {counts}")
    for error in report.errors:
        print(f"  ! {error}")


def _subscriber_ids(pipeline: Pipeline, email: str | None) -> list[int] | None:
    if email is None:
        return None
    with Session(pipeline.engine) as session:
        subscriber = db.subscribers.by_email(session, email.strip().lower())
        if subscriber is None:
            raise SystemExit(f"no subscriber {email}")
        return [subscriber.id or 0]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    try:
        if args.command == "db":  # before build_pipeline, which refuses a schema behind
            from digest_mailer.db.migrate import db_command

            print(db_command(args.action, settings.effective_database_url))
            return 0
        pipeline = build_pipeline(settings)
    except SchemaError as err:
        print(f"database error: {err}", file=sys.stderr)
        return 2
    return _run(args, pipeline)


def _run(args: argparse.Namespace, pipeline: Pipeline) -> int:
    if args.command == "demo":
        result = run_demo(pipeline)
        _print_report(result.ingest)
        print(f"subscribers: {result.imported.summary()}")
        _print_report(result.send)
        if result.outbox:
            files = sorted(result.outbox.glob("*.eml"))
            print(f"outbox: {len(files)} .eml files (each with an .html preview) in "
                  f"{result.outbox.resolve()}")
        return 1 if result.send.counts["failed"] else 0
    if args.command == "feeds":
        return _feeds(args, pipeline)
    if args.command == "subscribers":
        if args.action == "import":
            return _import(args, pipeline)
        if args.action == "export":
            return _export(args, pipeline)
        with Session(pipeline.engine) as session:
            for s in db.subscribers.every(session):
                print(f"{s.email:40} {s.status:13} {s.timezone:20} {s.send_hour:02d}h "
                      f"{','.join(s.categories)}")
        return 0
    if args.command == "send":
        report = pipeline.send_digests(_subscriber_ids(pipeline, args.subscriber),
                                       digest_date=args.date, dry_run=args.dry_run)
        _print_report(report)
        return 1 if report.counts["failed"] else 0
    if args.command == "preview":
        try:
            rendered = pipeline.preview(args.email.strip().lower(), args.date)
        except LookupError as err:
            print(err.args[0], file=sys.stderr)
            return 1
        args.out.write_text(rendered.html, encoding="utf-8")
        print(f"{rendered.subject}\nwritten to {args.out}")
        return 0
    if args.command == "runs":
        with Session(pipeline.engine) as session:
            for run in db.runs.recent(session):
                counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items()))
                print(f"{run.started_at:%Y-%m-%d %H:%M} {run.kind:7} {counts}")
                for error in run.errors:
                    print(f"    ! {error}")
        return 0
    if args.command == "tick":
        pipeline.refresh_feeds()
        _print_report(pipeline.send_digests(pipeline.due()))
        return 0
    if args.command == "replies":
        from digest_mailer.errors import MailboxError
        from digest_mailer.services.replies import process_mailbox

        try:
            report = process_mailbox(pipeline.settings, pipeline.engine)
        except MailboxError as err:
            print(f"replies: {err}", file=sys.stderr)
            return 1
        _print_report(report)
        return 1 if report.errors else 0
    from digest_mailer.faces.web import serve

    serve(pipeline, args.host, args.port)
    return 0


def _import(args: argparse.Namespace, pipeline: Pipeline) -> int:
    """Exit 0 when the import went (or would go) through, 1 when it is refused."""
    from functools import partial

    from tqdm import tqdm

    from digest_mailer.services.importer import ImportConflict

    bar = partial(tqdm, file=sys.stderr, unit=" rows", leave=False,
                  disable=args.quiet or not sys.stderr.isatty())
    try:
        report = import_file(pipeline, args.file, skip_invalid=args.skip_invalid,
                             dry_run=args.dry_run, resubscribe=args.resubscribe,
                             check_dns=args.check_dns,
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


def _export(args: argparse.Namespace, pipeline: Pipeline) -> int:
    from digest_mailer.services.exporter import export_csv

    with Session(pipeline.engine) as session:
        if args.file == "-":
            count = export_csv(session, sys.stdout)
        else:  # with a BOM, so Excel reads it as UTF-8
            with open(args.file, "w", newline="", encoding="utf-8-sig") as handle:
                count = export_csv(session, handle)
    print(f"{count} subscribers written to {args.file}", file=sys.stderr)
    return 0


def _feeds(args: argparse.Namespace, pipeline: Pipeline) -> int:
    if args.action == "add":
        with Session(pipeline.engine) as session:
            source = db.sources.add(session, args.url, args.label, args.category, args.kind)
        print(f"source {source.label}: {source.url}")
        return 0
    if args.action == "fetch":
        report = pipeline.refresh_feeds(force=not args.due)
        _print_report(report)
        return 1 if report.errors else 0
    with Session(pipeline.engine) as session:
        for s in db.sources.every(session):
            when = f"{s.last_fetched_at:%Y-%m-%d %H:%M}" if s.last_fetched_at else "never"
            state = f"ERROR {s.last_error}" if s.last_error else f"ok, {s.last_entry_count} items"
            print(f"{s.label:28} {s.category:16} fetched {when}  {state}\n    {s.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
