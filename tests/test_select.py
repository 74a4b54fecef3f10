"""SelectionIndex.select: a pure function of a profile and candidate entries (plain dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from digest_mailer.domain.grouping import Selection
from digest_mailer.domain.select import Profile, SelectionIndex, phrase_pattern


@dataclass(frozen=True)
class Paper:
    """Implements the Candidate protocol."""

    key: str
    title: str = "An unremarkable study"
    abstract: str = "We study things."
    categories: list[str] = field(default_factory=lambda: ["cs.LG"])
    announce_type: str = "new"


def pick(profile: Profile, entries: list[Paper], *, max_per_category: int = 10,
         max_papers: int = 40, include_updates: bool = False) -> Selection:
    index = SelectionIndex(entries, include_updates=include_updates)  # as a send batch does
    return index.select(profile, max_per_category=max_per_category, max_papers=max_papers)


def grouped(selection: Selection) -> list[tuple[str, list[str]]]:
    return [(category, [p.key for p in papers]) for category, papers in selection.groups]


# --- exclusions, keywords, phrases ---------------------------------------------------------

def test_exclusion_in_title_wins_over_category_and_keyword() -> None:
    profile = Profile(categories=("cs.LG",), keywords=("diffusion",), excluded=("survey",))
    entries = [
        Paper("a", title="A Survey of Diffusion Models", categories=["cs.LG"]),
        Paper("b", title="Diffusion Models Beat GANs", categories=["cs.LG"]),
    ]
    assert pick(profile, entries).keys == ["b"]


def test_exclusion_in_abstract_wins_over_keyword_only_paper() -> None:
    profile = Profile(categories=("cs.CV",), keywords=("diffusion",), excluded=("survey",))
    entries = [
        Paper("a", title="Diffusion on graphs", abstract="This survey reviews the field.",
              categories=["math.PR"]),
        Paper("b", title="Diffusion on manifolds", categories=["math.PR"]),
    ]
    assert grouped(pick(profile, entries)) == [("math.PR", ["b"])]


def test_exclusion_is_whole_word_and_case_insensitive() -> None:
    profile = Profile(categories=("cs.LG",), excluded=("Survey",))
    entries = [
        Paper("a", title="SURVEY of methods"),
        Paper("b", title="Surveying land with drones"),  # not the whole word
    ]
    assert pick(profile, entries).keys == ["b"]


def test_keywords_are_case_insensitive_and_widen_the_net() -> None:
    profile = Profile(categories=("cs.CV",), keywords=("Diffusion",))
    entries = [
        Paper("a", title="DIFFUSION models for weather", categories=["physics.ao-ph"]),
        Paper("b", title="Unrelated", abstract="no match here", categories=["physics.ao-ph"]),
    ]
    assert grouped(pick(profile, entries)) == [("physics.ao-ph", ["a"])]


@pytest.mark.parametrize("title", [
    "Graph  Neural-Network pretraining",
    "graph neural network",
    "A graph\nneural\tnetwork",
    "graph - neural -- network",
    "Scaling a Graph-Neural-Network",
    "graph neural networks",  # the plural of the last word matches too
])
def test_phrase_matches_across_whitespace_and_hyphens(title: str) -> None:
    assert phrase_pattern("graph neural network").search(title) is not None
    profile = Profile(categories=(), keywords=("graph neural network",))
    assert pick(profile, [Paper("a", title=title, categories=["cs.LG"])]).keys == ["a"]


@pytest.mark.parametrize("title", [
    "graphneural network",
    "graph-based neural network",
    "subgraph neural network",
])
def test_phrase_does_not_match_other_words(title: str) -> None:
    assert phrase_pattern("graph neural network").search(title) is None


@pytest.mark.parametrize("text, matches", [
    ("A GAN for images", True),
    ("(GAN) training", True),
    ("GAN-based synthesis", True),
    ("Organ segmentation", False),
    ("organ transplant", False),
    ("GANs and friends", True),
    ("GANset", False),
    ("Slogan", False),
])
def test_keywords_match_whole_words_only(text: str, matches: bool) -> None:
    profile = Profile(categories=(), keywords=("GAN",))
    entries = [Paper("t", title=text, categories=["cs.CV"]),
               Paper("x", title="nothing", abstract=text, categories=["cs.CV"])]
    assert pick(profile, entries).keys == (["t", "x"] if matches else [])


def test_keyword_with_regex_characters_is_literal() -> None:
    profile = Profile(categories=(), keywords=("C++",))
    entries = [Paper("a", title="Verifying C++ templates", categories=["cs.PL"]),
               Paper("b", title="Cxx and C programs", categories=["cs.PL"])]
    assert pick(profile, entries).keys == ["a"]


# --- grouping ---------------------------------------------------------------------------------

def test_cross_listed_paper_appears_once_under_first_subscriber_category() -> None:
    profile = Profile(categories=("cs.AI", "cs.LG"))
    entries = [Paper("x", categories=["cs.LG", "cs.AI"]),
               Paper("l", categories=["cs.LG"])]
    assert grouped(pick(profile, entries)) == [("cs.AI", ["x"]), ("cs.LG", ["l"])]


def test_cross_listed_paper_follows_subscriber_order_not_feed_order() -> None:
    profile = Profile(categories=("cs.LG", "cs.AI"))
    entries = [Paper("a", categories=["cs.AI"]),
               Paper("x", categories=["cs.AI", "cs.LG"])]
    assert grouped(pick(profile, entries)) == [("cs.LG", ["x"]), ("cs.AI", ["a"])]


def test_group_is_named_with_the_subscriber_spelling() -> None:
    profile = Profile(categories=("CS.lg",))
    selection = pick(profile, [Paper("a", categories=["cs.LG"])])
    assert grouped(selection) == [("CS.lg", ["a"])]


def test_keyword_only_papers_come_after_subscriber_categories() -> None:
    profile = Profile(categories=("cs.CV", "cs.LG"), keywords=("diffusion",))
    entries = [
        Paper("k1", title="Diffusion in random media", categories=["math.PR"]),
        Paper("k2", title="Diffusion of ideas", categories=["physics.soc-ph", "math.PR"]),
        Paper("l", categories=["cs.LG"]),
        Paper("k3", title="Anomalous diffusion", categories=["math.PR"]),
        Paper("v", categories=["cs.CV"]),
        Paper("n", title="No keyword here", categories=["math.PR"]),
    ]
    selection = pick(profile, entries)
    # Subscriber order first; keyword-only groups by primary category, in order of appearance.
    assert grouped(selection) == [
        ("cs.CV", ["v"]),
        ("cs.LG", ["l"]),
        ("math.PR", ["k1", "k3"]),
        ("physics.soc-ph", ["k2"]),
    ]
    assert selection.keys == ["v", "l", "k1", "k3", "k2"]
    assert len(selection) == 5


def test_paper_in_a_subscriber_category_is_not_moved_by_a_keyword() -> None:
    profile = Profile(categories=("cs.CV", "cs.LG"), keywords=("diffusion",))
    entries = [Paper("a", title="Diffusion", categories=["math.PR", "cs.LG"])]
    assert grouped(pick(profile, entries)) == [("cs.LG", ["a"])]


# --- ranking ----------------------------------------------------------------------------------

def test_rank_title_hits_then_abstract_hits_then_none_new_before_cross() -> None:
    profile = Profile(categories=("cs.LG",), keywords=("transformer",))
    entries = [
        Paper("none-new", title="A", abstract="B"),
        Paper("abstract-new", title="A", abstract="a transformer"),
        Paper("title-cross", title="Transformer tricks", announce_type="cross"),
        Paper("title-new", title="The Transformer", abstract="B"),
        Paper("none-cross", title="C", abstract="D", announce_type="cross"),
        Paper("none-new-2", title="E", abstract="F"),
        Paper("abstract-cross", title="G", abstract="Transformers? no: transformer",
              announce_type="cross"),
    ]
    assert pick(profile, entries).keys == [
        "title-new", "title-cross", "abstract-new", "abstract-cross",
        "none-new", "none-new-2", "none-cross",
    ]


def test_more_keyword_hits_rank_higher() -> None:
    profile = Profile(categories=("cs.LG",), keywords=("pruning", "sparsity", "quantization"))
    entries = [
        Paper("one-title", title="Pruning"),                                 # 2
        Paper("three-abstract", abstract="pruning, sparsity, quantization"),  # 3
        Paper("title-and-abstract", title="Sparsity", abstract="pruning"),   # 3
        Paper("two-abstract", abstract="sparsity and quantization"),         # 2
    ]
    assert pick(profile, entries).keys == [
        "three-abstract", "title-and-abstract", "one-title", "two-abstract",
    ]


# --- updates ----------------------------------------------------------------------------------

def test_updates_are_left_out_unless_asked_for() -> None:
    profile = Profile(categories=("cs.LG",), keywords=("agent",))
    entries = [
        Paper("r", title="Agent", announce_type="replace"),
        Paper("rc", title="Agent", announce_type="replace-cross"),
        Paper("n"),
        Paper("c", announce_type="cross"),
    ]
    assert pick(profile, entries).keys == ["n", "c"]
    # Asked for: kept, and a keyword title hit still ranks first; updates count as not new.
    assert pick(profile, entries, include_updates=True).keys == ["r", "rc", "n", "c"]


def test_keyword_only_update_is_left_out() -> None:
    profile = Profile(categories=(), keywords=("agent",))
    entries = [Paper("r", title="Agent", categories=["cs.MA"], announce_type="replace")]
    assert pick(profile, entries).keys == []
    assert pick(profile, entries, include_updates=True).keys == ["r"]


# --- caps -------------------------------------------------------------------------------------

def test_max_per_category_keeps_the_best_ranked() -> None:
    profile = Profile(categories=("cs.LG",), keywords=("bandit",))
    entries = [Paper(f"p{i}") for i in range(5)] + [Paper("hit", title="Bandit")]
    assert pick(profile, entries, max_per_category=3).keys == ["hit", "p0", "p1"]


def test_round_robin_does_not_starve_later_categories() -> None:
    cats = ("cs.CV", "cs.LG", "cs.AI")
    profile = Profile(categories=cats)
    entries = [Paper(f"{c}-{i}", categories=[c]) for c in cats for i in range(10)]
    selection = pick(profile, entries, max_papers=6)
    assert grouped(selection) == [
        ("cs.CV", ["cs.CV-0", "cs.CV-1"]),
        ("cs.LG", ["cs.LG-0", "cs.LG-1"]),
        ("cs.AI", ["cs.AI-0", "cs.AI-1"]),
    ]
    assert len(selection) == 6


def test_round_robin_remainder_goes_to_earlier_categories() -> None:
    cats = ("cs.CV", "cs.LG", "cs.AI")
    profile = Profile(categories=cats)
    entries = [Paper(f"{c}-{i}", categories=[c]) for c in cats for i in range(10)]
    counts = [(c, len(p)) for c, p in pick(profile, entries, max_papers=7).groups]
    assert counts == [("cs.CV", 3), ("cs.LG", 2), ("cs.AI", 2)]


def test_short_category_leaves_room_for_others() -> None:
    profile = Profile(categories=("cs.CV", "cs.LG"))
    entries = [Paper("v0", categories=["cs.CV"])] + [
        Paper(f"l{i}", categories=["cs.LG"]) for i in range(5)]
    assert grouped(pick(profile, entries, max_papers=4)) == [
        ("cs.CV", ["v0"]), ("cs.LG", ["l0", "l1", "l2"])]


def test_both_caps_together() -> None:
    profile = Profile(categories=("cs.CV", "cs.LG"), keywords=("diffusion",))
    entries = ([Paper(f"v{i}", categories=["cs.CV"]) for i in range(5)]
               + [Paper(f"l{i}", categories=["cs.LG"]) for i in range(5)]
               + [Paper(f"k{i}", title="Diffusion", categories=["math.PR"]) for i in range(5)])
    selection = pick(profile, entries, max_per_category=2, max_papers=5)
    assert grouped(selection) == [("cs.CV", ["v0", "v1"]), ("cs.LG", ["l0", "l1"]),
                                  ("math.PR", ["k0"])]
    assert selection.keys == ["v0", "v1", "l0", "l1", "k0"]


def test_zero_max_papers_selects_nothing() -> None:
    profile = Profile(categories=("cs.LG",))
    selection = pick(profile, [Paper("a")], max_papers=0)
    assert selection.groups == ()
    assert len(selection) == 0


# --- duplicates and empty profiles -------------------------------------------------------------

def test_duplicate_keys_are_shown_once() -> None:
    profile = Profile(categories=("cs.AI", "cs.LG"))
    entries = [
        Paper("dup", categories=["cs.LG"]),
        Paper("other", categories=["cs.LG"]),
        Paper("dup", categories=["cs.AI", "cs.LG"]),  # the same paper from another feed
    ]
    selection = pick(profile, entries)
    assert selection.keys == ["dup", "other"]
    assert grouped(selection) == [("cs.LG", ["dup", "other"])]
    assert len(selection) == 2


def test_empty_profile_selects_nothing() -> None:
    entries = [Paper("a", title="Diffusion", categories=["cs.LG"]),
               Paper("b", categories=["cs.CV"])]
    selection = pick(Profile(categories=()), entries)
    assert selection.groups == ()
    assert selection.keys == []
    assert len(selection) == 0


def test_no_matching_entries_selects_nothing() -> None:
    selection = pick(Profile(categories=("q-bio.NC",), keywords=("neuron",)),
                     [Paper("a", categories=["cs.LG"]), Paper("b", categories=[])])
    assert selection.groups == ()


def test_keys_follow_reading_order_across_groups() -> None:
    profile = Profile(categories=("cs.LG", "cs.CV"), keywords=("flow",))
    entries = [
        Paper("v-plain", categories=["cs.CV"]),
        Paper("l-plain", categories=["cs.LG"]),
        Paper("v-hit", title="Normalizing flow", categories=["cs.CV"]),
        Paper("k", title="Optical flow", categories=["eess.IV"]),
        Paper("l-cross", categories=["cs.LG"], announce_type="cross"),
    ]
    selection = pick(profile, entries)
    assert grouped(selection) == [
        ("cs.LG", ["l-plain", "l-cross"]),
        ("cs.CV", ["v-hit", "v-plain"]),
        ("eess.IV", ["k"]),
    ]
    assert selection.keys == ["l-plain", "l-cross", "v-hit", "v-plain", "k"]


def test_votes_move_similar_papers_up_and_disliked_ones_down() -> None:
    from digest_mailer.domain.taste import taste_from_votes

    papers = [Paper("a", title="Sparse Autoencoders for Protein Design", categories=["cs.LG"]),
              Paper("b", title="Optimal Transport Between Gaussian Mixtures",
                    categories=["cs.LG"]),
              Paper("c", title="Protein Folding with Sparse Attention", categories=["cs.LG"])]
    plain = pick(Profile(categories=("cs.LG",)), papers).keys
    assert plain == ["a", "b", "c"]
    taste = taste_from_votes([("Protein Structure Prediction at Scale", "more"),
                              ("Gaussian Process Regression Bounds", "less")])
    voted = pick(Profile(categories=("cs.LG",), taste=taste), papers).keys
    assert voted == ["a", "c", "b"]  # protein papers first, the Gaussian one last


def test_regroup_keeps_the_given_order_inside_groups() -> None:
    from digest_mailer.domain.grouping import regroup

    papers = [Paper("x", title="t", categories=["cs.AI"], announce_type="cross"),
              Paper("y", title="t", categories=["cs.LG"]),
              Paper("z", title="t", categories=["cs.AI"])]
    selection = regroup(Profile(categories=("cs.LG", "cs.AI")), papers)
    assert [(g, [p.key for p in ps]) for g, ps in selection.groups] == [
        ("cs.LG", ["y"]), ("cs.AI", ["x", "z"])]


# --- the fast path ranks exactly as scoring every candidate -------------------------------

def _demo_papers() -> list[Paper]:
    """The bundled demo morning, with a few of its papers' categories reshuffled."""
    import random
    from pathlib import Path

    from digest_mailer.ingest import parse_feed

    rng = random.Random(3)
    papers: dict[str, Paper] = {}
    for path in sorted((Path(__file__).parent.parent / "demo" / "feeds").glob("*.xml")):
        for e in parse_feed(path.read_bytes()).entries:
            categories = list(e.categories) or ["cs.LG"]
            if rng.random() < 0.3:  # more cross-lists than one morning has
                categories.append(rng.choice(FIELDS))
            papers.setdefault(e.key, Paper(e.key, e.title, e.abstract,
                                           list(dict.fromkeys(categories)), e.announce_type))
    return list(papers.values())


