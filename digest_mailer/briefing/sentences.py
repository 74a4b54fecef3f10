"""What an abstract says the paper contributes: its sentences, their roles, a one-line TL;DR.

An abstract moves from background ("X has become…", "however, existing… remain") to the
paper's own method and result ("we propose…", "outperforms… by 12%"). A weighted cue lexicon
scores each sentence's role, position breaks ties (background comes first), and the best
sentence of readable length is the paper's contribution; the TL;DR cuts it at a clause
boundary. Tuned on tests/data/sentence_roles.jsonl, measured by bench/sentence_roles.py.
Pure and deterministic; each function is cached, so a paper is read once however many
digests carry it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

# Real arXiv abstracts stay under 1,920 characters; reading further only costs time.
MAX_ABSTRACT = 10_000
READABLE = (40, 260)  # a contribution of this length reads well on a card and in a quote
TLDR_CHARS = 150

# A stop that does not end a sentence: "e.g.", "et al.", "Fig. 3", an initial ("J. Smith").
_ABBREV = re.compile(
    r"(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Figs|Eq|Eqs|Sec|Tab|No|resp|approx|etc|al)|\b[A-Z])\.$"
)
# A stop ends a sentence before whitespace and a capital, digit, bracket or quote; a
# full-width stop ends one anywhere. Decimals and "arXiv:2401.1" have no space after the dot.
_END = re.compile(r"[.!?][\"”’')\]]*(?=\s+[A-Z0-9(\[“\"‘'$\\])|[。！？][”’」』）]*")

# (pattern, weight): positive = the paper's own method or result, negative = background.
_CUES: tuple[tuple[re.Pattern[str], float], ...] = tuple(
    (re.compile(p, re.I), w)
    for p, w in (
        (r"\b(?:we|this (?:paper|work|study|report|article))\s+(?:\w+ly\s+)?(?:propose|introduce|"
         r"present|develop|design|build|construct|formulate|devise|release|curate|create)", 3.0),
        (r"\bwe\b(?:\s+[\w-]+){0,6}?\s+(?:show|find|demonstrate|prove|establish|derive|obtain|"
         r"achieve|give|provide|identify|discover|observe|reveal|report)", 2.5),
        (r"\bwe\s+(?:\w+ly\s+)?(?:study|analy[sz]e|investigate|characteri[sz]e|evaluate)", 1.5),
        (r"\b(?:this (?:paper|work|study|report) |here,? we |in this (?:paper|work|report),? we )",
         1.0),
        (r"\bour (?:method|model|approach|framework|system|algorithm|results?|analysis|findings|"
         r"experiments|evaluation|technique|pipeline)\b", 1.5),
        (r"(?<!\bto )\b(?:outperform|surpass|exceed|improv|reduc|achiev|yield)\w*", 1.0),
        (r"\b(?:state[- ]of[- ]the[- ]art|sota)\b", 0.5),
        (r"\b(?:results?|experiments?|evaluations?|findings|analys[ie]s) (?:\w+ )?(?:show|"
         r"demonstrate|reveal|indicate|suggest|confirm)", 1.5),
        (r"\d(?:\.\d+)?\s?(?:%|×|x\b|times\b|fps\b|ms\b)|\+\d", 1.0),
        (r"\bto address (?:this|these|the)\b|\bto (?:bridge|close|fill) (?:this|the)\b", 0.5),
        (r"\bhowever\b|\bexisting\b|\bprior work\b|\bprevious(?:ly)?\b|\bconventional\b|"
         r"\btraditional\b|\bremains?\b|\bstill\b", -1.5),
        (r"\brecent(?:ly)?\b|\bincreasingly\b|\bhas (?:become|emerged|attracted|gained)|"
         r"\bhave (?:become|emerged|attracted|gained|shown)|\bwidely\b|\bpopular\b", -1.5),
        (r"\b(?:is|are) (?:a |an |the )?(?:\w+ )?(?:crucial|critical|fundamental|important|"
         r"essential|central|key|challenging|indispensable|cornerstone)", -1.5),
        (r"\b(?:suffer|lack|fail|limit(?:s|ed|ation)|struggle|challenge|bottleneck)\w*", -0.5),
        (r"https?://|\bgithub\b|\bcode (?:is|and \w+ (?:is|are)) (?:publicly )?available|"
         r"\bavailable at\b|\bproject (?:page|website)\b|\breleased (?:our|the) code", -4.0),
        (r"\?\s*$", -3.0),
    )
)
# A part of the method ("(ii) …", "Second, we …", "We further …"): the headline comes first.
_PART = re.compile(r"^(?:\(?(?:i{1,3}|iv|v|\d)\)|(?:first|second|third|finally|next|moreover|"
                   r"furthermore|additionally|in addition)\b)|^we (?:also|further)\b", re.I)
_STRONG = _CUES[0][0]
_OWN = re.compile(r"\b(?:we|our|this (?:paper|work|study|report))\b|\bhere\b", re.I)
# A preamble before the subject: "In this paper, we", "(iii) To extend the model …, we".
_LEAD = re.compile(
    r"^(?:\(?(?:i{1,3}|iv|v|\d)\)\s*)?(?:(?:(?:in|with) this (?:paper|work|report|study|article)"
    r"|here|therefore|thus|hence|next|finally|first|second|third|moreover|furthermore"
    r"|additionally|in addition|building on this|to (?:do so|this end)|to [^,;:]{3,80}?),?\s+"
    r"(?=(?:we|this (?:paper|work|study|report))\b))",
    re.I,
)
# Clause boundaries, strongest first: a TL;DR ends at the latest one of the strongest kind
# that keeps enough of the sentence. A comma counts only before a relative, a participle or an
# appositive ("X, a framework that …"), never inside a list ("selection, compression, and …").
_BOUNDARIES = tuple(
    re.compile(p)
    for p in (
        r"; |(?<!\d): | [–—] (?!\d)|, (?:which|where|while|whereas|but|thereby|i\.e\.|e\.g\.|"
        r"such as|including|\w+ing) ",
        r" (?:by|using|via|through|with|based on) |, (?:a|an|the) ",
    )
)
_WEAK = re.compile(r" (?:for|to|that|in|on|from|of|across|at) ")  # not "and": lists
# What may not end a line: a comma, an open bracket, an article, or a comma's first word or two
# ("…three regimes, determined" from "…, determined by …").
_DANGLING = re.compile(r"[\s,;:–—(\[-]+$|,\s+(?!and\b|or\b)[\w-]+(?:\s+[\w-]+)?$|"
                       r"\s+(?:a|an|the|and|or|of|to|in|on|for|with|by|as|its|their|our|is|are)$",
                       re.I)


@lru_cache(maxsize=65536)
def _split(abstract: str) -> tuple[str, ...]:
    """The sentences as a tuple: cacheable, and what _roles keys its cache on."""
    text = " ".join(abstract[:MAX_ABSTRACT].split())
    out, start = [], 0
    for match in _END.finditer(text):
        if _ABBREV.search(text[max(start, match.start() - 8) : match.start() + 1]):
            continue
        out.append(text[start : match.end()].strip())
        start = match.end()
    out.append(text[start:].strip())
    return tuple(s for s in out if s)


def split(abstract: str) -> list[str]:
    """The abstract's sentences, whitespace collapsed (see _END and _ABBREV for what ends one)."""
    return list(_split(abstract))


