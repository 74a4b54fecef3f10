"""The command-line face: `digest-mailer COMMAND`. Every command calls a service."""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from digest_mailer.errors import SchemaError, SettingsError
from digest_mailer.ingest.parsers import KINDS

if TYPE_CHECKING:
    from digest_mailer.app import App


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
    # Issue 12: a source named by its URL or by its id (`feeds list` shows it).
    edit = feeds.add_parser("edit", help="change a source's label, category or kind")
    edit.add_argument("source", metavar="URL|ID")
    edit.add_argument("--label")
    edit.add_argument("--category", help="a new code: the profiles that had the old one follow")
    edit.add_argument("--kind", choices=KINDS)
    for action, text in (("disable", "stop fetching a source and offering its category"),
                         ("enable", "fetch a disabled source again"),
                         ("remove", "remove a source (its papers stay); say whose profiles "
                                    "lost its category"),
                         ("history", "a source's last fetches: time, HTTP status, items, error")):
        one_source = feeds.add_parser(action, help=text)
        one_source.add_argument("source", metavar="URL|ID")
        if action == "history":
            one_source.add_argument("--limit", type=int, default=20, help="default: 20")
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
    one = subs.add_parser("add", help="add a subscriber, or update the given fields of one")
    one.add_argument("email")
    one.add_argument("--name")
    one.add_argument("--categories", help='e.g. "cs.CV|cs.LG"')
    one.add_argument("--keywords", help='e.g. "diffusion|image retrieval"')
    one.add_argument("--exclusions", help='keywords to leave out, e.g. "survey|benchmark"')
    one.add_argument("--timezone", help="an IANA name (default: DIGEST_DEFAULT_TIMEZONE)")
    one.add_argument("--send-hour", help="0-23 (default: DIGEST_DEFAULT_SEND_HOUR)")
    one.add_argument("--language", help="en or zh")
    one.add_argument("--max-papers", help="the digest's size (default: DIGEST_MAX_PAPERS)")

    lib = subs.add_parser("library", help="a reader's seed papers: BibTeX, RIS, CSV, JSONL "
                                          "or a list of arXiv ids / DOIs")
    lib.add_argument("email", nargs="?", help="the reader (not with --resolve)")
    lib.add_argument("file", type=Path, nargs="?", help="replaces the library (see --append)")
    lib.add_argument("--append", action="store_true", help="add to the library instead")
    lib.add_argument("--list", action="store_true", help="print the reader's seeds")
    lib.add_argument("--statement", metavar="TEXT", help='"what I work on", kept as a seed')
    lib.add_argument("--remove", type=int, metavar="ID", help="drop one seed (ids: --list)")
    lib.add_argument("--resolve", action="store_true",
                     help="every reader's seeds known by arXiv id only: titles from stored "
                          "papers, then from DIGEST_ARXIV_API_URL when set")

    send = commands.add_parser("send", help="send the digests that are due")
    send.add_argument("--dry-run", action="store_true", help="select only; write and send nothing")
    send.add_argument("--subscriber", metavar="EMAIL", help="only this subscriber")
    send.add_argument("--date", type=_date, help="send this date's digest (ignores send hours)")
    send.add_argument("--json", action="store_true",
                      help="with --dry-run: print each digest's papers as one JSON document")

    preview = commands.add_parser("preview", help="render a subscriber's digest to HTML, "
                                                  "or print it as JSON")
    preview.add_argument("email")
    shown = preview.add_mutually_exclusive_group(required=True)
    shown.add_argument("--out", type=Path, metavar="FILE.html")
    shown.add_argument("--json", action="store_true",
                       help="print the papers in reading order with score and reason")
    preview.add_argument("--date", type=_date)

    commands.add_parser("runs", help="recent runs with their counts")
    commands.add_parser("tick", help="run one scheduler tick now, in this process")
    commands.add_parser("replies", help="read the Reply-To mailbox once (DIGEST_IMAP_*)")
    web = commands.add_parser("web", help="serve the web app (subscriber and admin pages)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    schema = commands.add_parser("db", help="the database schema (Alembic migrations)")
    db_actions = schema.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="upgrade the schema to the newest revision")
    db_actions.add_parser("current", help="print the schema's revision")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "send" and args.json and not args.dry_run:
        parser.error("send --json needs --dry-run")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from digest_mailer.settings import load_settings  # after --help, which needs none of it

    try:
        settings = load_settings()
    except SettingsError as err:
        print(f"configuration error: {err}", file=sys.stderr)
        return 2
    try:
        if args.command == "db":  # before App, which refuses a schema behind
            from digest_mailer.services.schema import schema_command

            print(schema_command(args.action, settings.effective_database_url))
            return 0
        from digest_mailer.app import App

        app = App(settings)
    except SchemaError as err:
        print(f"database error: {err}", file=sys.stderr)
        return 2
    return _run(args, app)


def _run(args: argparse.Namespace, app: App) -> int:
    from digest_mailer.faces import cli_commands as commands

    if args.command == "web":
        from digest_mailer.faces.web import serve

        serve(app, args.host, args.port)
        return 0
    if args.command in ("feeds", "subscribers"):
        return commands.RUN[f"{args.command} {args.action}"](args, app)
    return commands.RUN[args.command](args, app)


if __name__ == "__main__":
    sys.exit(main())
