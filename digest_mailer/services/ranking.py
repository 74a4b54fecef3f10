"""The readers' models, kept fitted: the text model of recent entries, one model a reader.

A reader is fitted again only when what they told us changed (library, statement,
keywords, votes) or the text model did: each stored model carries a signature of both.
The text model is fitted on the newest stored entries when there is none or it is older
than ``refit_days``; that invalidates every reader model, which then refits as its reader
comes due. A reader who told us nothing has no model and keeps today's order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session

from digest_mailer import db
from digest_mailer.db.models import LibrarySeed, Subscriber

if TYPE_CHECKING:  # numpy, scipy and scikit-learn load when a model is first needed
    import scipy.sparse as sp

    from digest_mailer.domain.ranking import ReaderModel, TextModel

log = logging.getLogger(__name__)

# A young text model is fitted again once the window holds twice its entries and this many
# more: a vocabulary from a first day's 20 papers would miss most of the next month's words.
MIN_GROWTH = 200


@dataclass(frozen=True)
class RankingConfig:
    """How the text model is fitted and how many exploration slots a digest has."""

    window_days: float = 90.0     # the text model learns its vocabulary from these days
    window_limit: int = 50_000    # at most this many of the newest entries
    refit_days: float = 30.0      # a text model older than this is fitted again
    explore_slots: int = 2        # papers the model is unsure about, in a digest that cut


def paper_text(title: str, abstract: str) -> str:
    """What the text model reads of a paper (as the bench does): title, then abstract."""
    return f"{title}\n{abstract}"


@dataclass(frozen=True)
class ReaderSignals:
    """What one reader told us, as texts: the input of their model, and its signature."""

    seeds: tuple[tuple[str, str], ...]    # (title, text), most recently added first
    statement: str
    keywords: tuple[str, ...]
    more: tuple[tuple[str, str], ...]
    less: tuple[tuple[str, str], ...]
    votes: tuple[tuple[str, str], ...]    # (entry key, vote): what the signature hashes

    @property
    def empty(self) -> bool:
        return not (self.seeds or self.statement or self.keywords or self.more or self.less)

    def signature(self, text_model_id: int) -> str:
        said = [text_model_id, self.seeds, self.statement, self.keywords, self.votes]
        return hashlib.sha256(json.dumps(said, ensure_ascii=False).encode()).hexdigest()


def reader_signals(subscriber: Subscriber, seeds: Sequence[LibrarySeed],
                   votes: Sequence[tuple[str, str, str, str]]) -> ReaderSignals:
    """A reader's signals from their seeds (in library order) and votes (newest first)."""
    library = [s for s in seeds if s.kind == "library" and s.title]
    statement = " ".join(s.title or s.abstract for s in seeds if s.kind == "statement")
    return ReaderSignals(
        seeds=tuple((s.title, paper_text(s.title, s.abstract)) for s in reversed(library)),
        statement=statement.strip(),
        keywords=tuple(subscriber.keywords),
        more=tuple((t, paper_text(t, a)) for _, t, a, v in votes if v == "more"),
        less=tuple((t, paper_text(t, a)) for _, t, a, v in votes if v == "less"),
        votes=tuple((k, v) for k, _, _, v in votes))


