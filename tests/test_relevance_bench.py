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



def test_zotero_weights_the_newest_seed_most_and_finds_the_papers(few_days) -> None:
    import numpy as np
    from relevance import Days, evaluate
    from relevance_data import fit_features
    from relevance_rankers import ListingRanker, ZoteroRanker

    corpus, readers = few_days
    matrix = fit_features(corpus, "content")
    zotero = ZoteroRanker(corpus, matrix, "content")
    reader = max(readers, key=lambda r: len(r.seeds))
    rows = [corpus.row[s] for s in reader.seeds]
    w = zotero.weights(reader)
    # zotero-arxiv-daily: rank 0 (the newest) weighs 1, rank k 1/(1+log10(k+1)), normalised.
    decay = 1 / (1 + np.log10(np.arange(len(rows)) + 1))
    expected = np.asarray(matrix[rows[::-1]].T @ (decay / decay.sum())).ravel()
    assert np.allclose(w, expected, atol=1e-6)
    plain_mean = np.asarray(matrix[rows].mean(axis=0)).ravel()
    assert not np.allclose(w, plain_mean, atol=1e-6)  # the order matters: it is not the mean
    days = Days(corpus)
    ours, _ = evaluate(zotero, readers, days)
    listing, _ = evaluate(ListingRanker(), readers, days)
    assert ours[0] > 0.2 > listing[0]


def test_feedback_votes_on_the_shown_papers_and_refits(few_days) -> None:
    import numpy as np
    from relevance import Days
    from relevance_data import fit_features
    from relevance_feedback import LESS_VOTES, SHOWN, simulate
    from relevance_model import ModelRanker
    from relevance_rankers import order_by

    corpus, readers = few_days
    days = Days(corpus)
    model = ModelRanker(corpus, fit_features(corpus, "content"), "content", keep=True)
    reader = max(readers, key=lambda r: len(days.relevant_by_day(r)))
    relevant = days.relevant_by_day(reader)
    assert len(relevant) >= 4, "the slice has no reader with four relevant days"
    run = simulate(model, reader, relevant, days.test_days, days=3)
    assert run.days == sorted(relevant)[:4] and len(run.scores) == 4
    # Day 1 is the seeds-only model: the one the main evaluation kept.
    first = days.test_days[run.days[0]][1]
    order = order_by(model.models[reader.name].score(model.day_matrices[run.days[0]]))
    shown_relevant = {p for p, _ in relevant[run.days[0]]} & set(order[:SHOWN].tolist())
    assert run.less == 3 * LESS_VOTES
    assert run.more >= len(shown_relevant) >= 1
    assert all(0 <= s <= 1 for day in run.scores for s in day)
    assert len(first) > SHOWN
    # The votes really reach the refit model: "more" papers are positives now.
    voted = model.fit(reader, model.signals(reader.seeds, np.array([first[i] for i in
                                                                     shown_relevant])))
    assert voted.positives == len(reader.seeds) + len(shown_relevant)



def watch_libraries(corpus, model) -> tuple[str, set[str], list[str]]:
    """An inner cutoff halfway through the training days, the test dates, and the dates of
    every library ``model`` is fitted on from now on (a tuning must see only earlier ones)."""
    train_dates = [d for d, _ in corpus.days if d < "2026-01-01"]
    seen: list[str] = []
    original = model.signals

    def watching(seeds, *args):
        seen.extend(corpus.papers[corpus.row[s]].date for s in seeds)
        return original(seeds, *args)

    model.signals = watching
    return train_dates[len(train_dates) // 2], {d for d, _ in corpus.test_days}, seen


def test_the_category_prior_is_tuned_on_training_days_only(few_days) -> None:
    from relevance_data import fit_features
    from relevance_model import ModelRanker, PriorRanker
    from relevance_prior import GRID, choose, tune

    corpus, readers = few_days
    model = ModelRanker(corpus, fit_features(corpus, "content"), "content", keep=True)
    inner, tested, seen = watch_libraries(corpus, model)
    tuned = tune(corpus, model, {"curated": readers, "authors": readers}, inner)
    assert seen and max(seen) < inner and not tested & set(seen)
    used, values = tuned["curated"]
    assert used >= 1 and len(values) == len(GRID)
    assert all(0 <= v <= 1 for v in values)
    prior = choose(tuned)
    assert prior in GRID[1:]
    boosted = PriorRanker(model, prior).model(readers[0])
    assert boosted.categories and boosted.categories[0][1] <= prior


def test_scoring_at_scale_runs_in_its_own_process(few_days) -> None:
    from relevance_data import fit_features
    from relevance_model import ModelRanker
    from relevance_scale import measure, send_batch_size

    corpus, readers = few_days
    model = ModelRanker(corpus, fit_features(corpus, "content"), "content")
    models = [model.model(r) for r in readers[:3]]
    figures = measure(models, model.day_matrices[0], readers=1_000, batch=300)
    assert figures["readers"] == 1_000 and figures["models"] == 3
    assert 0 < figures["ms_per_digest"] < 100
    assert 50 < figures["peak_rss_mb"] < 2_000
    assert figures["weights_bytes"] == models[0].weights.nbytes + 8
    assert figures["papers"] == model.day_matrices[0].shape[0]
    assert send_batch_size() == 500


def test_dense_is_optional_and_says_how_to_get_it(monkeypatch) -> None:
    from relevance_dense import load_model

    monkeypatch.setitem(sys.modules, "wordllama", None)  # as if it were not installed
    with pytest.raises(SystemExit, match="pip install wordllama"):
        load_model()


def test_the_dense_blend_is_tuned_on_training_days_only(few_days) -> None:
    import numpy as np
    from relevance import Days, evaluate
    from relevance_data import fit_features
    from relevance_dense import GRID, BlendRanker, centred, tune
    from relevance_model import ModelRanker

    corpus, readers = few_days
    # Any dense rows will do: the tuning and the blend are under test, not wordllama (an
    # optional extra CI does not install), so a random projection of the TF-IDF rows.
    tfidf = fit_features(corpus, "content")
    projected = np.asarray(tfidf @ np.random.default_rng(0).normal(
        size=(tfidf.shape[1], 64)).astype(np.float32))
    projected /= np.linalg.norm(projected, axis=1, keepdims=True) + 1e-12
    shifted = centred(corpus, projected)
    assert np.allclose(np.linalg.norm(shifted, axis=1), 1.0, atol=1e-4)
    model = ModelRanker(corpus, tfidf, "content", keep=True)
    inner, tested, seen = watch_libraries(corpus, model)
    tuned = tune(corpus, model, shifted, {"curated": readers, "authors": readers}, inner)
    assert seen and max(seen) < inner and not tested & set(seen)
    used, values = tuned["curated"]
    assert used >= 1 and len(values) == len(GRID) and all(0 <= v <= 1 for v in values)
    del model.signals  # the class's own again
    # Weight 0 is the model itself; a large weight is (nearly) the dense cosine alone.
    days = Days(corpus)
    plain, _ = evaluate(model, readers, days)
    assert evaluate(BlendRanker(model, shifted, 0.0), readers, days)[0] == plain
    reader = readers[0]
    day, rows = 0, corpus.test_days[0][1]
    heavy = BlendRanker(model, shifted, 1e6).for_reader(reader)(day, rows)
    seeds = [corpus.row[s] for s in reader.seeds]
    cosine = shifted[rows] @ shifted[seeds].mean(axis=0)
    assert heavy[0] == int(np.argmax(cosine))
