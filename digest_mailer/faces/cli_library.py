"""`digest-mailer subscribers library`: a reader's seed papers from a file, listed, removed."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from digest_mailer.errors import LibraryError

if TYPE_CHECKING:
    from digest_mailer.app import App


def subscribers_library(args: argparse.Namespace, app: App) -> int:
    """Exit 0 with one line; 1 with one line on stderr (nothing written); 2 for bad usage."""
    if args.resolve:
        if args.email or args.file or args.list or args.statement or args.remove is not None:
            print("--resolve takes no EMAIL and no other option", file=sys.stderr)
            return 2
        resolved = app.library.resolve_ids()
        print(resolved.headline())
        for error in resolved.errors[:20]:
            print(f"  {error}", file=sys.stderr)
        return 0
    actions = [a for a in (args.file, args.list or None, args.statement, args.remove)
               if a is not None]
    if not args.email or len(actions) != 1:
        print("give one of FILE, --list, --statement TEXT or --remove ID after EMAIL, "
              "or --resolve alone", file=sys.stderr)
        return 2
    try:
        if args.file is not None:
            try:
                data = args.file.read_bytes()
            except OSError as err:
                print(f"cannot read {args.file}: {err.strerror}", file=sys.stderr)
                return 2
            print(app.library.load(args.email, data, append=args.append).headline())
        elif args.statement is not None:
            app.library.set_statement(args.email, args.statement)
            print("statement saved")
        elif args.remove is not None:
            if not app.library.remove(args.email, args.remove):
                print(f"{args.email} has no seed {args.remove}", file=sys.stderr)
                return 1
            print(f"seed {args.remove} removed")
        else:
            _print_seeds(app, args.email)
    except LookupError as err:
        print(err.args[0], file=sys.stderr)
        return 1
    except LibraryError as err:
        print(f"{args.file or 'statement'}: {err}", file=sys.stderr)
        return 1
    return 0


def _print_seeds(app: App, email: str) -> None:
    seeds = app.library.seeds(email)
    for seed in seeds:
        ids = " ".join(x for x in (seed.arxiv_id and f"arXiv:{seed.arxiv_id}",
                                   seed.doi and f"doi:{seed.doi}") if x)
        text = seed.title or (seed.abstract if seed.kind == "statement" else "(not resolved yet)")
        label = "statement: " if seed.kind == "statement" else ""
        print(f"{seed.id:6} {label}{text[:90]}" + (f"  [{ids}]" if ids else ""))
    print(f"{len(seeds)} seeds")
