"""The kinds of source, by name: what `feeds add --kind` offers without loading a parser
(ingest/parsers.py maps each to its parser; tests/test_ingest_kinds.py keeps them equal)."""

KINDS = ("rss", "atom")
DEFAULT_KIND = "rss"  # what every source was before kinds existed (migration 0004)
