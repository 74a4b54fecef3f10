"""The roles of an abstract's sentences: which one says what the paper contributes.

A briefing that quotes "Event cameras report per-pixel brightness changes…" quotes the
background; a reader wants "We estimate dense optical flow from event streams…". Each
sentence gets a score from cue phrases (the paper's own "we propose/show", "our method",
results with numbers count for it; "recently", "however, existing…", questions, code links
count against it) and its place (background comes first). Measured on labelled abstracts
by ``bench/sentence_roles.py``. Pure, deterministic, cached per abstract.
"""

from __future__ import annotations

import re
from functools import lru_cache

_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Eq|resp|approx|etc|Sec|No)|\b[A-Z])\.$")
_END = re.compile(r"[.!?](?=\s+[A-Z0-9(\[“\"])|[。！？]")

_OWN = re.compile(
    r"\b(?:we|this (?:paper|work|study|article)|here,? we|in this (?:paper|work),? we)\s+"
    r"(?:(?:also|further|then|first|additionally|thus|therefore|now)\s+)?"
    r"(?:propose|introduce|present|develop|design|show|demonstrate|find|prove|establish|"
    r"obtain|derive|train|build|construct|release|report|achieve|devise|formulate|"
    r"offer|provide|leverage|extend|analy[sz]e|study|investigate|address|tackle|identify|"
    r"reveal|observe|evaluate|estimate|learn|use|apply|combine|adapt|distil|distill|"
    r"compute|characteri[sz]e|give|describe|explore|examine|conduct|benchmark|curate|"
    r"collect|create|implement|solve|recover|quantify|measure|model|bound)\w*\b", re.I)
_OURS = re.compile(r"\b(?:our|the proposed|the resulting)\s+(?:\w+[- ]){0,2}?(?:method|approach|"
                   r"model|framework|results?|experiments?|analysis|system|algorithm|"
                   r"technique|pipeline|benchmark|dataset|findings|evaluation)s?\b", re.I)
_RESULT = re.compile(r"\d+(?:\.\d+)?\s?(?:%|x\b|×|times\b|points?\b|dB\b)|\boutperform|"
                     r"\bstate-of-the-art\b|\bimproves?\b|\bimprovements?\b|\bsurpass|"
                     r"\bsignificantly\b|\bresults (?:show|demonstrate|indicate|suggest)|"
                     r"\bexperiments (?:show|demonstrate|on)\b|\bachiev", re.I)
_BACKGROUND = re.compile(
    r"^(?:recent(?:ly)?|however|despite|although|while|existing|current|traditional|"
    r"conventional|prior|previous|many|most|typically|in recent years|over the past|"
    r"with the (?:rapid|growing|increasing)|as (?:a|the) )\b|"
    r"\b(?:has|have) (?:become|been|emerged|shown|gained|attracted|achieved)\b|"
    r"\b(?:remains?|is|are) (?:a |an )?(?:challenging|difficult|open|unclear|limited|"
    r"fundamental|crucial|critical|important|key|central|essential)\b|"
    r"\bsuffer|\bstruggle|\blimitations?\b|\bbottleneck\b", re.I)
_NOT_CONTENT = re.compile(r"https?://|\bgithub\b|\bcode (?:is|and|will|are)\b|"
                          r"\bproject page\b|\bavailable at\b|\baccepted (?:at|to|by)\b|"
                          r"\b\d+ pages\b", re.I)
_CLAUSE = re.compile(r",\s+(?:which|where|while|thereby|allowing|enabling|making|leading|"
                     r"resulting|yielding|achieving|and thus|so that)\b|;\s|:\s|\s+(?:by|using|"
                     r"via|through|based on|with)\s+")


@lru_cache(maxsize=16384)
def split(abstract: str) -> tuple[str, ...]:
    """Abstract sentences, whitespace collapsed; "e.g.", "et al." and decimals end none."""
    text = " ".join(abstract.split())
    out, start = [], 0
    for match in _END.finditer(text):
        if _ABBREV.search(text[start : match.end()]):
            continue
        out.append(text[start : match.end()].strip())
        start = match.end()
    out.append(text[start:].strip())
    return tuple(s for s in out if s)


def role(sentence: str, index: int, count: int) -> float:
    """How surely ``sentence`` (the ``index``-th of ``count``) states the paper's own method
    or result: above 0 likely, below 0 background, problem or a pointer to code."""
    score = 0.0
    if _OWN.search(sentence):
        score += 2.0
    if _OURS.search(sentence):
        score += 1.0
    if _RESULT.search(sentence):
        score += 1.0
    if _BACKGROUND.search(sentence):
        score -= 1.5
    if _NOT_CONTENT.search(sentence) or sentence.endswith("?"):
        score -= 3.0
    if count > 1:
        score += 0.5 * min(index, 2) / 2  # the first sentence is mostly the setting
    if not 40 <= len(sentence) <= 300:
        score -= 0.5
    return score


@lru_cache(maxsize=16384)
def contribution(abstract: str) -> str:
    """The sentence that best states what the paper contributes ("" for no text); ties go
    to the earlier sentence."""
    sentences = split(abstract)
    if not sentences:
        return ""
    scores = [role(s, i, len(sentences)) for i, s in enumerate(sentences)]
    return sentences[max(range(len(sentences)), key=lambda i: (scores[i], -i))]


@lru_cache(maxsize=16384)
def tldr(abstract: str, limit: int = 150) -> str:
    """The contribution sentence as one card line: "In this paper, we" → "We", cut at a
    clause boundary under ``limit`` characters, "…" only when cut mid-clause."""
    sentence = contribution(abstract[:20_000])
    sentence = re.sub(r"^(?:in this (?:paper|work|study)|here)\s*,?\s+we\b", "We", sentence,
                      flags=re.I)
    sentence = sentence[:1].upper() + sentence[1:]
    if len(sentence) <= limit:
        return sentence
    cuts = [m.start() for m in _CLAUSE.finditer(sentence) if 40 <= m.start() <= limit - 1]
    if cuts:
        return sentence[: cuts[-1]].rstrip(" ,;:") + "."
    head = sentence[: limit - 1].rsplit(" ", 1)[0]
    return head.rstrip(" ,;:–-") + "…"
