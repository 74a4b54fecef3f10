"""Themes by meaning: a shared word in different senses never makes a theme; close papers do."""

from __future__ import annotations

import itertools
import re

import pytest

from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.themes import (
    MIN_SIMILARITY,
    ThemePaper,
    find_themes,
    in_digest,
    vectors_of,
)
from digest_mailer.domain.digest import CategoryGroup, Paper

# (sense, category, title, abstract), written for this test in the style of arXiv abstracts.
# Each word appears in several unrelated senses; the two "optical flow" papers and the two
# "rectified flow" papers are each one topic, and must form a theme.
SENSES = [
    ("optical-flow", "cs.CV", "Event-Based Optical Flow Estimation with Spiking Networks",
     "Event cameras report per-pixel brightness changes with microsecond latency. We estimate "
     "dense optical flow from event streams with a spiking network that accumulates events "
     "into a voxel grid. On the MVSEC and DSEC benchmarks our optical flow estimates reduce the "
     "endpoint error by 18% while running on neuromorphic hardware."),
    ("optical-flow", "cs.RO", "Optical Flow from Event Cameras for Agile Drone Navigation",
     "Fast drones need motion cues at high rates. We propose an optical flow estimator for "
     "event cameras that runs onboard and feeds an obstacle-avoidance controller. Event-based "
     "optical flow at 500 Hz lets the drone fly through cluttered forests at 8 m/s."),
    ("rectified-flow", "cs.CV", "Rectified Flow Transformers for Few-Step Text-to-Image Synthesis",
     "Rectified flow straightens the probability paths between noise and images, so a "
     "text-to-image generator needs few sampling steps. We train rectified flow transformers "
     "with a reweighted timestep schedule and obtain FID 6.1 in four steps."),
    ("rectified-flow", "cs.LG", "Distilling Rectified Flow Models into One-Step Image Generators",
     "We distil a pretrained rectified flow model into a one-step image generator. Reflow "
     "couples noise and images along straight paths; our distillation matches the teacher's "
     "rectified flow trajectory and reaches FID 3.4 on ImageNet 64 in one step."),
    ("reaction-flow", "physics.chem-ph", "Flow Matching for Chemical Reaction Pathways",
     "Finding the transition paths of a chemical reaction is costly with molecular dynamics. "
     "We learn reaction pathways between reactant and product conformations with flow matching "
     "on molecular graphs, recovering the activation barriers of 40 organic reactions."),
    ("traffic-flow", "cs.LG", "Graph Recurrent Networks for Urban Traffic Flow Forecasting",
     "Urban traffic flow depends on road topology and on commuting patterns. We forecast "
     "traffic flow on road sensor networks with a graph recurrent network and improve the "
     "one-hour forecast error on METR-LA and PEMS-BAY."),
    ("latent-diffusion", "cs.CV", "Latent Diffusion for High-Resolution Image Inpainting",
     "Latent diffusion models generate images in the latent space of an autoencoder. We adapt a "
     "latent diffusion model to inpainting of megapixel photographs with a masked denoising "
     "objective, improving LPIPS over prior inpainting methods."),
    ("graph-diffusion", "cs.LG", "Graph Diffusion Heatmaps for the Travelling Salesman Problem",
     "Heat diffusion on a sparse graph of candidate edges gives a heatmap of promising tours. We "
     "combine the graph diffusion heatmap with Monte Carlo tree search and solve TSP instances "
     "of 10,000 cities within 1% of the optimum."),
    ("diffusion-mri", "eess.IV", "Microstructure Estimation from Diffusion MRI of White Matter",
     "Diffusion MRI measures the motion of water molecules in brain tissue. We estimate axon "
     "diameter and fibre orientation from multi-shell diffusion-weighted scans of 120 patients "
     "with a Bayesian microstructure model."),
    ("self-attention", "cs.CL", "Linear-Time Self-Attention for Long Documents",
     "Self-attention in transformers costs quadratic time in the sequence length. We approximate "
     "softmax attention with random features so that attention over 64k-token documents runs "
     "in linear time, with perplexity within 0.3 of exact attention."),
    ("visual-attention", "q-bio.NC", "Visual Attention Shifts in Infants Measured by Eye Tracking",
     "Infants shift visual attention between faces and objects within the first year. We record "
     "eye tracking of 200 infants watching natural scenes and show that attention to faces "
     "rises between four and nine months of age."),
    ("adhd", "q-bio.QM", "Attention Deficit Symptoms and Sleep in Adolescents",
     "Attention deficit hyperactivity disorder affects sleep. In a cohort of 3,000 adolescents "
     "we relate attention deficit symptom scores to actigraphy-measured sleep duration and find "
     "that each hour of lost sleep raises symptom scores by 4%."),
    ("vision-transformer", "cs.CV", "Pruning Vision Transformers by Token Merging",
     "Vision transformers split an image into patch tokens. We merge similar tokens between "
     "transformer blocks and speed up vision transformers by 2x on ImageNet with a 0.4% drop "
     "in top-1 accuracy."),
    ("power-transformer", "eess.SY", "Fault Diagnosis of Power Transformers from Dissolved Gas",
     "Power transformers in the electrical grid fail through insulation faults. We diagnose "
     "faults from dissolved gas analysis of transformer oil with gradient-boosted trees on "
     "records of 1,400 substation transformers."),
]
TOPICS = {"optical-flow", "rectified-flow"}  # the senses with two papers


