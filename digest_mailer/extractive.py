"""A briefing without a model: the threads the day's papers share, told in their own words.

A theme is a term (one to three words, stopwords removed, plurals folded) found in two or more
papers, best when those papers sit in different categories. Each theme is illustrated by one
sentence quoted verbatim from an abstract. Pure and deterministic: no network, no randomness,
no dependence on set or hash order. It is the fallback whenever the LLM is absent or fails.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from digest_mailer.digest import Briefing, CategoryGroup, Paper

Term = tuple[str, ...]

_STOP_WORDS = """
a about above after again against all almost along also although among an and another any are
as at be because been before being below between both but by can could did do does doing done
down due during each either else even ever every few for from further given had has have having
here how however i if in into is it its itself just less many may might more most much must my
neither no nor not now of off often on once one only onto or other others otherwise our ours out
over own per rather same several shall she should since so some such than that the their theirs
them themselves then there thereby therefore these they this those though three through thus to
too toward towards two under until up upon us very via was we well were what whatever when where
whereas whether which while who whom whose why will with within without would yet you your
"""
# Words too common in abstracts to be a theme alone; they may still complete one
# ("diffusion model", "graph neural network").
_GENERIC_WORDS = """
accuracy achieve achieved achieving across algorithm analysis approach art based baseline
benchmark better case class common complex consider data dataset deep demonstrate design
different efficient effective empirical evaluate evaluation existing experiment extensive
feature framework general high improve improvement introduce key large learn learned learning
low method model network neural new novel number order outperform paper performance prior
problem propose proposed provide range real recent result set show significant significantly
small state strong study system task technique term time train trained training two use used
using various way work world
"""
_STOP = frozenset(_STOP_WORDS.split())
_GENERIC = frozenset(_GENERIC_WORDS.split())
_NOT_PLURAL = frozenset({"series", "species", "analysis", "bias", "lens", "gas", "chaos"})
_CUE = re.compile(r"\b(?:we (?:show|prove|propose|introduce|find|demonstrate|establish|obtain)"
                  r"|our (?:method|model|results?|approach))\b", re.I)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]*|[^\sA-Za-z0-9]")
_ABBREV = re.compile(r"(?:\b(?:e\.g|i\.e|et al|cf|vs|Fig|Eq|resp|approx)|\b[A-Z])\.$")
_NUM = {"en": {1: "one", 2: "two", 3: "three"}, "zh": {1: "一", 2: "两", 3: "三"}}
MAX_THEMES = 3
MAX_QUOTE = 240


def _stem(word: str) -> str:
    """Fold plurals so "networks" and "network" are one term."""
    if word in _NOT_PLURAL or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _terms(text: str) -> tuple[Counter[Term], dict[Term, Counter[str]]]:
    """Term counts (1–3 word runs unbroken by stopwords or punctuation) and their surfaces."""
    counts: Counter[Term] = Counter()
    surfaces: dict[Term, Counter[str]] = {}
    run: list[tuple[str, str]] = []
    for token in [*_TOKEN.findall(text.replace("-", " ")), "."]:
        low = token.lower()
        if not token[0].isalpha() or low in _STOP:
            run = []  # a stopword or punctuation ends the phrase
            continue
        shown = token if token.isupper() and len(token) > 1 else low  # keep acronyms ("GNN")
        run.append((_stem(low), shown))
        for n in range(1, min(3, len(run)) + 1):
            gram = run[-n:]
            term = tuple(stem for stem, _ in gram)
            if all(s in _GENERIC for s in term) or (n == 1 and len(term[0]) < 3):
                continue
            counts[term] += 1
            surfaces.setdefault(term, Counter())[" ".join(s for _, s in gram)] += 1
    return counts, surfaces


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
class _Theme:
    term: Term
    label: str
    numbers: tuple[int, ...]
    categories: tuple[str, ...]
    plural: bool = False  # "diffusion models link …", "a graph model links …"


class ExtractiveBriefer:
    """Briefings built from the papers themselves (kind "extractive")."""

    def __init__(self, max_chars: int = 1200) -> None:
        self.max_chars = max_chars

    def brief(self, groups: Sequence[CategoryGroup], language: str) -> Briefing:
        papers = list({p.number: p for g in groups for p in g.papers}.values())
        if not papers:
            return Briefing(text="", kind="extractive")
        lang = "zh" if language == "zh" else "en"
        order = list(dict.fromkeys(p.category for p in papers))
        sentences = {p.number: _sentences(p.abstract) for p in papers}
        used: set[str] = set()
        parts: list[tuple[str, str, str, int]] = []  # (kind, lead, quote, quoted paper)
        if len(papers) == 1:
            paper = papers[0]
            lead = (f"今天只有 1 篇论文（{paper.category}）" if lang == "zh"
                    else f"Today's digest has one paper, in {paper.category}")
            quote = self._quote(sentences[paper.number], None, used)
            text = self._assemble("", [("one", lead, quote, paper.number)], lang, shrink=True)
            return Briefing(text=text, kind="extractive")
        for theme in _themes(papers):
            pool = [(n, s) for n in theme.numbers for s in sentences[n]]
            quote, rep = self._pick(pool, theme.term, used) or ("", theme.numbers[0])
            kind = "cross" if len(theme.categories) > 1 else "within" if len(order) > 1 else "one"
            parts.append((kind, _lead(theme, kind, lang), quote, rep))
        if not parts:  # nothing recurs: highlights, taking categories in turn
            seen = Counter[str]()
            turns = {p.number: seen.update([p.category]) or seen[p.category] for p in papers}
            for paper in sorted(papers, key=lambda p: (turns[p.number], order.index(p.category)))[
                :MAX_THEMES
            ]:
                lead = f"来自 {paper.category}" if lang == "zh" else f"From {paper.category}"
                quote = self._quote(sentences[paper.number], None, used)
                parts.append(("highlight", lead, quote, paper.number))
        for k in range(len(parts), 0, -1):  # drop the weakest themes until the paragraph fits
            head = _header(len(papers), order, [kind for kind, *_ in parts[:k]], lang)
            text = self._assemble(head, parts[:k], lang, shrink=k == 1)
            if len(text) <= self.max_chars:
                return Briefing(text=text, kind="extractive")
        raise AssertionError("unreachable")  # pragma: no cover

    def _assemble(self, head: str, parts: list[tuple[str, str, str, int]], lang: str, *,
                  shrink: bool = False) -> str:
        """Header and sentences; with ``shrink``, quotes are shortened until the text fits."""
        sep = " " if lang == "en" else ""

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
            hits = _terms(sentence)[0][term] if term else 1
            if sentence in used or not hits:
                continue
            readable = 40 <= len(sentence) <= MAX_QUOTE
            key = (readable, hits, bool(_CUE.search(sentence)), -number, -index)
            if best_key is None or key > best_key:
                best_key, best = key, (sentence, number)
        if best:
            used.add(best[0])
        return best

    def _fit(self, text: str, lang: str) -> str:
        """The last guard on length: cut at a word (a character for Chinese) and mark it."""
        if len(text) <= self.max_chars:
            return text
        head = text[: self.max_chars - 1]
        if lang == "en" and " " in head:
            head = head.rsplit(" ", 1)[0]
        return head.rstrip(",;:“ ") + "…"


def _themes(papers: list[Paper]) -> list[_Theme]:
    """The strongest recurring terms: cross-category ones first, then those within one.

    A term must be salient (in the title, or twice in the abstract) in at least one of its
    papers, so words that merely recur ("points", "bounds") do not pass for a thread.
    """
    where: dict[Term, set[int]] = {}
    weight: Counter[Term] = Counter()
    salient: Counter[Term] = Counter()
    surfaces: dict[Term, Counter[str]] = {}
    category = {p.number: p.category for p in papers}
    rank = {c: i for i, c in enumerate(dict.fromkeys(p.category for p in papers))}
    for paper in papers:
        title, title_shown = _terms(paper.title)
        body, body_shown = _terms(paper.abstract)
        for term in sorted(title.keys() | body.keys()):
            central = term in title or body[term] >= 2
            where.setdefault(term, set()).add(paper.number)
            weight[term] += 1 + 2 * (term in title) + (body[term] >= 2)
            salient[term] += central
            shown = surfaces.setdefault(term, Counter())
            shown.update(title_shown.get(term, {}))
            shown.update(body_shown.get(term, {}))

    def spread(term: Term) -> int:
        return len({category[n] for n in where[term]})

    ranked = sorted(
        (t for t, numbers in where.items() if len(numbers) >= 2 and salient[t]),
        key=lambda t: (spread(t) < 2, -weight[t], -len(where[t]), -spread(t), -len(t), t),
    )
    chosen: list[_Theme] = []
    for term in ranked:
        numbers = tuple(sorted(where[term]))
        if len(chosen) == MAX_THEMES:
            break
        if any(set(term) & set(c.term) or _jaccard(numbers, c.numbers) >= 0.5 for c in chosen):
            continue  # the same thread seen through another word
        # Name it by the most specific phrase the same papers share: "diffusion models".
        term = max((u for u in ranked if where[u] == where[term] and set(term) <= set(u)),
                   key=lambda u: (len(u), weight[u], u))
        cats = tuple(sorted({category[n] for n in numbers}, key=rank.__getitem__))
        label = min(surfaces[term].items(), key=lambda kv: (-kv[1], kv[0]))[0]
        last = label.rsplit(" ", 1)[-1].lower()
        chosen.append(_Theme(term, label, numbers, cats, plural=_stem(last) != last))
    return chosen


def _jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    return len(set(a) & set(b)) / len(set(a) | set(b))


def _cite(numbers: Sequence[int]) -> str:
    shown = [str(n) for n in numbers[:6]]
    return "[" + ", ".join(shown) + (", …" if len(numbers) > 6 else "") + "]"


def _join(items: Sequence[str], lang: str) -> str:
    if len(items) < 2:
        return "".join(items)
    last = " 和 " if lang == "zh" else " and "
    return ("、" if lang == "zh" else ", ").join(items[:-1]) + last + items[-1]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _count(n: int, lang: str) -> str:
    return _NUM[lang].get(n, str(n))


def _lead(theme: _Theme, kind: str, lang: str) -> str:
    """The start of a theme's sentence, up to and including the citation of its papers."""
    cite, many = _cite(theme.numbers), _count(len(theme.numbers), lang)
    if lang == "zh":
        if kind == "cross":
            return f"「{theme.label}」连接了 {_join(theme.categories, lang)} {cite}"
        where = f"在 {theme.categories[0]} 中，" if kind == "within" else ""
        return f"{where}{many} 篇论文都涉及「{theme.label}」{cite}"
    if kind == "cross":
        verb = "link" if theme.plural else "links"
        return f"{_upper_first(theme.label)} {verb} {_join(theme.categories, lang)} {cite}"
    papers = f"{many} papers take up {theme.label} {cite}"
    return f"In {theme.categories[0]}, {papers}" if kind == "within" else _upper_first(papers)


