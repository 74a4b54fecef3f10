"""Does ``contribution()`` quote what a paper contributes? Share of abstracts where it does.

    python -m bench.sentence_roles [--relevance DIR] [--scholar-inbox PATH] [--show]

Our set (tests/data/sentence_roles.jsonl, labelled by hand from the repo's feeds): a hit is
a chosen sentence labelled method or result; abstracts whose sentences all have one role
cannot separate the pickers and are counted too (every picker hits or misses them alike).
The relevance set (tests/data/sentence_roles_relevance.jsonl: ids and one role a sentence,
labelled by hand over every 747th paper of ../shared/relevance/papers.jsonl.gz, read there in
place): the same count; labelled after the weights were set, and not tuned on since.
The Scholar Inbox set (``abstract_sentences.csv`` of avg-dev/scholar_inbox_datasets; no
licence, so it is read from where you put it and never copied here): a hit is a chosen
sentence whose characters overlap an ``idea`` or ``result`` span. The cue weights were tuned
on our set only; Scholar Inbox had one sanity look and is the held-out figure.

Baselines in the same run: the first sentence, the last sentence, the rule
``paper_summary`` used before issue 11 (the first "we propose/…/this paper" sentence, else
the first), and a sentence drawn at random (its expected rate). Scholar Inbox labels at most
one span of each kind an abstract, so many contribution sentences carry no span; the line
"of picks on a span" is the share of picks touching any span that touch idea or result.
Its 58 spans with an empty arxiv_id (offsets beyond their abstract) are left out.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from digest_mailer.briefing.sentences import contribution, split

ROOT = Path(__file__).resolve().parent.parent
OURS = ROOT / "tests" / "data" / "sentence_roles.jsonl"
RELEVANCE_LABELS = ROOT / "tests" / "data" / "sentence_roles_relevance.jsonl"
RELEVANCE = ROOT.parent / "shared" / "relevance"
CONTRIBUTION = frozenset({"method", "result"})
_OLD_KEY = re.compile(r"\b(?:we (?:propose|introduce|present|develop|show)|this (?:paper|work)"
                      r"|in this (?:paper|work)|here we)\b", re.I)

Picker = Callable[[str], str]


def _old_rule(abstract: str) -> str:
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(abstract.split()))
    return next((s for s in sentences if _OLD_KEY.search(s)), sentences[0] if sentences else "")


PICKERS: dict[str, Picker] = {
    "contribution()": contribution,
    "first sentence": lambda a: (split(a) or [""])[0],
    "last sentence": lambda a: (split(a) or [""])[-1],
    "old paper_summary rule": _old_rule,
}


def load_ours(path: Path = OURS) -> list[tuple[str, list[tuple[str, str]]]]:
    """(abstract, [(role, first 40 chars)]) for each labelled abstract, its text from the feed."""
    from digest_mailer.ingest import parse_feed

    root = path.parent.parent.parent
    abstracts: dict[tuple[str, str], str] = {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for source in {row["source"] for row in rows}:
        for entry in parse_feed((root / source).read_bytes()).entries:
            abstracts[(source, entry.key)] = entry.abstract
    return [(abstracts[(r["source"], r["key"])], [tuple(s) for s in r["sentences"]])
            for r in rows]


def load_relevance(directory: Path = RELEVANCE) -> list[tuple[str, list[tuple[str, str]]]]:
    """Like load_ours, for the labelled ids of the relevance corpus (its text read in place).
    Labels go by sentence index, so a split that changes a count fails loudly here."""
    import gzip

    rows = map(json.loads, RELEVANCE_LABELS.read_text(encoding="utf-8").splitlines())
    wanted: dict[str, list[str]] = {row["id"]: row["roles"] for row in rows}
    found: dict[str, str] = {}
    with gzip.open(directory / "papers.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            paper = json.loads(line)
            if paper["id"] in wanted:
                found[paper["id"]] = paper["abstract"]
    out = []
    for key, labels in wanted.items():
        sentences = split(found[key])
        if len(sentences) != len(labels):
            raise ValueError(f"{key}: {len(sentences)} sentences, {len(labels)} labels")
        pairs = zip(labels, sentences, strict=True)
        out.append((found[key], [(role, sentence[:40]) for role, sentence in pairs]))
    return out


def role_of(chosen: str, labelled: list[tuple[str, str]]) -> str | None:
    """The label of the sentence ``chosen`` starts like (a picker may split differently)."""
    chosen = " ".join(chosen.split())
    return next((role for role, head in labelled if chosen.startswith(head)
                 or head.startswith(chosen[:40])), None)


def rate_ours(picker: Picker | None, data: list[tuple[str, list[tuple[str, str]]]]) -> float:
    """Share of abstracts where the pick is a contribution; ``None``: a random sentence's."""
    if picker is None:
        return sum(sum(r in CONTRIBUTION for r, _ in lab) / len(lab) for _, lab in data) / len(data)
    hits = sum(role_of(picker(a), labelled) in CONTRIBUTION for a, labelled in data)
    return hits / len(data)


