"""The admin overview's charts: the last 30 days of runs (see services/dashboard.py), in
the admin's language."""

from __future__ import annotations

from digest_mailer import i18n
from digest_mailer.faces.web.charts import Chart, Series, chart
from digest_mailer.services.dashboard import Days

# Each chart: its id, its kind and its series (the names services/dashboard.py counts).
CHARTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("digests", "bar", ("sent", "failed", "empty", "bounced")),
    ("llm", "bar", ("llm_calls", "llm_cache_hits")),
    ("tokens", "line", ("llm_input_tokens",)),
    ("sources", "bar", ("sources_failing", "fetch_failures")),
)


def charts(days: Days, lang: str) -> list[Chart]:
    """The dashboard's charts of ``days``, their words in ``lang``."""
    def t(key: str, **fmt: object) -> str:
        return i18n.t(lang, f"page.admin.dashboard.{key}", **fmt)

    made = []
    for ident, kind, names in CHARTS:
        series = [Series(name.replace("_", "-"), t(f"series.{name}"), days.of(name))
                  for name in names]
        totals = i18n.t(lang, "lang.list_sep").join(
            t("total", name=s.name, n=sum(s.values)) for s in series)
        desc = t("desc", first=f"{days.days[0]:%Y-%m-%d}", last=f"{days.days[-1]:%Y-%m-%d}",
                 totals=totals)
        notes = ["\n".join(e) for e in days.errors] if ident == "sources" else None
        made.append(chart(f"chart-{ident}", t(f"{ident}.title"), desc, days.days, series,
                          kind=kind, notes=notes, tip=t("tip")))
    return made