@lru_cache(maxsize=65536)
def _roles(sentences: tuple[str, ...]) -> tuple[float, ...]:
    """Cue weights summed, then position: background before the paper first speaks of itself,
    a method's parts below its headline."""
    scores = []
    own_seen = headline = False
    for index, sentence in enumerate(sentences):
        score = sum(w for pattern, w in _CUES if pattern.search(sentence))
        own = bool(_OWN.search(sentence))
        # Before the paper first speaks of itself, a sentence is most likely background.
        if not own_seen and not own:
            score -= 1.0
        own_seen = own_seen or own
        score -= 0.5 * (index == 0 and not own)
        score -= 1.0 * bool(_PART.search(sentence))
        # The first "we propose …" names the paper's own thing: the card's best line.
        if not headline and _STRONG.search(sentence):
            headline, score = True, score + 1.0
        scores.append(score)
    return tuple(scores)


def roles(sentences: Sequence[str]) -> list[float]:
    """One score a sentence: higher states the paper's own method or result, lower its
    background, problem, a question or a link."""
    return list(_roles(tuple(sentences)))


def _readable(sentence: str) -> float:
    low, high = READABLE
    if len(sentence) < low:
        return -1.0 - (low - len(sentence)) / low
    if len(sentence) > high:
        return -min(2.0, (len(sentence) - high) / high * 2)
    return 0.0


@lru_cache(maxsize=65536)
def contribution(abstract: str) -> str:
    """The sentence that best states what the paper contributes ("" for an empty abstract)."""
    sentences = _split(abstract)
    if not sentences:
        return ""
    scores = _roles(sentences)
    if max(scores) <= 0:  # no sentence speaks for the paper: the first readable one is its topic
        scores = (0.0,) * len(sentences)
    # Ties go to the earlier sentence: the method is usually stated before the details.
    best = max(range(len(sentences)), key=lambda i: (scores[i] + _readable(sentences[i]), -i))
    return sentences[best]


def _lead(sentence: str) -> str:
    """ "In this paper, we propose X" → "We propose X": a card line needs no preamble."""
    match = _LEAD.match(sentence)
    if not match:
        return sentence
    rest = sentence[match.end() :]
    return rest[:1].upper() + rest[1:]


def _tidy(text: str) -> str:
    """No dangling comma, bracket or article at the end; unbalanced brackets cut off."""
    for opener, closer in ("()", "[]"):
        if text.count(opener) > text.count(closer):
            text = text[: text.rindex(opener)]
    previous = None
    while previous != text:
        previous, text = text, _DANGLING.sub("", text)
    return text


@lru_cache(maxsize=65536)
def tldr(abstract: str, limit: int = TLDR_CHARS) -> str:
    """The contribution as one card line of at most ``limit`` characters: cut at the latest
    clause boundary that keeps at least a third of it, else at a word with "…"."""
    sentence = _lead(contribution(abstract))
    if len(sentence) <= limit:
        return sentence
    floor = max(30, limit // 3)
    window = sentence[: limit - 1]
    for boundary in _BOUNDARIES:
        for match in reversed(list(boundary.finditer(window))):
            head = _tidy(sentence[: match.start()])
            if len(head) >= floor:
                return head + "."
    # Mid-clause: at the latest weak boundary, else a word, that keeps enough; marked "…".
    cuts = [*[m.start() for m in _WEAK.finditer(window)][::-1], window.rfind(" ")]
    heads = [_tidy(window[:cut]) for cut in cuts if cut > 0]
    head = next((h for h in heads if len(h) >= floor), heads[-1] if heads else "")
    return (head or _tidy(window) or window[: limit - 1]) + "…"