FIELDS = ("cs.CV", "cs.AI", "cs.CL", "cs.LG", "math.PR", "quant-ph", "bioinformatics",
          "q-bio.GN", "stat.ML")
WORDS = ("diffusion", "transformer", "language model", "graph", "random walk", "protein",
         "benchmark", "quantum", "agent", "segmentation", "learning", "GAN")


@dataclass(frozen=True)
class SeenPaper(Paper):
    first_seen: object = None


def _seen_index():
    """The demo papers, most first seen over seven minutes of a morning, some unknown."""
    from datetime import UTC, datetime, timedelta

    from digest_mailer.domain.select import SelectionIndex

    start = datetime(2026, 11, 24, tzinfo=UTC)
    seen = [SeenPaper(p.key, p.title, p.abstract, p.categories, p.announce_type,
                      start + timedelta(minutes=i % 7) if i % 5 else None)
            for i, p in enumerate(_demo_papers())]
    return SelectionIndex(seen), start


def test_fast_selection_equals_scoring_every_candidate() -> None:
    from datetime import timedelta

    from hypothesis import given, settings
    from hypothesis import strategies as st

    index, start = _seen_index()
    assert len(index.entries) > 50

    @settings(max_examples=400, deadline=None)
    @given(categories=st.lists(st.sampled_from(FIELDS), max_size=4, unique=True),
           keywords=st.lists(st.sampled_from(WORDS), max_size=3, unique=True),
           excluded=st.lists(st.sampled_from(WORDS), max_size=2, unique=True),
           per_category=st.integers(0, 12), total=st.integers(0, 25),
           since=st.none() | st.integers(0, 7))
    def same(categories: list[str], keywords: list[str], excluded: list[str],
             per_category: int, total: int, since: int | None) -> None:
        profile = Profile(tuple(categories), tuple(keywords), tuple(excluded))
        cut = None if since is None else start + timedelta(minutes=since)
        fast = index.select(profile, max_per_category=per_category, max_papers=total,
                            since=cut)
        full = index._select_scored(profile, per_category, total, cut)
        assert grouped(fast) == grouped(full)
        assert fast.more == full.more  # and both say alike what the caps left out

    same()


