"""The relevance bench's metrics on hand-made rankings, and one run on a few real days."""

from __future__ import annotations

import math
import sys

import pytest
from conftest import RELEVANCE, REPO, relevance_corpus, require

sys.path.insert(0, str(REPO / "bench"))

from relevance_metrics import day_scores, macro, ndcg_at, recall_at, reciprocal_rank


def test_one_relevant_paper_at_rank_two() -> None:
    ranked = [0, 1] + [0] * 30
    assert ndcg_at(ranked) == pytest.approx(1 / math.log2(3))
    assert recall_at(ranked) == 1.0
    assert reciprocal_rank(ranked) == 0.5


def test_graded_gains_are_two_to_the_grade_minus_one() -> None:
    # A co-author's paper (1) above the reader's own (2): DCG 1 + 3/log2(3), ideal 3 + 1/log2(3).
    ranked = [1, 2, 0, 0]
    assert ndcg_at(ranked) == pytest.approx((1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3)))
    assert ndcg_at([2, 1, 0, 0]) == pytest.approx(1.0)


def test_only_the_top_counts() -> None:
    ranked = [1] + [0] * 19 + [1] + [0] * 9  # relevant at ranks 1 and 21
    assert recall_at(ranked) == 0.5
    assert reciprocal_rank(ranked) == 1.0
    late = [0] * 10 + [1]  # the one relevant paper at rank 11: outside nDCG@10
    assert day_scores(late) == pytest.approx((0.0, 1.0, 1 / 11))
    assert day_scores([0, 0, 0]) == (0.0, 0.0, 0.0)


def test_macro_averages_readers_not_days() -> None:
    two_days = [(1.0, 1.0, 1.0), (0.0, 0.0, 0.0)]
    one_day = [(1.0, 1.0, 1.0)]
    assert macro([two_days, one_day]) == pytest.approx((0.75, 0.75, 0.75))
    assert macro([]) == (0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def few_days():
    """The corpus cut to its last 20 training days and first 8 test days (read in place)."""
    corpus, train, test = relevance_corpus(20, 8)
    import numpy as np
    from relevance_data import Corpus, load_readers

    papers = [corpus.papers[r] for _, rows in train + test for r in rows]
    row = {p.key: i for i, p in enumerate(papers)}
    days = [(d, np.array([row[corpus.papers[r].key] for r in rows])) for d, rows in train + test]
    small = Corpus(corpus.root, papers, row, days)
    readers = []
    for reader in load_readers(RELEVANCE, "curated"):
        seeds = tuple(s for s in reader.seeds if s in row)
        if seeds:
            readers.append(type(reader)(reader.name, seeds, reader.relevant, reader.topic))
    return small, readers


def test_a_few_real_days_rank_as_the_readme_says(few_days) -> None:
    from relevance import Days, evaluate
    from relevance_data import fit_features
    from relevance_rankers import ListingRanker, MeanRanker
    from relevance_today import TodayRanker

    corpus, readers = few_days
    days = Days(corpus)
    reader_days = sum(len(days.relevant_by_day(r)) for r in readers)
    assert reader_days >= 5, "too few reader-days in the slice to say anything"
    matrix = fit_features(corpus, "content")
    listing, _ = evaluate(ListingRanker(), readers, days)
    mean, _ = evaluate(MeanRanker(corpus, matrix, "content"), readers, days)
    today, _ = evaluate(TodayRanker(corpus), readers, days)
    for scores in (listing, mean, today):
        assert all(0.0 <= s <= 1.0 for s in scores)
    # The README: listing order finds almost nothing, TF-IDF to the seeds most of it.
    assert listing[0] < 0.2 < mean[0]
    assert mean[1] > listing[1]


def test_today_ranks_the_whole_day_with_the_products_selection_first(few_days) -> None:
    from relevance_today import TodayRanker, profile_of

    from digest_mailer.domain.select import SelectionIndex

    corpus, readers = few_days
    ranker = TodayRanker(corpus)
    reader = readers[0]
    day, (_, rows) = next((n, d) for n, d in enumerate(corpus.test_days))
    order = ranker.for_reader(reader)(day, rows)
    assert sorted(order.tolist()) == list(range(len(rows)))
    chosen = SelectionIndex([corpus.papers[r] for r in rows]).select(
        profile_of(corpus, reader), max_per_category=ranker.max_per_category,
        max_papers=ranker.max_papers).keys
    assert 0 < len(chosen) <= ranker.max_papers
    assert [corpus.papers[rows[i]].key for i in order[:len(chosen)]] == chosen
    rest = order[len(chosen):].tolist()
    assert rest == sorted(rest)  # what the product leaves out follows in listing order


def test_the_readme_figures_are_read_for_the_published_column() -> None:
    require(RELEVANCE.is_dir(), f"{RELEVANCE} is absent (it sits beside the repo)")
    from relevance import published_figures

    published = published_figures(RELEVANCE)
    assert published[("curated", "svm", "content")] == ("0.749", "0.974", "0.714", "1.2 s")
    assert published[("authors", "svm", "authors")][0] == "0.374"
    assert published[("authors", "listing", "–")][:3] == ("0.009", "0.041", "0.017")
    assert len(published) == 12

