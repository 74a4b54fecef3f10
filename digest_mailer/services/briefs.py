"""The concurrent briefing pass of a send batch: each distinct selection briefed once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.protocol import Briefer, BudgetExhausted, RunBudget
from digest_mailer.briefing.themes import Theme, ThemePaper, find_themes
from digest_mailer.db.models import Delivery, Subscriber
from digest_mailer.domain.compose import cadence_of, with_tldrs
from digest_mailer.domain.digest import Briefing, CategoryGroup, Paper
from digest_mailer.domain.schedule import DAILY, WEEK, WEEKLY
from digest_mailer.services.compose import briefing_kind, stored_briefing
from digest_mailer.services.report import Report

log = logging.getLogger(__name__)


def theme_window(now: datetime, cadence: str = DAILY) -> datetime:
    """Where the themes of a ``cadence`` digest start: the beginning of yesterday, UTC; a
    weekly one's a week earlier, so they come from the span its digest covers (a week
    since the last one, as a first weekly digest looks back a week).

    The same for every batch and worker of a day, so each finds the same themes and a
    theme's paragraph is asked once a day, not once a batch (cost that does not grow with
    the readers); it moves on at midnight UTC, and papers that arrive later join the set.
    """
    start = now.astimezone(UTC).date() - timedelta(days=1)
    if cadence == WEEKLY:
        start -= timedelta(days=WEEK.days)
    return datetime.combine(start, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class BriefingConfig:
    """The run's budget for the LLM (``DIGEST_LLM_*``)."""

    concurrency: int
    max_calls: int
    max_tokens: int
    budget_seconds: float


@dataclass
class Job:
    """One claimed digest between the passes of a batch."""

    subscriber: Subscriber
    delivery: Delivery
    groups: tuple[CategoryGroup, ...]
    briefing: Briefing | None = None
    # Claimed from `resend`: an earlier copy may have arrived, this is its one resend.
    resending: bool = False