def _seg(lead: str, quote: str, number: int, lang: str, limit: int = MAX_QUOTE) -> str:
    """One sentence: the lead, then the quoted sentence and the paper it comes from."""
    if len(quote) > limit:
        quote = quote[: limit - 1].rsplit(" ", 1)[0] + "…"
    quote = quote.rstrip(".;:。；：")
    if lang == "zh":
        return f"{lead}：“{quote}” [{number}]。" if quote else f"{lead}。"
    return f"{lead}: “{quote}” [{number}]." if quote else f"{lead}."


def _header(total: int, order: list[str], kinds: list[str], lang: str) -> str:
    cats, cross = _join(order, lang), kinds.count("cross")
    if lang == "zh":
        if cross:
            return f"今天的 {total} 篇论文分布在 {cats}，有{_count(cross, lang)}条跨领域的线索。"
        if "highlight" in kinds:
            return f"今天的 {total} 篇论文（{cats}）没有明显的共同线索，以下是几篇亮点。"
        if "within" in kinds:
            return f"今天的 {total} 篇论文（{cats}）没有跨领域的共同线索，但领域内有相近的工作。"
        return f"今天 {cats} 的 {total} 篇论文有{_count(len(kinds), lang)}条共同线索。"
    shared = cross or len(kinds)
    threads = f"{_count(shared, lang)} thread{'s' if shared > 1 else ''}"
    if cross:
        return f"Today's {total} papers in {cats} share {threads} across fields."
    if "highlight" in kinds:
        return f"Today's {total} papers in {cats} share no common thread; some highlights."
    if "within" in kinds:
        return (f"No thread spans the fields of today's {total} papers ({cats}), "
                "but some recur within one.")
    return f"Today's {total} papers in {cats} share {threads}."
