"""A briefing without a model: the threads the day's papers share, told in their own words.

A theme is a term (one to three words; hyphenated compounds kept whole, plurals folded) that a
few papers share but the day's background does not: its document frequency must sit in a band
relative to the digest's size, and it must be central (in a title, or repeated in an abstract).
Phrases beat single words, which need two central papers. Each theme cites at most MAX_CITED
papers, those that carry it most, and quotes one abstract sentence verbatim. Pure and
deterministic (no network, randomness, or hash order); the fallback whenever the LLM fails.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from digest_mailer.domain.digest import Briefing, CategoryGroup, Paper
from digest_mailer.i18n import texts

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
# Single words that end so are mostly adjectives ("scalable", "bounded"): no theme alone.
_ADJECTIVE = ("able", "ible", "ive", "ous", "ful", "less", "ed")
_NOT_PLURAL = frozenset({"series", "species", "analysis", "bias", "lens", "gas", "chaos"})
_CUE = re.compile(r"\b(?:we (?:show|prove|propose|introduce|find|demonstrate|establish|obtain)"
                  r"|our (?:method|model|results?|approach))\b", re.I)
# Words, hyphenated compounds whole ("multi-GPU"); a trailing hyphen marks a fragment
# ("Symbol- and Graph-Aware"). TeX math is dropped before tokenising.
_TOKEN = re.compile(r"[^\W\d_]\w*(?:[-–][^\W\d_]\w*)*-?|[^\s\w]|\d\S*")
_MATH = re.compile(r"\$[^$]*\$")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Eq|resp|approx)|\b[A-Z])\.$")
_VERBS = 3  # brief.cross.1..3 in each language table: the verb varies from theme to theme
MAX_THEMES = 3
MAX_CITED = 5
MAX_QUOTE = 240


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
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
def _weak(stem: str) -> bool:
    """A word, or compound, that cannot be a theme on its own."""
    parts = stem.split("-")
    return (len(stem) < 3 or stem in _GENERIC or parts[-1] in _SUFFIXES
            or all(p in _STOP or p in _GENERIC or p[:1].isdigit() for p in parts))


def _terms(text: str, title: bool = False,
           surfaces: dict[Term, Counter[str]] | None = None) -> Counter[Term]:
    """Term counts: 1–3 word runs unbroken by stopwords, filler or punctuation. With
    ``surfaces``, also their wordings; a capital is kept only where it means something
    ("GNN", "PyTorch", "Gaussian" mid-sentence), so titles in Title Case do not shout."""
    counts: Counter[Term] = Counter()
    stems: list[str] = []
    shown: list[str] = []
    weak: list[bool] = []
    initial = True
    for token in [*_TOKEN.findall(_MATH.sub(" , ", text)), "."]:
        low = token.lower()
        after_stop, initial = initial, token in ".!?:"
        if not token[0].isalpha() or token.endswith("-") or low in _STOP:
            stems, shown, weak = [], [], []
            continue
        capital = token[0].isupper() and not (title or after_stop)
        shown.append(token if capital or any(c.isupper() for c in token[1:]) else low)
        stems.append(_stem(low))
        weak.append(_weak(stems[-1]))
        for n in range(1, min(3, len(stems)) + 1):
            if all(weak[-n:]):
                continue
            term = tuple(stems[-n:])
            counts[term] += 1
            if surfaces is not None:
                surfaces.setdefault(term, Counter())[" ".join(shown[-n:])] += 1
    return counts


def _sentences(abstract: str) -> list[str]:
    """Abstract sentences, whitespace collapsed; "e.g." and "et al." do not end one."""
    text = " ".join(abstract.split())
    out, start = [], 0
    for match in re.finditer(r"[.!?](?=\s+[A-Z0-9(\[“\"])|[。！？]", text):
        if _ABBREV.search(text[start : match.end()]):
            continue
        out.append(text[start : match.end()].strip())
        start = match.end()
    out.append(text[start:].strip())
    return [s for s in out if s]


@dataclass(frozen=True)
class Theme:
    """A thread of the day: its label as shown, and the papers (numbers) that carry it."""

    term: Term
    label: str
    numbers: tuple[int, ...]
    categories: tuple[str, ...]
    plural: bool = False  # "diffusion models link …", "a graph model links …"


def find_themes(groups: Sequence[CategoryGroup]) -> list[Theme]:
    """The day's themes, strongest first (cross-category ones ahead), as the briefing tells them."""
    return _themes(list({p.number: p for g in groups for p in g.papers}.values()))


