"""Is each sentence of an LLM briefing backed by the papers it cites? Pure, no I/O.

A sentence is faithful when it cites at least one existing paper, every number it gives is
in a cited paper, and the share of its content terms found in the cited papers' title and
abstract (only those it cites, not the whole day) is at least ``min_support``.

Content terms are words after dropping stopwords, connective words a briefing is made of
("both", "papers", "link", "today"), citations and category codes (cs.CV); plurals and common
suffixes are folded and a word is compared by its first :data:`PREFIX` letters, so
"restores" meets "restoration" and "distils" meets "distillation". Numbers are kept whole:
a "97%" that no cited paper gives is a red flag on its own, whatever the share.

Chinese has no spaces between words, and abstracts are English: a zh sentence is measured on
the Latin-script terms and the numbers it carries (model names, "3D", "LLM", titles quoted
in 《》). When the cited text itself is Chinese, character bigrams count too. A zh sentence
with neither is checked for its citations only: the check cannot read its claim.

:data:`MIN_SUPPORT` was tuned on tests/test_faithful.py's paraphrases and fabrications of
real demo-feed abstracts: 17 faithful ones (close and loose paraphrases) score ≥ 0.66, 11
fabrications (one a true sentence cited to the wrong paper) ≤ 0.50; 0.6 sits between.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from digest_mailer.briefing import MIN_SUPPORT  # the default of DIGEST_LLM_MIN_SUPPORT

PREFIX = 5  # letters a folded word is compared by ("restor-", "distil-" → "resto", "disti")

_STOP_WORDS = frozenset("""
a about above across after again against all almost along already also although always among
an and another any anything are around as at be became because become been before being below
between beyond both but by can cannot could did do does doing done down during each either else
even ever every few for from further had has have having he her here hers him his how however i
if in into is it its itself just least less like many may me might more most much must my
neither no nor not now of off often on once one only onto or other others otherwise our ours
out over own per perhaps quite rather same several shall she should since so some something
such than that the their theirs them themselves then there thereby therefore these they this
those though through throughout thus to together too toward towards under unlike until up upon
us very via was we well were what whatever when where whereas whether which while who whom
whose why will with within without would yet you your two three four five six first second
third former latter respectively
""".split())
# What a briefing says about papers rather than what the papers say.
_CONNECTIVE_WORDS = frozenset("""
paper papers work works study studies article articles author authors today todays day
digest field fields topic topics theme themes thread threads link links linked linking
connect connects connected connecting connection join joins joined share shares shared sharing
common commonly combine combines combined complement complements complementary contrast
contrasts similar similarly relate relates related relation meet meets across apart alongside
idea ideas approach approaches method methods technique techniques propose proposes proposed
present presents presented introduce introduces introduced report reports reported describe
describes described show shows shown demonstrate demonstrates address addresses tackle tackles
focus focuses focused explore explores explored offer offers provide provides use uses used
using new novel notable key main other another different respective whose one ones each both
meanwhile while likewise also further moreover furthermore instead contribution contributions
point points suggest suggests together reader readers line lines side sides direction
get gets make makes help helps apply applies usually enough allow allows enable enables
""".split())
_STOP = _STOP_WORDS | _CONNECTIVE_WORDS
_CJK_STOP = frozenset("今天 天的 的论 论文 文把 文与 联系 系在 在一 一起 两者 都关 关注 这些 篇论 "
                      "我们 提出 方法 研究 本文 以及 其中 它们 分别".split())

_CITATION = re.compile(r"\[([\d\s,;–-]*\d[\d\s,;–-]*)\]")
_CATEGORY = re.compile(r"\b[a-z]+(?:-[a-z]+)?\.[A-Za-z]{2,3}\b")  # cs.CV, q-bio.GN, math.PR
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_END = re.compile(r"[.!?]+[\"”’)]*(?=\s|$)|[。！？]+[”’」』）]*")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Figs|Eq|Eqs|Sec|resp|approx|No)"
                     r"|\b[A-Z])\.$")
_LEADING_CITATION = re.compile(r"^\s*\[[\d\s,;–-]+\]\s*")


def _open_quote(text: str) -> bool:
    return text.count("“") > text.count("”") or text.count("《") > text.count("》")


@dataclass(frozen=True)
class Unfaithful:
    """A sentence the cited papers do not back, and why ("no citation", …)."""

    sentence: str
    reason: str


def split_sentences(paragraph: str) -> list[str]:
    """The paragraph's sentences, in English or Chinese.

    "e.g.", "et al." and initials do not end a sentence; a citation standing after a sentence
    end ("… four steps. [1]") belongs to that sentence when it has none of its own.
    """
    text = " ".join(paragraph.split())
    pieces, start = [], 0
    for match in _END.finditer(text):
        piece = text[start : match.end()]
        # "e.g." is no end, nor a "?" inside a quoted title (“Can BERT Handle? …” [1]).
        if _ABBREV.search(piece) or _open_quote(piece):
            continue
        pieces.append(text[start : match.end()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    out: list[str] = []
    for piece in (p for p in pieces if p):
        lead = _LEADING_CITATION.match(piece)
        if lead and out and not cited(out[-1]):
            out[-1] += " " + lead.group(0).strip()
            piece = piece[lead.end():]
        if re.search(r"\w", piece):
            out.append(piece)
        elif out:  # a lone citation or mark after a sentence that cites already
            out[-1] += " " + piece
    return out


def cited(sentence: str) -> list[int]:
    """The paper numbers a sentence cites, ranges ("[2–4]") spelled out, in order."""
    numbers: list[int] = []
    for group in _CITATION.findall(sentence):
        for part in re.split(r"[,;]", group):
            ends = [int(n) for n in re.findall(r"\d+", part)]
            if len(ends) == 2 and re.search(r"[–-]", part) and ends[0] < ends[1] <= ends[0] + 50:
                numbers.extend(range(ends[0], ends[1] + 1))
            else:
                numbers.extend(ends)
    return list(dict.fromkeys(numbers))


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """A word's comparable form: lower case, plural and common suffixes off, cut to PREFIX."""
    word = word.lower()
    if len(word) <= 3 or not word.isalpha():
        return word  # "GNN", "3d", "ViT": compared whole
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ations", "ation", "ings", "ing", "ed", "er", "ly", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:PREFIX]


