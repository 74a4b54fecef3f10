"""Bar and line charts of per-day numbers as inline SVG strings, with no JavaScript.

Pure: numbers and words in, markup out. Every text is escaped (a source's label or error
may be anyone's words); each chart names itself to screen readers (``<title>``, ``<desc>``,
``role="img"``) and carries its numbers in ``data-*`` attributes and :attr:`Chart.rows`,
which the page shows as a table too.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup

WIDTH, HEIGHT = 720, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 30, 24  # the plot's margins: axis labels, legend
# Okabe–Ito: told apart by readers with any common colour blindness.
COLOURS = ("#0072B2", "#D55E00", "#E69F00", "#CC79A7", "#009E73", "#56B4E9")
NOTE_CHARS = 300
# XML 1.0 refuses these even escaped; a hostile label must not make the page unparsable.
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_IDENT = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class Series:
    key: str  # [a-z0-9_-]: the data-series attribute
    name: str  # the legend's words
    values: Sequence[int]


@dataclass(frozen=True)
class Chart:
    ident: str
    title: str
    desc: str
    days: Sequence[date]
    series: Sequence[Series]
    notes: Sequence[str]  # per day: more words for that day's tooltips ("" for none)
    svg: Markup

    @property
    def rows(self) -> list[tuple[date, list[int], str]]:
        """Per day: the day, each series' value, the day's note."""
        return [(day, [s.values[i] for s in self.series], self.notes[i])
                for i, day in enumerate(self.days)]


def text(value: object) -> str:
    """``value`` as XML text or attribute content: escaped, unwritable characters dropped."""
    return html.escape(_UNWRITABLE.sub("", str(value)), quote=True)


def short(n: float) -> str:
    """An axis label: 950, 12k, 1.5M."""
    if abs(n) >= 1_000_000:
        return f"{n / 1_000_000:.3g}M"
    if abs(n) >= 10_000:
        return f"{n / 1000:.3g}k"
    return f"{n:g}"


def scale(top: int) -> tuple[int, int]:
    """The axis's step (1, 2 or 5 × 10ⁿ) and its top, at most 4 steps, holding ``top``."""
    if top <= 0:
        return 1, 1
    step = 10 ** max(0, math.floor(math.log10(top / 4)))
    for factor in (1, 2, 5, 10):
        if math.ceil(top / (step * factor)) <= 4:
            step *= factor
            break
    return step, step * math.ceil(top / step)


def chart(ident: str, title: str, desc: str, days: Sequence[date], series: Sequence[Series],
          *, kind: str = "bar", notes: Sequence[str] | None = None,
          tip: str = "{day} · {series}: {value}") -> Chart:
    """A ``kind`` ("bar": side by side per day; "line") chart of ``series`` over ``days``;
    ``tip``: a point's tooltip, with ``{day}``, ``{series}`` and ``{value}``."""
    if not _IDENT.fullmatch(ident) or not all(_IDENT.fullmatch(s.key) for s in series):
        raise ValueError(f"chart and series ids must match {_IDENT.pattern}")
    if any(len(s.values) != len(days) for s in series):
        raise ValueError("every series needs one value per day")
    notes = list(notes) if notes is not None else [""] * len(days)
    step, top = scale(max((v for s in series for v in s.values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)

    def y(value: float) -> float:
        return TOP + plot_h - plot_h * value / top

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" style="max-width:100%;height:auto" '
             f'class="chart" id="{ident}" role="img" aria-labelledby="{ident}-title '
             f'{ident}-desc" font-size="11" font-family="sans-serif">',
             f'<title id="{ident}-title">{text(title)}</title>',
             f'<desc id="{ident}-desc">{text(desc)}</desc>']
    for tick in range(0, top + 1, step):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#ddd"/>'
                     f'<text x="{LEFT - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" '
                     f'fill="#555">{short(tick)}</text>')
    for i in range(len(days) - 1, -1, -7):  # a date every week, counted back from today
        parts.append(f'<text x="{LEFT + slot * (i + 0.5):.1f}" y="{HEIGHT - 6}" '
                     f'text-anchor="middle" fill="#555">{days[i]:%m-%d}</text>')
    x = LEFT
    for n, s in enumerate(series):  # the legend, above the plot
        colour = COLOURS[n % len(COLOURS)]
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{colour}"/>'
                     f'<text x="{x + 14}" y="17" fill="#222">{text(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    width = slot * 0.8 / max(len(series), 1)
    for n, s in enumerate(series):
        colour = COLOURS[n % len(COLOURS)]
        points = []
        for i, value in enumerate(s.values):
            said = tip.format(day=f"{days[i]:%Y-%m-%d}", series=s.name, value=value)
            if notes[i]:
                said += "\n" + notes[i][:NOTE_CHARS]
            data = (f'data-series="{s.key}" data-day="{days[i]:%Y-%m-%d}" '
                    f'data-value="{value}"')
            if kind == "line":
                cx = LEFT + slot * (i + 0.5)
                points.append(f"{cx:.1f},{y(value):.1f}")
                parts.append(f'<circle cx="{cx:.1f}" cy="{y(value):.1f}" r="2.5" '
                             f'fill="{colour}" {data}><title>{text(said)}</title></circle>')
            elif value:
                bx = LEFT + slot * (i + 0.1) + width * n
                parts.append(f'<rect x="{bx:.1f}" y="{y(value):.1f}" width="{width:.1f}" '
                             f'height="{y(0) - y(value):.1f}" fill="{colour}" {data}>'
                             f'<title>{text(said)}</title></rect>')
        if points:
            parts.insert(-len(s.values), f'<polyline points="{" ".join(points)}" '
                         f'fill="none" stroke="{colour}" stroke-width="1.5"/>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
                 'stroke="#888"/></svg>')
    return Chart(ident, title, desc, tuple(days), tuple(series), tuple(notes),
                 Markup("".join(parts)))  # each text went through text()
