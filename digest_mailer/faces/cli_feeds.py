"""`digest-mailer feeds add|edit|disable|enable|remove|history`: the sources, by URL or id.

Exit 0 with what was done on stdout; 1 with one line per refusal on stderr (nothing
written) or ``no source …`` for a URL or id that names none.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from digest_mailer.app import App
from digest_mailer.domain.source import SourceError

if TYPE_CHECKING:
    from digest_mailer.db.models import FetchLog, Source


def _refused(errors: tuple[SourceError, ...]) -> int:
    for error in errors:
        print(f"{error.field}: {error.reason()}", file=sys.stderr)
    return 1


def _unknown(ref: str) -> int:
    print(f"no source {ref}", file=sys.stderr)
    return 1


def _fetched(fetch: FetchLog) -> str:
    status = f"HTTP {fetch.status}" if fetch.status is not None else "no HTTP status"
    if fetch.error:
        return f"{status}, ERROR {fetch.error}"
    if fetch.not_modified:
        return f"{status}, not modified"
    if fetch.trigger == "add":  # a test fetch stores no entries
        return f"{status}, {fetch.entry_count} items"
    return f"{status}, {fetch.entry_count} items ({fetch.entries_new} new)"


def _named(source: Source) -> str:
    return f"{source.label} (id {source.id})"


def feeds_add(args: argparse.Namespace, app: App) -> int:
    # At a shell file:// and loopback are allowed too: the operator can reach them anyway.
    change = app.sources.add(args.url, args.label, args.category, args.kind, trusted=True)
    if change.errors or change.source is None or change.fetch is None:
        return _refused(change.errors)
    verb = "added" if change.added else "updated"
    print(f"{verb} {_named(change.source)}: {change.source.url}\n"
          f"  test fetch: {_fetched(change.fetch)}")
    return 0


def feeds_edit(args: argparse.Namespace, app: App) -> int:
    source = app.sources.get(args.source)
    if source is None:
        return _unknown(args.source)
    change = app.sources.edit(args.source, args.label if args.label is not None else source.label,
                              args.category if args.category is not None else source.category,
                              args.kind)
    if change.errors:
        return _refused(change.errors)
    print(f"updated {_named(source)}: {', '.join(change.changed) or 'nothing changed'}")
    if change.moved:
        print(f"  profiles now with {args.category} instead of {source.category}: "
              f"{', '.join(change.moved)}")
    return 0


def _set_active(active: bool) -> Callable[[argparse.Namespace, App], int]:
    def command(args: argparse.Namespace, app: App) -> int:
        done = app.sources.set_active(args.source, active)
        if done is None:
            return _unknown(args.source)
        source, changed = done
        verb = "enabled" if active else "disabled"
        print(f"{verb} {_named(source)}" if changed else f"{_named(source)} was already {verb}")
        return 0

    return command


def feeds_remove(args: argparse.Namespace, app: App) -> int:
    removal = app.sources.remove(args.source)
    if removal is None:
        return _unknown(args.source)
    category = removal.source.category
    print(f"removed {_named(removal.source)}; its papers are kept")
    if removal.kept:
        print(f"another source still has {category}: no profile changed")
    elif not removal.lost:
        print(f"no subscriber had {category}")
    else:
        count = len(removal.lost)
        print(f"{count} subscriber{'' if count == 1 else 's'} lost {category}:")
        for email in removal.lost:
            left = "  (now no category at all)" if email in removal.emptied else ""
            print(f"  {email}{left}")
    return 0


def feeds_history(args: argparse.Namespace, app: App) -> int:
    found = app.sources.history(args.source, max(1, args.limit))
    if found is None:
        return _unknown(args.source)
    source, fetches = found
    print(f"{_named(source)}: {source.url}{'' if source.active else '  (disabled)'}")
    for fetch in fetches:
        print(f"  {fetch.fetched_at:%Y-%m-%d %H:%M:%S} {fetch.trigger:4} {fetch.seconds:6.2f}s  "
              f"{_fetched(fetch)}")
    if not fetches:
        print("  not fetched yet")
    return 0


FEEDS: dict[str, Callable[[argparse.Namespace, App], int]] = {
    "feeds add": feeds_add, "feeds edit": feeds_edit, "feeds disable": _set_active(False),
    "feeds enable": _set_active(True), "feeds remove": feeds_remove,
    "feeds history": feeds_history,
}