def _number(token: str) -> str:
    return token.replace(",", "")


def _latin_terms(text: str) -> list[str]:
    """Content terms of English text: numbers whole ("#41000"), words folded, stopwords out."""
    text = _CATEGORY.sub(" ", _CITATION.sub(" ", text))
    text = re.sub(r"['’]s\b", "", text)  # "today's", "model's"
    terms = ["#" + _number(n) for n in _NUMBER.findall(text)]
    for word in _WORD.findall(_NUMBER.sub(" ", text)):
        if word.lower() not in _STOP and len(word) > 1:
            terms.append(_fold(word))
    return terms


def _bigrams(text: str) -> list[str]:
    runs = _CJK_RUN.findall(text)
    return [run[i : i + 2] for run in runs for i in range(len(run) - 1)
            if run[i : i + 2] not in _CJK_STOP]


@lru_cache(maxsize=4096)
def _vocabulary(text: str) -> frozenset[str]:
    """Every term of a paper's title and abstract (cached: one paper, many sentences)."""
    return frozenset(_latin_terms(text)) | frozenset(_bigrams(text))


def sentence_terms(sentence: str, chinese_sources: bool = False) -> list[str]:
    """The terms of a sentence that must be found in its cited papers, duplicates dropped."""
    terms = _latin_terms(sentence)
    if chinese_sources:
        terms += _bigrams(_CATEGORY.sub(" ", _CITATION.sub(" ", sentence)))
    return list(dict.fromkeys(terms))


def _evidence(sentence: str, sources: Mapping[int, str]) -> tuple[list[str], frozenset[str]]:
    """The sentence's terms and the vocabulary of the papers it cites that exist."""
    texts = [sources[n] for n in cited(sentence) if n in sources]
    terms = sentence_terms(sentence, any(_CJK.search(t) for t in texts))
    return terms, frozenset().union(*(_vocabulary(t) for t in texts))


def support(sentence: str, sources: Mapping[int, str]) -> float | None:
    """The share of the sentence's terms found in the text of the papers it cites.

    ``sources`` maps a paper number to its title and abstract. None when the sentence has no
    term to look for (a zh sentence without Latin script, say).
    """
    terms, known = _evidence(sentence, sources)
    return sum(t in known for t in terms) / len(terms) if terms else None


def unfaithful(paragraph: str, sources: Mapping[int, str],
               min_support: float = MIN_SUPPORT) -> list[Unfaithful]:
    """The paragraph's sentences the cited papers do not back, each with its reason."""
    found = []
    for sentence in split_sentences(paragraph):
        numbers = cited(sentence)
        missing = [n for n in numbers if n not in sources]
        terms, known = _evidence(sentence, sources)
        invented = [t[1:] for t in terms if t.startswith("#") and t not in known]
        share = sum(t in known for t in terms) / len(terms) if terms else 1.0
        if not numbers:
            reason = "no citation"
        elif missing:
            reason = "cites a paper that is not in the digest: " + ", ".join(map(str, missing))
        elif invented:
            reason = "a number the cited papers do not give: " + ", ".join(invented)
        elif share < min_support:
            reason = f"too little support: {share:.2f}"
        else:
            continue
        found.append(Unfaithful(sentence, reason))
    return found