Spans = list[tuple[str, int, int]]  # (label, start, end) in the raw abstract


def load_scholar_inbox(path: Path) -> list[tuple[str, Spans]]:
    """(abstract, its labelled spans) per abstract."""
    spans: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    texts: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["arxiv_id"]:
                texts[row["arxiv_id"]] = row["abstract"]
                spans[row["arxiv_id"]].append(
                    (row["label"], int(row["start_idx"]), int(row["end_idx"])))
    return [(texts[key], spans[key]) for key in sorted(texts)]


def _raw_span(abstract: str, chosen: str) -> tuple[int, int] | None:
    """Where ``chosen`` (whitespace collapsed) lies in the raw abstract."""
    words = chosen.split()
    if not words:
        return None
    match = re.search(r"\s+".join(map(re.escape, words)), abstract)
    return match.span() if match else None


def _labels(abstract: str, sentence: str, spans: Spans) -> set[str]:
    at = _raw_span(abstract, sentence)
    return {label for label, s, e in spans if at and s < at[1] and at[0] < e}


def rate_scholar_inbox(picker: Picker | None, data: list[tuple[str, Spans]],
                       on_span: bool = False) -> float:
    """Share of abstracts whose pick touches an idea or result span (``None``: a random
    sentence's expected share); ``on_span``: of the picks that touch any span."""
    hits = total = 0.0
    for abstract, spans in data:
        picks = split(abstract) if picker is None else [picker(abstract)]
        labels = [_labels(abstract, s, spans) for s in picks]
        if on_span:
            labels = [lab for lab in labels if lab]
            if not labels:
                continue
        hits += sum(bool(lab & {"idea", "result"}) for lab in labels) / max(1, len(labels))
        total += 1
    return hits / total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relevance", type=Path, default=RELEVANCE,
                        help="the relevance corpus directory (skipped when absent)")
    parser.add_argument("--scholar-inbox", type=Path, help="abstract_sentences.csv")
    parser.add_argument("--show", action="store_true", help="print each miss on our set")
    args = parser.parse_args(argv)
    ours = load_ours()
    sets = [(f"ours ({len(ours)} abstracts, tuned on)", lambda p: rate_ours(p, ours))]
    if (args.relevance / "papers.jsonl.gz").exists():
        relevance = load_relevance(args.relevance)
        sets.append((f"relevance corpus ({len(relevance)} abstracts, held out)",
                     lambda p: rate_ours(p, relevance)))
    if args.scholar_inbox:
        inbox = load_scholar_inbox(args.scholar_inbox)
        sets.append((f"Scholar Inbox ({len(inbox)} abstracts, held out)",
                     lambda p: rate_scholar_inbox(p, inbox)))
        sets.append(("Scholar Inbox, of picks on a span",
                     lambda p: rate_scholar_inbox(p, inbox, on_span=True)))
    pickers: dict[str, Picker | None] = {**PICKERS, "random sentence": None}
    for title, rate in sets:
        print(title)
        for name, picker in pickers.items():
            print(f"  {name:<24} {rate(picker):6.1%}")
    if args.show:
        for abstract, labelled in ours:
            chosen = contribution(abstract)
            if role_of(chosen, labelled) not in CONTRIBUTION:
                print(f"MISS [{role_of(chosen, labelled)}] {chosen[:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
