"""digest-mailer's ranking today, for a reader who has only categories and keywords.

The real code ranks: ``digest_mailer.domain.select.SelectionIndex`` is built once per test
day (as a send batch builds it once for all its subscribers) and each reader's digest is
``index.select(profile, …)`` with the product's default caps. ``TodayModelRanker`` is the send path
since issue 10 for the same reader: its keywords become a reader model (the product's own
``TextModel`` fitted on the newest training papers, as the send path fits it on the newest
stored entries), whose scores rank the papers after the keyword hits. The digest's papers
come in the order the email shows them (group by group, ranked inside); the papers it would not
show follow in listing order, so every method ranks the whole day.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from relevance_data import Corpus, Reader
from relevance_rankers import DayOrder

from digest_mailer.domain.select import Profile, SelectionIndex
from digest_mailer.services.ranking import RankingConfig, paper_text
from digest_mailer.settings import Settings

# A reader subscribes to the primary categories that hold most of their own papers: the
# most common first, until they hold this share of the seeds, and rarely more than three.
CATEGORY_SHARE = 0.8
MAX_CATEGORIES = 3

# What a reader would type from each curated list's topic: its noun phrases and the field's
# usual abbreviation. The product ORs keywords, so generic words of a topic ("models",
# "generation", "agents", "robotics") and the application after "for" are left out: alone
# they would match half a day. Author readers have no topic, so no keywords.
KEYWORDS: dict[str, tuple[str, ...]] = {
    # video diffusion models: generation and editing
    "showlab/Awesome-Video-Diffusion": ("video diffusion", "video generation", "video editing"),
    # multimodal large language models
    "BradyFU/Awesome-Multimodal-Large-Language-Models": (
        "multimodal large language model", "multimodal LLM", "MLLM"),
    # world models for autonomous driving and robotics
    "LMD0311/Awesome-World-Model": ("world model",),
    # diffusion models for image generation and editing
    "wangkai930418/awesome-diffusion-categorized": (
        "diffusion model", "image generation", "image editing"),
    # diffusion language models
    "VILA-Lab/Awesome-DLMs": ("diffusion language model", "diffusion LLM", "DLM"),
    # long-context modelling in LLMs ("long context" also matches "long-context")
    "Xnhyacinth/Awesome-LLM-Long-Context-Modeling": ("long context",),
    # text-to-3D and 3D generation
    "yyeboah/Awesome-Text-to-3D": ("text-to-3D", "3D generation"),
    # deep-research agents (LLM search and report writing)
    "DavidZWZ/Awesome-Deep-Research": ("deep research", "research agent", "report writing"),
    # 3D scene generation
    "hzxie/Awesome-3D-Scene-Generation": ("3D scene generation",),
    # embodied AI: vision-language-action models and navigation
    "jonyzhang2023/awesome-embodied-vla-va-vln": (
        "embodied", "vision-language-action", "VLA", "vision-language navigation"),
    # speculative decoding for LLM inference
    "hemingkx/SpeculativeDecodingPapers": ("speculative decoding",),
    # memory for LLM agents
    "Shichun-Liu/Agent-Memory-Paper-List": ("agent memory", "memory for LLM agents"),
}


def categories_of(corpus: Corpus, reader: Reader) -> tuple[str, ...]:
    counts = Counter(corpus.papers[corpus.row[s]].categories[0] for s in reader.seeds)
    chosen: list[str] = []
    covered = 0
    for category, count in counts.most_common():
        if covered >= CATEGORY_SHARE * len(reader.seeds) or len(chosen) == MAX_CATEGORIES:
            break
        chosen.append(category)
        covered += count
    return tuple(chosen)


def profile_of(corpus: Corpus, reader: Reader) -> Profile:
    return Profile(categories=categories_of(corpus, reader),
                   keywords=KEYWORDS.get(reader.name, ()))


class TodayRanker:
    name, text = "digest-mailer today", "–"

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        defaults = Settings.model_fields
        self.max_per_category = int(defaults["max_per_category"].default)
        self.max_papers = int(defaults["max_papers"].default)
        self._days: dict[int, tuple[SelectionIndex, dict[str, int]]] = {}

    def index(self, day: int, rows: np.ndarray) -> tuple[SelectionIndex, dict[str, int]]:
        """The day's index, built once for every reader, and each paper's listing position."""
        found = self._days.get(day)
        if found is None:
            papers = [self.corpus.papers[r] for r in rows]
            found = SelectionIndex(papers), {p.key: i for i, p in enumerate(papers)}
            self._days[day] = found
        return found

    def for_reader(self, reader: Reader) -> DayOrder:
        profile = profile_of(self.corpus, reader)

        def order(day: int, rows: np.ndarray) -> np.ndarray:
            index, position = self.index(day, rows)
            selection = index.select(
                profile, max_per_category=self.max_per_category, max_papers=self.max_papers)
            shown = [position[k] for k in selection.keys]
            rest = np.setdiff1d(np.arange(len(rows)), shown)  # sorted: listing order
            return np.concatenate([np.array(shown, dtype=np.int64), rest])

        return order


class TodayModelRanker(TodayRanker):
    """The same profile through today's send path: keywords also make a reader model."""

    name = "today + keyword model"

    def __init__(self, corpus: Corpus) -> None:
        from digest_mailer.domain.ranking import TextModel

        super().__init__(corpus)
        newest = corpus.train_rows[-RankingConfig.window_limit:]
        train = [paper_text(corpus.papers[r].title, corpus.papers[r].abstract) for r in newest]
        self.text_model = TextModel.fit(train)
        self.window = self.text_model.vectors(train)
        self._vectors: dict[int, object] = {}  # each day's index rows, for every reader

    def for_reader(self, reader: Reader) -> DayOrder:
        from digest_mailer.domain.ranking import fit_reader, signals_from_texts

        profile = profile_of(self.corpus, reader)
        if not profile.keywords:  # no signal, no model: the send path ranks as before
            return super().for_reader(reader)
        signals = signals_from_texts(self.text_model, keywords=profile.keywords)
        model = fit_reader(signals, self.window)

        def order(day: int, rows: np.ndarray) -> np.ndarray:
            index, position = self.index(day, rows)
            vectors = self._vectors.get(day)
            if vectors is None:
                vectors = self._vectors[day] = self.text_model.vectors(
                    [paper_text(e.title, e.abstract) for e in index.entries])
            # No exploration slots: they trade today's ranking for tomorrow's votes.
            selection = index.select(
                profile, max_per_category=self.max_per_category, max_papers=self.max_papers,
                scores=model.score(vectors), explore=0)
            shown = [position[k] for k in selection.keys]
            rest = np.setdiff1d(np.arange(len(rows)), shown)
            return np.concatenate([np.array(shown, dtype=np.int64), rest])

        return order
