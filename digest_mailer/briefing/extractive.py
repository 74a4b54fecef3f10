"""A briefing without a model: the day's themes, told with what their papers contribute.

Themes come from :mod:`digest_mailer.briefing.themes` (papers close in content, named by a
phrase they share); each cites at most MAX_CITED papers, names what each of a cross-field
theme's papers brings, and quotes one sentence verbatim: the one that states a paper's method
or result, not its background. With no theme, a few highlights, taking categories in turn.
Pure and deterministic (no network, randomness, or hash order); the fallback whenever the
LLM fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from digest_mailer.briefing.sentences import roles, split
from digest_mailer.briefing.terms import Term, stem, terms
from digest_mailer.briefing.themes import DigestTheme, Theme, digest_themes
from digest_mailer.domain.digest import Briefing, CategoryGroup, Paper
from digest_mailer.i18n import category_in_text, digest_texts, spaced

_VERBS = 3  # brief.cross.1..3 in each language table: the verb varies from theme to theme
MAX_THEMES = 3
MAX_QUOTE = 240
MAX_ANGLES = 3  # papers of a cross-field theme named by what each brings


class ExtractiveBriefer:
    """Briefings built from the papers themselves (kind "extractive")."""

    def __init__(self, max_chars: int = 1200) -> None:
        self.max_chars = max_chars

    def brief(self, groups: Sequence[CategoryGroup], language: str,
              budget: object = None, themes: Sequence[Theme] | None = None,
              cadence: str = "daily") -> Briefing:
        """The briefing; ``themes``: the send batch's (found among the digest's papers when
        None)."""
        papers = list({p.number: p for g in groups for p in g.papers}.values())
        if not papers:
            return Briefing(text="", kind="extractive")
        # An unknown code raises here: no English in its place.
        lang = digest_texts(language, cadence)
        order = list(dict.fromkeys(p.category for p in papers))
        names = {c: category_in_text(c, language) for c in order}  # as sentences name them
        sentences = {p.number: list(split(p.abstract)) for p in papers}
        used: set[str] = set()
        parts: list[tuple[str, str, str, int]] = []  # (kind, lead, quote, quoted paper)
        if len(papers) == 1:
            paper = papers[0]
            lead = spaced(lang["brief.one_paper"].format(category=names[paper.category]))
            quote = self._quote(sentences[paper.number], None, used)
            text = self._assemble("", [("one", lead, quote, paper.number)], lang, shrink=True)
            return Briefing(text=text, kind="extractive")
        found = digest_themes(groups, themes)[:MAX_THEMES]
        by_number = {p.number: p for p in papers}
        for index, theme in enumerate(found):
            words = theme.theme.term
            pool = [(n, s) for n in theme.numbers for s in sentences[n]]
            quote, rep = self._pick(pool, words, used) or ("", theme.numbers[0])
            kind = "cross" if theme.cross else "within" if len(order) > 1 else "one"
            lead = _lead(theme, kind, lang, names, index)
            if kind == "cross":
                lead = _with_angles(lead, theme, by_number, lang)
            parts.append((kind, lead, quote, rep))
        headline = found[0].theme.name if found else ""
        if not parts:  # nothing recurs: highlights, taking categories in turn
            seen = Counter[str]()
            turns = {p.number: seen.update([p.category]) or seen[p.category] for p in papers}
            for paper in sorted(papers, key=lambda p: (turns[p.number], order.index(p.category)))[
                :MAX_THEMES
            ]:
                lead = spaced(lang["brief.highlight"].format(category=names[paper.category]))
                quote = self._quote(sentences[paper.number], None, used)
                parts.append(("highlight", lead, quote, paper.number))
        for k in range(len(parts), 0, -1):  # drop the weakest themes until the paragraph fits
            head = _header(len(papers), [names[c] for c in order],
                           [kind for kind, *_ in parts[:k]], lang)
            text = self._assemble(head, parts[:k], lang, shrink=k == 1)
            if len(text) <= self.max_chars:
                return Briefing(text=text, kind="extractive", headline=headline)
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
        """The sentence that states a paper's contribution (a "we show"-like cue), of a
        readable length, naming ``term`` where one does; ties go to the earlier paper and
        sentence (the most central paper comes first)."""
        best_key, best = None, None
        by_paper: dict[int, list[str]] = {}
        place = []  # each sentence's place in its abstract
        for number, sentence in pool:
            place.append(len(by_paper.setdefault(number, [])))
            by_paper[number].append(sentence)
        scores = {n: roles(found) for n, found in by_paper.items()}
        for index, (number, sentence) in enumerate(pool):
            if sentence in used:
                continue
            hits = min(terms(sentence)[term], 1) if term else 0
            readable = 40 <= len(sentence) <= MAX_QUOTE
            contributes = scores[number][place[index]] > 0
            # What the paper contributes first; a sentence naming the theme breaks a tie.
            key = (readable, contributes, hits, -number, -index)
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


def _lead(theme: DigestTheme, kind: str, lang: Mapping[str, str], names: Mapping[str, str],
          index: int = 0) -> str:
    """The start of a theme's sentence, up to and including the citation of its papers; the
    verb joining fields varies from one cross-category theme to the next. The sentence
    starts with a capital where the language has them ("Diffusion models link …");
    ``names``: each category as the language's sentences name it."""
    name = theme.theme.name
    last = name.rsplit(" ", 1)[-1].lower()
    fields = {"label": name, "cite": _cite(sorted(theme.numbers)),
              "count": _count(len(theme.numbers), lang)}
    if kind == "cross":
        plural = stem(last) != last  # "diffusion models link …", "a graph model links …"
        key = f"brief.cross{'_plural' if plural else ''}.{index % _VERBS + 1}"
        cats = _join([names[c] for c in theme.categories], lang)
        return spaced(_upper_first(lang[key].format(categories=cats, **fields)))
    if kind == "within":
        category = names[theme.categories[0]]
        return spaced(_upper_first(lang["brief.within"].format(category=category, **fields)))
    return spaced(_upper_first(lang["brief.shared"].format(**fields)))


def _with_angles(lead: str, theme: DigestTheme, papers: Mapping[int, Paper],
                 lang: Mapping[str, str]) -> str:
    """The lead and what each paper brings: "…, [4] on robot navigation and [9] on …"."""
    angles = theme.theme.angles
    numbers = sorted(n for n in theme.numbers if papers[n].key in angles)[:MAX_ANGLES]
    named = [lang["brief.angle"].format(number=n, angle=angles[papers[n].key])
             for n in numbers]
    if len(named) < 2:
        return lead
    joined = lang["brief.angle_sep"].join(named[:-1]) + lang["brief.angle_and"] + named[-1]
    return lang["brief.angles"].format(lead=lead, angles=joined)


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
    return spaced(lang[key].format(total=total, categories=cats, threads=threads))
