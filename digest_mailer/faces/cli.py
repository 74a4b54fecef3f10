"""The command-line face: `digest-mailer COMMAND`. Every command calls a service."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digest_mailer.errors import DatabaseUnavailable, SchemaError, SettingsError
from digest_mailer.faces.cli_help import examples
from digest_mailer.ingest.kinds import KINDS

if TYPE_CHECKING:
    from digest_mailer.app import App

DATE = "YYYY-MM-DD"


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-24") from err


class _Version(argparse.Action):
    """``--version``: from the installed package's metadata, read only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"digest-mailer {version('digest-mailer')}")  # on stdout, as argparse's
        except PackageNotFoundError:
            parser.exit(1, "digest-mailer is not installed (pip install -e .)\n")
        parser.exit()


def _command(group: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand of ``group``: ``summary`` is its line in the list and its description;
    its examples come from cli_help."""
    sub: argparse.ArgumentParser = group.add_parser(
        name, help=summary, description=summary[:1].upper() + summary[1:] + ".",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub.epilog = examples(sub.prog.removeprefix("digest-mailer "))
    return sub


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digest-mailer", epilog=examples(""),
        description="A morning email digest of new papers: feeds in, one email per reader out.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _command(commands, "demo", "ingest the bundled feeds and send every example digest")

    feeds = _command(commands, "feeds", "manage sources").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    add = _command(feeds, "add", "add or update a source")
    add.add_argument("url")
    add.add_argument("--label", required=True, help='shown on each paper, e.g. "arXiv (cs.CV)"')
    add.add_argument("--category", required=True, help="e.g. cs.CV")
    add.add_argument("--kind", choices=KINDS, help="its parser (default: found at first fetch)")
    # A source named by its URL or by its id (`feeds list` shows it).
    edit = _command(feeds, "edit", "change a source's label, category or kind")
    edit.add_argument("source", metavar="URL|ID")
    edit.add_argument("--label")
    edit.add_argument("--category", help="a new code: the profiles that had the old one follow")
    edit.add_argument("--kind", choices=KINDS)
    for action, text in (("disable", "stop fetching a source and offering its category"),
                         ("enable", "fetch a disabled source again"),
                         ("remove", "remove a source (its papers stay); say whose profiles "
                                    "lost its category"),
                         ("history", "a source's last fetches: time, HTTP status, items, error")):
        one_source = _command(feeds, action, text)
        one_source.add_argument("source", metavar="URL|ID")
        if action == "history":
            one_source.add_argument("--limit", type=int, default=20, help="default: 20")
    _command(feeds, "list", "every source with its last fetch and error")
    fetch = _command(feeds, "fetch", "fetch sources now")
    fetch.add_argument("--due", action="store_true", help="only those due by the interval")

    subs = _command(commands, "subscribers", "manage subscribers").add_subparsers(
        dest="action", required=True, metavar="ACTION")
    imp = _command(subs, "import", "import a CSV (see subscribers.example.csv)")
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
    exp = _command(subs, "export", "write every subscriber to a CSV ('-': stdout)")
    exp.add_argument("file")
    _command(subs, "list", "every subscriber with status")
    one = _command(subs, "add", "add a subscriber, or update the given fields of one")
    one.add_argument("email")
    one.add_argument("--name")
    one.add_argument("--categories", help='e.g. "cs.CV|cs.LG"')
    one.add_argument("--keywords", help='e.g. "diffusion|image retrieval"')
    one.add_argument("--exclusions", help='keywords to leave out, e.g. "survey|benchmark"')
    one.add_argument("--timezone", help="an IANA name (default: DIGEST_DEFAULT_TIMEZONE)")
    one.add_argument("--send-hour", help="0-23 (default: DIGEST_DEFAULT_SEND_HOUR)")
    one.add_argument("--language", help="en or zh")
    one.add_argument("--max-papers", help="the digest's size (default: DIGEST_MAX_PAPERS)")
    one.add_argument("--cadence", help="daily (the default) or weekly")
    one.add_argument("--weekday", help="a weekly digest's day: mon, tue, … sun (or 0-6)")

    lib = _command(subs, "library", "a reader's seed papers: BibTeX, RIS, CSV, JSONL "
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

    send = _command(commands, "send", "send the digests that are due")
    send.add_argument("--dry-run", action="store_true",
                      help="print who would get what, as a table; write and send nothing")
    send.add_argument("--subscriber", metavar="EMAIL", help="only this subscriber")
    send.add_argument("--date", type=_date, metavar=DATE,
                      help="send this date's digest (ignores send hours)")
    send.add_argument("--json", action="store_true",
                      help="with --dry-run: print each digest's papers as one JSON document")

    preview = _command(commands, "preview", "render a subscriber's digest to HTML, "
                                            "or print it as JSON")
    preview.add_argument("email")
    shown = preview.add_mutually_exclusive_group(required=True)
    shown.add_argument("--out", type=Path, metavar="FILE.html")
    shown.add_argument("--json", action="store_true",
                       help="print the papers in reading order with score and reason")
    preview.add_argument("--date", type=_date, metavar=DATE,
                         help="that date's digest (default: today's)")

    runs = _command(commands, "runs", "recent runs with their counts")
    runs.add_argument("--since", type=_date, metavar=DATE,
                      help="every run started on that UTC day or later (default: the last 20)")
    _command(commands, "tick", "run one scheduler tick now, in this process")
    _command(commands, "replies", "read the Reply-To mailbox once (DIGEST_IMAP_*)")
    web = _command(commands, "web", "serve the web app (subscriber and admin pages)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    schema = _command(commands, "db", "the database schema (Alembic migrations)")
    db_actions = schema.add_subparsers(dest="action", required=True, metavar="ACTION")
    _command(db_actions, "upgrade", "upgrade the schema to the newest revision")
    _command(db_actions, "current", "print the schema's revision")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code: 0 done, 1 refused or failed, 2 bad setup or usage.
    Every expected failure is one line on stderr, never a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, so that a closed pipe is met inside the try
    except BrokenPipeError:
        # The reader went away (`export - | head`). As the Python docs advise: stdout to
        # devnull, so the interpreter's flush at exit raises nothing either; stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return code


def _main(argv: list[str] | None) -> int:
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

        # The App builds a part when a command first uses it: the database is opened
        # (and its schema checked) by the first command that reads it, inside this try.
        app = App(settings)
        try:
            return _run(args, app)
        finally:
            app.close()
    except (SchemaError, DatabaseUnavailable) as err:
        print(f"database error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace, app: App) -> int:
    from digest_mailer.faces import cli_commands as commands

    if args.command == "web":
        from digest_mailer.faces.web import serve

        serve(app, args.host, args.port)
        return 0
    if args.command in ("feeds", "subscribers"):
        return commands.RUN[f"{args.command} {args.action}"](args, app)
    return commands.RUN[args.command](args, app)


def run() -> None:
    """The process's entry (the `digest-mailer` script, ``python -m``): :func:`main`, exit.

    The collector runs less often than Python's default (every 700 new objects): a start
    builds a few hundred thousand objects that live as long as the process (modules,
    classes, SQLAlchemy's and pydantic's tables), and walking them again and again while
    they are built cost `feeds list` ~0.05-0.1 s. The exit skips the last collections
    (gc.freeze), which would walk them all once more, ~0.2 s, to free memory the process
    gives back as it ends. Atexit handlers still run and the standard streams are still
    flushed; what the command opened, it has closed.
    """
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
