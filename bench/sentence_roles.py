"""How often the quoted sentence is a contribution sentence: `python bench/sentence_roles.py
[--scholar-inbox abstract_sentences.csv]`.

Our labelled set (tests/data/sentence_roles.json: 43 abstracts of the repo's demo feeds,
found there by file and key, each sentence labelled by hand as background, problem, method,
result or other) and, when
given, the Scholar Inbox datasets' `abstract_sentences.csv` (2,538 spans over 710 arXiv
abstracts labelled problem / task / idea / result; its repository states no licence, so it
is not in this repo: `git show` it from github.com/avg-dev/scholar_inbox_datasets). A pick
counts when it is a method or result sentence (ours) or overlaps an idea or result span
(Scholar Inbox). Baselines in the same run: the first sentence, the last one, the old LLM
summary rule and the old extractive quote rule. The rules were written on our set; the
Scholar Inbox figure is held out. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digest_mailer.briefing.sentences import contribution, split

LABELLED = Path(__file__).resolve().parent.parent / "tests" / "data" / "sentence_roles.json"
CONTRIBUTION = {"method", "result"}
_OLD_SUMMARY = re.compile(r"\b(?:we (?:propose|introduce|present|develop|show)|this (?:paper|"
                          r"work)|in this (?:paper|work)|here we)\b", re.I)
_OLD_CUE = re.compile(r"\b(?:we (?:show|prove|propose|introduce|find|demonstrate|establish|"
                      r"obtain)|our (?:method|model|results?|approach))\b", re.I)


def first(abstract: str) -> str:
    return split(abstract)[0] if split(abstract) else ""


def last(abstract: str) -> str:
    return split(abstract)[-1] if split(abstract) else ""


def old_summary(abstract: str) -> str:
    """briefing/llm.py before: the first "we propose…"-like sentence, else the first."""
    return next((s for s in split(abstract) if _OLD_SUMMARY.search(s)), first(abstract))


def old_quote(abstract: str) -> str:
    """briefing/extractive.py before: readable length, then a "we show"-like cue, earliest."""
    ranked = sorted(enumerate(split(abstract)),
                    key=lambda p: (-(40 <= len(p[1]) <= 240), -bool(_OLD_CUE.search(p[1])), p[0]))
    return ranked[0][1] if ranked else ""


PICKERS: dict[str, Callable[[str], str]] = {
    "contribution()": contribution, "first sentence": first, "last sentence": last,
    "old LLM summary rule": old_summary, "old extractive quote": old_quote}


def ours() -> list[tuple[str, set[str]]]:
    """(abstract, its contribution sentences) from our labelled set."""
    from digest_mailer.ingest import parse_feed

    repo = LABELLED.parent.parent.parent
    abstracts: dict[tuple[str, str], str] = {}
    items = []
    for item in json.loads(LABELLED.read_text(encoding="utf-8")):
        if not any(f == item["file"] for f, _ in abstracts):
            for entry in parse_feed((repo / item["file"]).read_bytes()).entries:
                abstracts[(item["file"], entry.key)] = entry.abstract
        abstract = abstracts[(item["file"], item["key"])]
        sentences = split(abstract)
        if len(sentences) != len(item["roles"]):
            raise ValueError(f"{item['key']}: {len(sentences)} sentences, "
                             f"{len(item['roles'])} labels")
        items.append((abstract, {s for s, r in zip(sentences, item["roles"], strict=True)
                                 if r in CONTRIBUTION}))
    return items


def scholar_inbox(path: Path) -> list[tuple[str, list[tuple[int, int]]]]:
    """(abstract, its idea/result spans) per abstract of the Scholar Inbox file."""
    spans: dict[str, list[tuple[int, int]]] = {}
    texts: dict[str, str] = {}
    with path.open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            texts[row["arxiv_id"]] = row["abstract"]
            if row["label"] in ("idea", "result"):
                spans.setdefault(row["arxiv_id"], []).append(
                    (int(row["start_idx"]), int(row["end_idx"])))
    return [(texts[k], v) for k, v in spans.items()]


def _overlaps(abstract: str, sentence: str, spans: list[tuple[int, int]]) -> bool:
    """Whether ``sentence`` (whitespace collapsed) overlaps a span of the raw abstract."""
    if not sentence:
        return False
    pattern = r"\s+".join(re.escape(word) for word in sentence.split())
    found = re.search(pattern, abstract)
    return bool(found) and any(a < found.end() and b > found.start() for a, b in spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scholar-inbox", type=Path)
    args = parser.parse_args()
    labelled = ours()
    print(f"our labelled set: {len(labelled)} abstracts (target >= 80%)")
    for name, pick in PICKERS.items():
        hits = sum(pick(a) in good for a, good in labelled)
        print(f"  {name:<22} {hits / len(labelled):6.1%}")
    if args.scholar_inbox:
        held_out = scholar_inbox(args.scholar_inbox)
        print(f"Scholar Inbox, held out: {len(held_out)} abstracts with idea/result spans")
        for name, pick in PICKERS.items():
            hits = sum(_overlaps(a, pick(a), spans) for a, spans in held_out)
            print(f"  {name:<22} {hits / len(held_out):6.1%}")


if __name__ == "__main__":
    main()