class ExtractiveBriefer:
    """Briefings built from the papers themselves (kind "extractive")."""

    def __init__(self, max_chars: int = 1200) -> None:
        self.max_chars = max_chars

    def brief(self, groups: Sequence[CategoryGroup], language: str,
              budget: object = None) -> Briefing:
        papers = list({p.number: p for g in groups for p in g.papers}.values())
        if not papers:
            return Briefing(text="", kind="extractive")
        lang = texts(language)  # an unknown code raises here: no English in its place
        order = list(dict.fromkeys(p.category for p in papers))
        sentences = {p.number: _sentences(p.abstract) for p in papers}
        used: set[str] = set()
        parts: list[tuple[str, str, str, int]] = []  # (kind, lead, quote, quoted paper)
        if len(papers) == 1:
            paper = papers[0]
            lead = lang["brief.one_paper"].format(category=paper.category)
            quote = self._quote(sentences[paper.number], None, used)
            text = self._assemble("", [("one", lead, quote, paper.number)], lang, shrink=True)
            return Briefing(text=text, kind="extractive")
        for index, theme in enumerate(find_themes(groups)):
            pool = [(n, s) for n in theme.numbers for s in sentences[n]]
            quote, rep = self._pick(pool, theme.term, used) or ("", theme.numbers[0])
            kind = "cross" if len(theme.categories) > 1 else "within" if len(order) > 1 else "one"
            parts.append((kind, _lead(theme, kind, lang, index), quote, rep))
        if not parts:  # nothing recurs: highlights, taking categories in turn
            seen = Counter[str]()
            turns = {p.number: seen.update([p.category]) or seen[p.category] for p in papers}
            for paper in sorted(papers, key=lambda p: (turns[p.number], order.index(p.category)))[
                :MAX_THEMES
            ]:
                lead = lang["brief.highlight"].format(category=paper.category)
                quote = self._quote(sentences[paper.number], None, used)
                parts.append(("highlight", lead, quote, paper.number))
        for k in range(len(parts), 0, -1):  # drop the weakest themes until the paragraph fits
            head = _header(len(papers), order, [kind for kind, *_ in parts[:k]], lang)
            text = self._assemble(head, parts[:k], lang, shrink=k == 1)
            if len(text) <= self.max_chars:
                return Briefing(text=text, kind="extractive")
        raise AssertionError("unreachable")  # pragma: no cover

    def _assemble(self, head: str, parts: list[tuple[str, str, str, int]],
                  lang: Mapping[str, str], *, shrink: bool = False) -> str:
        """Header and sentences; with ``shrink``, quotes are shortened until the text fits."""
        sep = lang["lang.word_sep"]

        def build(limit: int) -> str:
            segs = [_seg(lead, quote, n, lang, limit) for _, lead, quote, n in parts]
            return sep.join(s for s in [head, *segs] if s)

        text = build(MAX_QUOTE)
        if not shrink or len(text) <= self.max_chars:
            return text
        longest = max(min(len(q), MAX_QUOTE) for _, _, q, _ in parts)
        return self._fit(build(max(30, longest - (len(text) - self.max_chars) - 2)), lang)

    def _quote(self, sentences: list[str], term: Term | None, used: set[str]) -> str:
        best = self._pick([(0, s) for s in sentences], term, used)
        return best[0] if best else ""

    @staticmethod
    def _pick(pool: list[tuple[int, str]], term: Term | None, used: set[str]
              ) -> tuple[str, int] | None:
        """The sentence that best states ``term`` (or the paper's claim): mentions, a "we
        show"-like cue, a readable length; ties go to the earlier paper and sentence."""
        best_key, best = None, None
        for index, (number, sentence) in enumerate(pool):
            hits = _terms(sentence)[term] if term else 1
            if sentence in used or not hits:
                continue
            readable = 40 <= len(sentence) <= MAX_QUOTE
            key = (readable, hits, bool(_CUE.search(sentence)), -number, -index)
            if best_key is None or key > best_key:
                best_key, best = key, (sentence, number)
        if best:
            used.add(best[0])
        return best

    def _fit(self, text: str, lang: Mapping[str, str]) -> str:
        """The last guard on length: cut at a word (a character where words have no spaces
        between them, as in Chinese) and mark it."""
        if len(text) <= self.max_chars:
            return text
        head = text[: self.max_chars - 1]
        if lang["lang.word_sep"] and " " in head:
            head = head.rsplit(" ", 1)[0]
        return head.rstrip(",;:“ ") + "…"