def test_ranking_by_model_in_arrays_equals_scoring_every_candidate() -> None:
    """The send path's array ranking of a reader with a model chooses, orders, counts and
    explores exactly as the plain loop over every candidate does, whatever the scores."""
    from datetime import timedelta

    from hypothesis import given, settings
    from hypothesis import strategies as st

    index, start = _seen_index()

    @settings(max_examples=300, deadline=None)
    @given(categories=st.lists(st.sampled_from(FIELDS), max_size=4, unique=True),
           keywords=st.lists(st.sampled_from(WORDS), max_size=3, unique=True),
           excluded=st.lists(st.sampled_from(WORDS), max_size=2, unique=True),
           per_category=st.integers(0, 12), total=st.integers(0, 25),
           since=st.none() | st.integers(0, 7), explore=st.integers(0, 2),
           scores=st.lists(st.floats(-3, 3) | st.sampled_from([0.0, 1.0]),
                           min_size=len(index.entries), max_size=len(index.entries)))
    def same(categories: list[str], keywords: list[str], excluded: list[str],
             per_category: int, total: int, since: int | None, explore: int,
             scores: list[float]) -> None:
        profile = Profile(tuple(categories), tuple(keywords), tuple(excluded))
        cut = None if since is None else start + timedelta(minutes=since)
        fast = index.select(profile, max_per_category=per_category, max_papers=total,
                            since=cut, scores=scores, explore=explore)
        full = index._select_scored(profile, per_category, total, cut, scores, explore)
        assert grouped(fast) == grouped(full)
        assert (fast.more, fast.explore, fast.scores) == (full.more, full.explore, full.scores)

    same()
