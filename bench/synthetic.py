"""A synthetic morning for the benchmark: entries in the seeds' style and many subscribers.

Titles and abstracts are recombined from the bundled demo feeds (written from the seeds),
so lengths, vocabulary and markup look like a real arXiv day. Deterministic per seed.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

from digest_mailer.domain.digest import ParsedEntry
from digest_mailer.ingest import parse_feed

DEMO_FEEDS = Path(__file__).resolve().parent.parent / "demo" / "feeds"
CATEGORIES = ("cs.CV", "cs.AI", "cs.CL", "cs.LG", "math.PR", "quant-ph", "bioinformatics",
              "stat.ML", "cs.RO", "cs.IR", "math.OC", "genomics")
KEYWORDS = ("diffusion", "transformer", "large language model", "reinforcement learning",
            "graph neural network", "random walk", "entanglement", "protein", "retrieval",
            "gaussian splatting", "benchmark", "agent", "single-cell", "optimal transport",
            "contrastive learning", "quantum error correction", "federated learning",
            "segmentation", "active learning", "causal inference")
ZONES = ("UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles",
         "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "America/Sao_Paulo")


def seed_papers() -> list[ParsedEntry]:
    papers: dict[str, ParsedEntry] = {}
    for path in sorted(DEMO_FEEDS.glob("*.xml")):
        for entry in parse_feed(path.read_bytes()).entries:
            papers.setdefault(entry.key, entry)
    return list(papers.values())


def make_entries(count: int, rng: random.Random) -> list[ParsedEntry]:
    """``count`` new entries: recombined titles and abstracts, 1–3 of the 12 categories."""
    seeds = seed_papers()
    sentences = [s.strip() + "." for p in seeds for s in p.abstract.split(". ") if len(s) > 40]
    heads = [p.title.split(":")[0] for p in seeds]
    tails = [p.title.split(":", 1)[-1].strip() for p in seeds]
    entries = []
    for i in range(count):
        categories = rng.sample(CATEGORIES, rng.choice((1, 1, 2, 2, 3)))
        title = f"{rng.choice(heads)}: {rng.choice(tails)}"
        if rng.random() < 0.3:
            title += f" for {rng.choice(KEYWORDS).title()}"
        abstract = " ".join(rng.sample(sentences, rng.randint(5, 9)))
        if rng.random() < 0.3:
            abstract = f"We study {rng.choice(KEYWORDS)}. " + abstract
        base = rng.choice(seeds)
        entries.append(replace(base, key=f"2611.{i:05d}", title=title, abstract=abstract,
                               link=f"https://arxiv.org/abs/2611.{i:05d}",
                               categories=tuple(categories),
                               announce_type=rng.choice(("new",) * 8 + ("cross",) * 2)))
    return entries


def make_subscribers(count: int, rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for i in range(count):
        rows.append({
            "email": f"reader{i:06d}@bench.example.org", "name": f"Reader {i}",
            "categories": rng.sample(CATEGORIES, rng.choice((1, 2, 2, 3))),
            "keywords": rng.sample(KEYWORDS, rng.choice((0, 0, 1, 2, 3))),
            "excluded_keywords": rng.sample(KEYWORDS, 1) if rng.random() < 0.1 else [],
            "timezone": rng.choice(ZONES), "send_hour": 0,
            "language": "zh" if rng.random() < 0.1 else "en",
        })
    return rows