class BriefingPass:
    """One send batch's briefings, asked for concurrently within the run's LLM budget."""

    def __init__(self, briefer: Briefer, extractive: ExtractiveBriefer,
                 config: BriefingConfig) -> None:
        self.briefer = briefer
        self.extractive = extractive
        self.config = config
        # Per cadence, the window's themes, kept while its papers stay the same (one set
        # each: daily and weekly batches take turns without finding them again).
        self._themes: dict[str, tuple[frozenset[str], list[Theme]]] = {}
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        """The briefing a digest is to get (compose.briefing_kind)."""
        return briefing_kind(self.briefer)

    def themes_of(self, day: Sequence[ThemePaper], cadence: str = DAILY) -> list[Theme]:
        """The themes of a window's papers, found once per distinct set and cadence in
        this process."""
        keys = frozenset(p.key for p in day)
        with self._lock:
            found = self._themes.get(cadence)
            if found is not None and found[0] == keys:
                return found[1]
        # Sorted: the same papers give the same themes whatever order they were read in.
        themes = find_themes(sorted({p.key: p for p in day}.values(), key=lambda p: p.key))
        with self._lock:
            self._themes[cadence] = (keys, themes)
        return themes

    def briefed(self, jobs: Iterable[Job], report: Report,
                windows: Mapping[str, Sequence[ThemePaper]] | None = None) -> Iterator[Job]:
        """Yield the jobs with their briefings, each as soon as its briefing is ready.

        Each distinct (papers, language, cadence) is asked for once, ``llm_concurrency`` at a
        time, within the run's budget (``llm_max_calls``, ``llm_max_tokens``,
        ``llm_budget_seconds``): a briefing not written when it is spent, or not done by
        the deadline, is the extractive one. A request already in flight at the deadline
        cannot be stopped; it ends in the background, within ``llm_timeout``. ``windows``:
        by cadence, the papers whose themes those digests' briefings name (theme_window's;
        the batch's own papers of that cadence when absent or empty).
        """
        todo: dict[tuple[tuple[str, ...], str, str], list[Job]] = {}
        for job in jobs:
            stored = stored_briefing(job.delivery)
            if stored is not None:
                job.briefing = stored
                yield job
            else:
                key = (tuple(job.delivery.entry_keys), job.subscriber.language,
                       cadence_of(job.delivery.notes))
                todo.setdefault(key, []).append(job)
        if not todo:
            return
        papers = list({p.key: p for same in todo.values() for g in same[0].groups
                       for p in g.papers}.values())
        # The window's themes (every paper first seen since theme_window), else the batch's
        # own: either way readers whose papers overlap share them. A daily-only batch
        # finds one set, as before; weekly readers get the week's.
        themes = {cadence: self.themes_of(
            (windows or {}).get(cadence) or _theme_papers(
                same for key, same in todo.items() if key[2] == cadence), cadence)
            for cadence in sorted({key[2] for key in todo})}
        config = self.config
        budget = RunBudget(config.max_calls, config.max_tokens, config.budget_seconds)
        # TL;DRs are asked beside the briefings, from the calls the briefings leave spare.
        spare = max(0, config.max_calls - len(todo)) if config.max_calls else None
        pool = ThreadPoolExecutor(max_workers=min(config.concurrency, len(todo)) + 1,
                                  thread_name_prefix="brief")
        asked = pool.submit(self._tldrs, papers, budget, spare)
        futures: dict[Future[Briefing], tuple[tuple[str, ...], str, str]] = {
            pool.submit(self.briefer.brief, same[0].groups, key[1], budget, themes[key[2]],
                        cadence=key[2]): key
            for key, same in todo.items()}
        tldrs: dict[str, str] | None = None
        try:
            for future in as_completed(futures, timeout=budget.remaining()):
                tldrs = _ready(asked, budget) if tldrs is None else tldrs
                key = futures[future]
                yield from self._with_briefing(todo.pop(key), future, report,
                                               themes[key[2]], tldrs)
        except TimeoutError:
            pass  # the deadline passed: what is left gets the extractive briefing
        finally:
            # Not started yet: cancelled. Running: left to finish in the background.
            pool.shutdown(wait=False, cancel_futures=True)
        tldrs = _ready(asked, budget) if tldrs is None else tldrs
        for key, same in todo.items():
            yield from self._with_briefing(same, None, report, themes[key[2]], tldrs)

    def _tldrs(self, papers: list[Paper], budget: RunBudget,
               max_calls: int | None) -> dict[str, str]:
        """The LLM's TL;DRs of the batch's papers, once per paper (none without an LLM)."""
        write = getattr(self.briefer, "tldrs", None)
        if not callable(write) or max_calls == 0:
            return {}
        try:
            return write(papers, budget, max_calls)
        except Exception:  # never: tldrs records its failures; still, the cards keep theirs
            log.exception("tldrs failed")
            return {}

    def _with_briefing(self, same: list[Job], future: Future[Briefing] | None,
                       report: Report, themes: Sequence[Theme],
                       tldrs: dict[str, str]) -> Iterator[Job]:
        briefing = None
        if future is not None:
            try:
                briefing = future.result()
            except BudgetExhausted:
                pass
            except Exception:  # the briefer never raises otherwise; still, send the digest
                log.exception("briefing failed")
        if briefing is None:
            report.counts["llm_budget_exhausted"] += len(same)
            briefing = self.extractive.brief(same[0].groups, same[0].subscriber.language,
                                             themes=themes,
                                             cadence=cadence_of(same[0].delivery.notes))
        for job in same:
            job.briefing = briefing
            if tldrs:
                job.groups = with_tldrs(job.groups, tldrs)
            yield job

    def stats(self) -> dict[str, int]:
        """The briefer's counters (they run for the life of the process)."""
        stats = getattr(self.briefer, "stats", None)
        if not callable(stats):
            return {}
        return {f"llm_{k}": v for k, v in stats().items() if v}


def _theme_papers(groups_of_jobs: Iterable[list[Job]]) -> list[ThemePaper]:
    """The distinct papers of some jobs' digests, as theme finding reads them."""
    return list({p.key: ThemePaper(p.key, p.title, p.abstract) for same in groups_of_jobs
                 for g in same[0].groups for p in g.papers}.values())


def _ready(asked: Future[dict[str, str]], budget: RunBudget) -> dict[str, str]:
    """The TL;DRs once written, or none when the run's deadline comes first."""
    try:
        return asked.result(timeout=budget.remaining())
    except TimeoutError:
        return {}
