"""Phrases of paper text: the one- to three-word terms the briefing names threads by.

A term is a run of up to three words unbroken by a stopword, academic filler or punctuation;
hyphenated compounds stay whole and plurals fold ("networks" is "network"). TeX math is
dropped first. Pure and deterministic.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

Term = tuple[str, ...]

_STOP_WORDS = """
a about above after again against all almost along also although among an and another any are as at
be because been before being below between both but by can could did do does doing done down due
during each either else even ever every few for from further given had has have having here how
however i if in into is it its itself just less many may might more most much must my neither no
nor not now of off often on once one only onto or other others otherwise our ours out over own per
rather same several shall she should since so some such than that the their theirs them themselves
then there thereby therefore these they this those though three through thus to too toward towards
two under until up upon us very via was we well were what whatever when where whereas whether which
while who whom whose why will with within without would yet you your
"""
# Academic filler: never part of a theme, so it ends a phrase like a stopword does.
_FILLER_WORDS = """
able achieve achieved achieves achieving address addresses allow allows approach approaches around
based best better called capture captures challenge challenging compared competitive comprehensive
conduct consider considered current demonstrate demonstrates derive design develop different
effective effectively efficient enable enables enabling enhanced ensure especially establish
existing experiment experimental experiments explore extend extensive find finding first framework
improve improved improves improving including increasingly introduce introduces key lack leverage
leverages make makes method methodology methods novel offer often outperform outperforms paper
particular possible present presents previous promising propose proposed provide provides recent
recently remain remains require requires respectively result results reveal reveals second show
shows significant significantly simple specific standard state strong studies study substantially
suggest superior support take typically use used uses using various widely work works
"""
# Too common, or too vague, to be a theme alone; they may still complete one
# ("diffusion model", "graph neural network", "large language model").
_GENERIC_WORDS = """
accuracy action algorithm analysis answer application art aware baseline benchmark bound case
change class complex component cost data dataset deep dimension direction dynamic entry error
evaluation evidence example fact feature field form function general high information input large
layer learn learned learning level limit line low main model modeling multi multiple network neural
non number order output part performance point power pre prediction problem process property
quality range rate real representation scale score set setting single size small space step
structure system target task term test time train trained training type value variant version view
way world
"""
_STOP = frozenset(_STOP_WORDS.split()) | frozenset(_FILLER_WORDS.split())
_GENERIC = frozenset(_GENERIC_WORDS.split())
# A compound ending in one of these ("symbol-aware", "model-based") is a modifier, not a topic.
_SUFFIXES = ("aware", "based", "driven", "guided", "free", "level", "wise", "like", "specific")
_NOT_PLURAL = frozenset({"series", "species", "analysis", "bias", "lens", "gas", "chaos"})
# Words, hyphenated compounds whole ("multi-GPU"); a trailing hyphen marks a fragment
# ("Symbol- and Graph-Aware"). TeX math is dropped before tokenising.
_TOKEN = re.compile(r"[^\W\d_]\w*(?:[-–][^\W\d_]\w*)*-?|[^\s\w]|\d\S*")
_MATH = re.compile(r"\$[^$]*\$")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Fold plurals so "networks" and "network" are one term (a compound by its last part)."""
    head, _, word = word.rpartition("-")
    if word in _NOT_PLURAL or len(word) <= 3:
        pass
    elif word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith(("sses", "ches", "shes", "xes")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return f"{head}-{word}" if head else word


@lru_cache(maxsize=65536)
def weak(stemmed: str) -> bool:
    """A word, or compound, that cannot be a theme on its own."""
    parts = stemmed.split("-")
    return (len(stemmed) < 3 or stemmed in _GENERIC or parts[-1] in _SUFFIXES
            or all(p in _STOP or p in _GENERIC or p[:1].isdigit() for p in parts))


def terms(text: str, title: bool = False,
           surfaces: dict[Term, Counter[str]] | None = None) -> Counter[Term]:
    """Term counts: 1–3 word runs unbroken by stopwords, filler or punctuation. With
    ``surfaces``, also their wordings; a capital is kept only where it means something
    ("GNN", "PyTorch", "Gaussian" mid-sentence), so titles in Title Case do not shout."""
    counts: Counter[Term] = Counter()
    stems: list[str] = []
    shown: list[str] = []
    weaks: list[bool] = []
    initial = True
    for token in [*_TOKEN.findall(_MATH.sub(" , ", text)), "."]:
        low = token.lower()
        after_stop, initial = initial, token in ".!?:"
        if not token[0].isalpha() or token.endswith("-") or low in _STOP:
            stems, shown, weaks = [], [], []
            continue
        capital = token[0].isupper() and not (title or after_stop)
        shown.append(token if capital or any(c.isupper() for c in token[1:]) else low)
        stems.append(stem(low))
        weaks.append(weak(stems[-1]))
        for n in range(1, min(3, len(stems)) + 1):
            if all(weaks[-n:]):
                continue
            term = tuple(stems[-n:])
            counts[term] += 1
            if surfaces is not None:
                surfaces.setdefault(term, Counter())[" ".join(shown[-n:])] += 1
    return counts


def label(surfaces: Counter[str]) -> str:
    """The commonest wording of a term, capitalised only where capitals outnumber lower case."""
    merged: Counter[str] = Counter()
    for shown, n in surfaces.items():
        merged[shown.lower()] += n
    best = min(merged.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    forms = [s for s in surfaces if s.lower() == best]
    return min(forms, key=lambda s: (-surfaces[s], s != best, s))
