"""The CLI's examples, one list per command, shown under "examples:" in its ``--help``.

Kept apart from the parser so cli.py reads as the list of commands and their options.
A command without examples here fails tests/test_cli_start.py.
"""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("digest-mailer demo", "digest-mailer feeds list", "digest-mailer send --dry-run",
         "digest-mailer COMMAND --help"),
    "demo": ("digest-mailer demo", "DIGEST_VAR_DIR=/tmp/demo digest-mailer demo"),
    "feeds": ("digest-mailer feeds list", "digest-mailer feeds fetch --due"),
    "feeds add": ('digest-mailer feeds add https://rss.arxiv.org/rss/cs.CV '
                  '--label "arXiv (cs.CV)" --category cs.CV',
                  "digest-mailer feeds add https://connect.biorxiv.org/biorxiv_xml/bioinformatics "
                  '--label "bioRxiv (bioinformatics)" --category bioinformatics --kind rss'),
    "feeds list": ("digest-mailer feeds list",),
    "feeds fetch": ("digest-mailer feeds fetch", "digest-mailer feeds fetch --due"),
    "feeds edit": ('digest-mailer feeds edit 3 --label "arXiv (Computer Vision)"',
                   "digest-mailer feeds edit https://rss.arxiv.org/rss/cs.CV --category cs.CV"),
    "feeds disable": ("digest-mailer feeds disable 3",),
    "feeds enable": ("digest-mailer feeds enable 3",),
    "feeds remove": ("digest-mailer feeds remove https://rss.arxiv.org/rss/cs.CV",),
    "feeds history": ("digest-mailer feeds history 3", "digest-mailer feeds history 3 --limit 5"),
    "subscribers": ("digest-mailer subscribers list",
                    "digest-mailer subscribers import people.csv --dry-run"),
    "subscribers import": ("digest-mailer subscribers import people.csv --dry-run",
                           "digest-mailer subscribers import people.csv --skip-invalid",
                           "digest-mailer subscribers import people.csv --resubscribe -q"),
    "subscribers export": ("digest-mailer subscribers export backup.csv",
                           "digest-mailer subscribers export - | head"),
    "subscribers list": ("digest-mailer subscribers list",),
    "subscribers add": ('digest-mailer subscribers add ada@example.org --name "Ada" '
                        '--categories "cs.CV|cs.LG"',
                        "digest-mailer subscribers add ada@example.org --send-hour 6"),
    "subscribers library": ("digest-mailer subscribers library ada@example.org papers.bib",
                            "digest-mailer subscribers library ada@example.org more.ris --append",
                            "digest-mailer subscribers library ada@example.org --list",
                            'digest-mailer subscribers library ada@example.org '
                            '--statement "video diffusion models"',
                            "digest-mailer subscribers library --resolve"),
    "send": ("digest-mailer send --dry-run", "digest-mailer send --dry-run --json",
             "digest-mailer send",
             "digest-mailer send --subscriber ada@example.org --date 2026-11-24"),
    "preview": ("digest-mailer preview ada@example.org --out today.html",
                "digest-mailer preview ada@example.org --json --date 2026-11-24"),
    "runs": ("digest-mailer runs", "digest-mailer runs --since 2026-11-01"),
    "tick": ("digest-mailer tick",),
    "replies": ("DIGEST_IMAP_HOST=imap.example.org digest-mailer replies",),
    "web": ("digest-mailer web", "digest-mailer web --host 0.0.0.0 --port 8080"),
    "db": ("digest-mailer db current", "digest-mailer db upgrade"),
    "db upgrade": ("DIGEST_DATABASE_URL=postgresql://digest@db/digest digest-mailer db upgrade",),
    "db current": ("digest-mailer db current",),
}


def examples(command: str) -> str | None:
    """The "examples:" block of a command ("feeds add"; "" for the top level), or None."""
    shown = EXAMPLES.get(command)
    return None if shown is None else "examples:\n" + "\n".join(f"  {x}" for x in shown)