def _themes(papers: list[Paper]) -> list[Theme]:
    """The strongest recurring terms; see the module docstring for what makes one."""
    where: dict[Term, dict[int, int]] = {}  # term -> {paper number: evidence}
    titled: Counter[Term] = Counter()
    category = {p.number: p.category for p in papers}
    rank = {c: i for i, c in enumerate(dict.fromkeys(p.category for p in papers))}
    for paper in papers:
        title, body = _terms(paper.title, title=True), _terms(paper.abstract)
        for term in title.keys() | body.keys():
            where.setdefault(term, {})[paper.number] = 3 * (term in title) + min(body[term], 3)
            titled[term] += term in title
    # A theme is shared by a few papers, not by the day's background: 2..max_df of them.
    max_df = max(3, min(MAX_CITED + 1, math.ceil(len(papers) / 4)))

    def spread(term: Term) -> int:
        return len({category[n] for n in where[term]})

    def score(term: Term) -> float:
        evidence = sorted(where[term].values(), reverse=True)[:MAX_CITED]
        specific = math.log(1 + len(papers) / len(where[term]))
        shape = 0.45 if len(term) == 1 else 0.5 + len(term) / 2
        cross = (1.25 if len(term) == 1 else 1.5) if spread(term) > 1 else 1
        return sum(evidence) * specific * shape * cross

    def salient(term: Term) -> bool:
        central = sum(e >= 2 for e in where[term].values())  # in the title, or repeated
        if len(term) > 1:
            return central >= 1
        return central >= 2 and titled[term] >= 1 and not term[0].endswith(_ADJECTIVE)

    candidates = [t for t, seen in where.items() if 2 <= len(seen) <= max_df and salient(t)]
    scores = {t: score(t) for t in candidates}
    ranked = sorted(candidates, key=lambda t: (-scores[t], -len(where[t]), -len(t), t))
    chosen: list[Theme] = []
    for term in ranked:
        if len(chosen) == MAX_THEMES:
            break
        carriers = sorted(where[term], key=lambda n: (-where[term][n], n))[:MAX_CITED]
        numbers = tuple(sorted(carriers))
        if any(set(term) & set(c.term) or _jaccard(numbers, c.numbers) >= 0.5 for c in chosen):
            continue  # the same thread seen through another word
        # Name it by the most specific phrase the same papers share: "diffusion models".
        term = max((u for u in candidates if where[u].keys() == where[term].keys()
                    and set(term) <= set(u)), key=lambda u: (len(u), scores[u], u))
        cats = tuple(sorted({category[n] for n in numbers}, key=rank.__getitem__))
        surfaces: dict[Term, Counter[str]] = {}
        for paper in papers:
            if paper.number in where[term]:
                _terms(paper.title, True, surfaces)
                _terms(paper.abstract, False, surfaces)
        label = _label(surfaces[term])
        last = label.rsplit(" ", 1)[-1].lower()
        chosen.append(Theme(term, label, numbers, cats, plural=_stem(last) != last))
    return sorted(chosen, key=lambda t: len(t.categories) < 2)  # cross-category first


def _label(surfaces: Counter[str]) -> str:
    """The commonest wording, capitalised only where capitals outnumber lower case."""
    merged: Counter[str] = Counter()
    for shown, n in surfaces.items():
        merged[shown.lower()] += n
    best = min(merged.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    forms = [s for s in surfaces if s.lower() == best]
    return min(forms, key=lambda s: (-surfaces[s], s != best, s))


def _jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    return len(set(a) & set(b)) / len(set(a) | set(b))


def _cite(numbers: Sequence[int]) -> str:
    return "[" + ", ".join(str(n) for n in numbers) + "]"


def _join(items: Sequence[str], lang: Mapping[str, str]) -> str:
    if len(items) < 2:
        return "".join(items)
    return lang["lang.list_sep"].join(items[:-1]) + lang["lang.list_and"] + items[-1]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count(n: int, lang: Mapping[str, str]) -> str:
    """"five" / "五" up to five, digits above."""
    return lang.get(f"lang.num.{n}", str(n))


def _lead(theme: Theme, kind: str, lang: Mapping[str, str], index: int = 0) -> str:
    """The start of a theme's sentence, up to and including the citation of its papers; the
    verb joining fields varies from one cross-category theme to the next. The sentence
    starts with a capital where the language has them ("Diffusion models link …")."""
    fields = {"label": theme.label, "cite": _cite(theme.numbers),
              "count": _count(len(theme.numbers), lang)}
    if kind == "cross":
        key = f"brief.cross{'_plural' if theme.plural else ''}.{index % _VERBS + 1}"
        return _upper_first(lang[key].format(categories=_join(theme.categories, lang), **fields))
    if kind == "within":
        return _upper_first(lang["brief.within"].format(category=theme.categories[0], **fields))
    return _upper_first(lang["brief.shared"].format(**fields))


def _seg(lead: str, quote: str, number: int, lang: Mapping[str, str],
         limit: int = MAX_QUOTE) -> str:
    """One sentence: the lead, then the quoted sentence and the paper it comes from."""
    if len(quote) > limit:
        quote = quote[: limit - 1].rsplit(" ", 1)[0] + "…"
    quote = quote.rstrip(".;:。；：")
    if quote:
        return lang["brief.quoted"].format(lead=lead, quote=quote, number=number)
    return lang["brief.unquoted"].format(lead=lead)


def _header(total: int, order: list[str], kinds: list[str], lang: Mapping[str, str]) -> str:
    cats, cross = _join(order, lang), kinds.count("cross")
    shared = cross or len(kinds)
    threads = lang["brief.thread_one" if shared == 1 else "brief.thread_many"].format(
        count=_count(shared, lang))
    if cross:
        key = "brief.head_cross"
    elif "highlight" in kinds:
        key = "brief.head_highlight"
    elif "within" in kinds:
        key = "brief.head_within"
    else:
        key = "brief.head_shared"
    return lang[key].format(total=total, categories=cats, threads=threads)