def day() -> list[ThemePaper]:
    return [ThemePaper(f"p{i}", title, abstract)
            for i, (_, _, title, abstract) in enumerate(SENSES)]


def sense(key: str) -> str:
    return SENSES[int(key[1:])][0]


def test_a_word_in_different_senses_never_forms_a_theme() -> None:
    themes = find_themes(day())
    for theme in themes:
        senses = [sense(k) for k in theme.keys]
        assert len(set(senses)) == 1, (theme.name, senses)
    # What does belong together does form a theme, named by a phrase and not a word.
    found = {sense(t.keys[0]): t for t in themes}
    assert set(found) == TOPICS, {s: t.name for s, t in found.items()}
    assert found["optical-flow"].name.lower() == "optical flow"
    assert found["rectified-flow"].name.lower().startswith("rectified flow")
    assert all(len(t.name.split()) >= 2 for t in themes)


def test_homonym_pairs_sit_far_below_the_theme_threshold() -> None:
    papers = day()
    rows = vectors_of(papers)
    similarity = (rows @ rows.T).toarray()
    for i, j in itertools.combinations(range(len(papers)), 2):
        a, b = sense(papers[i].key), sense(papers[j].key)
        if a != b:
            assert similarity[i, j] < MIN_SIMILARITY, (a, b, similarity[i, j])


@pytest.mark.parametrize("word", ["flow", "diffusion", "attention", "transformer"])
def test_the_briefing_names_no_theme_by_a_homonym(word: str) -> None:
    papers = [Paper(number=n, key=f"p{i}", title=title, abstract=abstract, authors=(),
                    link="", badge="", category=category, categories=(category,))
              for n, (i, (_, category, title, abstract)) in enumerate(
                  ((i, s) for i, s in enumerate(SENSES) if word in s[2].lower()
                   or word in s[3].lower()), start=1)]
    assert len(papers) >= 3
    groups = tuple(CategoryGroup(c, c, tuple(p for p in papers if p.category == c))
                   for c in dict.fromkeys(p.category for p in papers))
    themes = in_digest(find_themes(day()), papers)
    for theme in themes:
        assert len({sense(papers[n - 1].key) for n in theme.numbers}) == 1
    text = ExtractiveBriefer().brief(groups, "en").text
    assert f"{word.capitalize()} links" not in text and f"{word.capitalize()}s link" not in text
    assert f"up {word} [" not in text, text


def test_a_cross_field_theme_says_what_each_paper_brings() -> None:
    papers = [Paper(number=n, key=f"p{i}", title=SENSES[i][2], abstract=SENSES[i][3],
                    authors=(), link="", badge="", category=SENSES[i][1],
                    categories=(SENSES[i][1],)) for n, i in enumerate((0, 1, 5), start=1)]
    groups = tuple(CategoryGroup(p.category, p.category, (p,)) for p in papers)
    briefing = ExtractiveBriefer().brief(groups, "en", themes=find_themes(day()))
    assert briefing.headline.lower() == "optical flow"
    text = briefing.text
    assert "links cs.CV and cs.RO [1, 2]" in text or "connects cs.CV and cs.RO [1, 2]" in text, text
    assert "[1] on " in text and "[2] on " in text, text  # each paper's own angle
    # The quote is what a paper contributes, not its first, background sentence.
    assert "Event cameras report" not in text and "Fast drones need" not in text, text
    assert re.search(r"\b(?:we (?:estimate|propose)|our optical flow)\b", text, re.I), text
    assert "[3]" not in text  # traffic flow is another sense