class ReaderModels:
    """Loads, fits and stores the models a send batch needs, in the caller's session."""

    def __init__(self, config: RankingConfig, clock: Callable[[], datetime]) -> None:
        self.config = config
        self.clock = clock
        # Per process: the decoded text model and its window's rows, by text model id.
        self._text: dict[int, TextModel] = {}
        self._window: dict[int, sp.csr_matrix] = {}
        self._window_rows: dict[int, dict[str, int]] = {}  # entry key → window row

    def text_model(self, session: Session) -> tuple[int, TextModel] | None:
        """The stored text model, fitted first when missing or old; None with no entries."""
        from digest_mailer.domain.ranking import TextModel
        from digest_mailer.domain.ranking_codec import text_model_bytes, text_model_from

        now = self.clock()
        row = db.rankings.latest_text_model(session)
        if row is None or self._stale(session, row.fitted_at, row.n_entries, now):
            texts = self._window_texts(session, now)
            try:
                model = TextModel.fit(texts) if texts else None
            except ValueError as err:  # e.g. no word survives: keep what is stored
                log.warning("no text model from %d entries: %s", len(texts), err)
                model = None
            if model is not None:
                row = db.rankings.add_text_model(session, text_model_bytes(model), len(texts),
                                                 now)
                session.commit()
                assert row.id is not None
                self._text = {row.id: model}
                log.info("text model fitted on %d entries (%d terms)", len(texts),
                         model.n_features)
        if row is None or row.id is None:
            return None
        if row.id not in self._text:
            self._text = {row.id: text_model_from(row.data)}
        return row.id, self._text[row.id]

    def _stale(self, session: Session, fitted_at: datetime, n_entries: int,
               now: datetime) -> bool:
        """Old, or fitted on less than half of today's window (a new install's first day)."""
        if now - fitted_at > timedelta(days=self.config.refit_days):
            return True
        if n_entries >= self.config.window_limit // 2:
            return False
        since = now - timedelta(days=self.config.window_days)
        return db.entries.count_since(session, since) >= 2 * n_entries + MIN_GROWTH

    def _window_texts(self, session: Session, now: datetime) -> list[str]:
        return [text for _, text in self._window_entries(session, now)]

    def _window_entries(self, session: Session, now: datetime) -> list[tuple[str, str]]:
        since = now - timedelta(days=self.config.window_days)
        return [(k, paper_text(t, a)) for k, t, a in
                db.entries.texts_since(session, since, self.config.window_limit)]

    def window(self, session: Session, text_model_id: int, text_model: TextModel) -> sp.csr_matrix:
        """The window's rows, from which a reader's model samples its negatives."""
        if text_model_id not in self._window:
            keyed = self._window_entries(session, self.clock())
            self._window = {text_model_id: text_model.vectors([t for _, t in keyed])}
            self._window_rows = {text_model_id: {k: n for n, (k, _) in enumerate(keyed)}}
        return self._window[text_model_id]

    def rows(self, text_model_id: int, text_model: TextModel,
             papers: Sequence[tuple[str, str]]) -> sp.csr_matrix:
        """The text rows of (key, text) papers: the window's where it holds them (a send
        batch's papers mostly are), the rest vectorised now."""
        import numpy as np
        import scipy.sparse as sp

        known = self._window_rows.get(text_model_id, {})
        missing = [n for n, (key, _) in enumerate(papers) if key not in known]
        if len(missing) == len(papers):
            return text_model.vectors([t for _, t in papers])
        fresh = text_model.vectors([papers[n][1] for n in missing]) if missing else None
        window = self._window[text_model_id]
        parts = sp.vstack([window, fresh]).tocsr() if fresh is not None else window
        after = {n: window.shape[0] + m for m, n in enumerate(missing)}
        at = np.array([known[key] if key in known else after[n]
                       for n, (key, _) in enumerate(papers)], dtype=np.int64)
        return parts[at]

    def for_readers(self, session: Session, subscribers: Sequence[Subscriber]
                    ) -> tuple[tuple[int, TextModel] | None, dict[int, ReaderModel]]:
        """The text model and each reader's model; readers who said nothing have none.

        Models whose signature changed are fitted and stored, and committed here: a fit
        is work worth keeping even if the send that follows fails.
        """
        from digest_mailer.domain.ranking_codec import reader_model_bytes, reader_model_from

        ids = [s.id for s in subscribers if s.id is not None]
        seeds = db.library.of_readers(session, ids)
        votes = db.votes.evidence(session, ids)
        said: list[tuple[Subscriber, ReaderSignals]] = []
        for subscriber in subscribers:
            sid = subscriber.id
            assert sid is not None
            signals = reader_signals(subscriber, seeds.get(sid, ()), votes.get(sid, ()))
            if not signals.empty:
                said.append((subscriber, signals))
        if not said:  # no model to fit or score: the text model (scikit-learn) waits too
            return None, {}
        found = self.text_model(session)
        if found is None:
            return None, {}
        text_model_id, text_model = found
        stored = db.rankings.reader_models(session, ids)
        models: dict[int, ReaderModel] = {}
        fitted = 0
        for subscriber, signals in said:
            sid = subscriber.id
            assert sid is not None
            signature = signals.signature(text_model_id)
            row = stored.get(sid)
            if row is not None and row.signature == signature:
                models[sid] = reader_model_from(row.data)
                continue
            try:
                model = self._fit(session, text_model_id, text_model, signals)
            except Exception:  # one reader's model never stops the batch: today's order
                log.exception("fitting the model of %s failed", subscriber.email)
                continue
            db.rankings.save_reader_model(session, sid, text_model_id, signature,
                                          reader_model_bytes(model), self.clock())
            models[sid] = model
            fitted += 1
        if fitted:
            session.commit()
            log.info("fitted %d reader models", fitted)
        return found, models

    def _fit(self, session: Session, text_model_id: int, text_model: TextModel,
             signals: ReaderSignals) -> ReaderModel:
        from digest_mailer.domain.ranking import fit_reader, signals_from_texts

        evidence = signals_from_texts(text_model, seeds=signals.seeds, more=signals.more,
                                      less=signals.less, statement=signals.statement,
                                      keywords=signals.keywords)
        window = self.window(session, text_model_id, text_model)
        # Seeded by the signals, not the reader: readers who said the same get the same
        # model, so the same digest, and share its briefing.
        return fit_reader(evidence, window, seed=zlib.crc32(signals.signature(0).encode()))
