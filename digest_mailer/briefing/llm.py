"""The briefing paragraph on top of a digest, written by any OpenAI-compatible endpoint.

Paper text is untrusted: it reaches the model only as delimited data, and whatever the
model answers passes ``briefing.check.check_briefing`` and then the faithfulness check
(``briefing.faithful``: every sentence cites papers whose text backs it) before anyone sees
it, a cached answer included. Any failure falls back to the extractive briefer, so a digest
never waits on, or breaks because of, the endpoint.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

from digest_mailer.briefing import faithful
from digest_mailer.briefing.check import check_briefing
from digest_mailer.briefing.prompt import build_messages, cache_key
from digest_mailer.briefing.protocol import (
    Briefer,
    BriefingCache,
    BudgetExhausted,
    MemoryBriefingCache,
    RunBudget,
)
from digest_mailer.briefing.themes import Theme
from digest_mailer.domain.digest import Briefing, CategoryGroup, Paper
from digest_mailer.errors import BriefingError

log = logging.getLogger(__name__)

WAIT_STEP = 0.1  # seconds between looks for a briefing another worker is writing
# A key whose answer failed is not asked again for this long: a theme carried by many
# readers would otherwise cost a call per reader while the endpoint is down or refused.
REFUSED_SECONDS = 900.0
PASSED_KEPT = 4096  # checked answers remembered (a day has well under 100 themes)
COUNTERS = ("calls", "cache_hits", "failures", "unfaithful", "prompt_tokens",
            "completion_tokens", "tldr_calls", "tldr_cache_hits", "tldr_failures")
RETRY_DELAY = 0.5  # seconds before the first retry of a failed request, doubling after
_RETRY_STATUSES = (408, 409, 429)  # and every 5xx: what the openai client itself retries

def _reason(err: Exception, timeout: float) -> str:
    """A short, key-free reason for the log and the run report."""
    import openai  # imported where used: ~1 s, and a command that sends nothing needs none

    if isinstance(err, openai.APITimeoutError):
        return f"timed out after {timeout:g}s"
    if isinstance(err, openai.APIStatusError):
        return f"HTTP {err.status_code}"
    if isinstance(err, openai.APIConnectionError):
        return f"connection failed ({err.__cause__ or err})"
    if isinstance(err, BriefingError):
        return f"unusable answer: {err}"
    return f"{type(err).__name__}: {err}"


def _retryable(err: Exception) -> bool:
    import openai

    if isinstance(err, openai.APIConnectionError):  # timeouts included
        return True
    return isinstance(err, openai.APIStatusError) and (
        err.status_code in _RETRY_STATUSES or err.status_code >= 500)


class OpenAIBriefer:
    """Briefings from an OpenAI-compatible chat endpoint, cached, checked, with a fallback.

    The counters (``calls``, ``cache_hits``, ``failures``, ``unfaithful``,
    ``prompt_tokens``, ``completion_tokens``) accumulate over the instance's life for the run
    report; ``calls`` counts briefings asked of the endpoint, not the client's HTTP retries;
    ``unfaithful`` counts answers, fresh or cached, refused because a sentence lacks a
    citation or the support of the papers it cites (below ``min_support``); a refused fresh
    answer is a failure too.
    """

    def __init__(self, api_key: str, base_url: str, model: str, timeout: float, retries: int,
                 max_chars: int, cache: BriefingCache, fallback: Briefer,
                 min_support: float = faithful.MIN_SUPPORT) -> None:
        self.model = model
        self.timeout = timeout
        self.retries = retries
        self.max_chars = max_chars
        self.min_support = min_support
        self.cache = cache
        self.fallback = fallback
        self.calls = self.cache_hits = self.failures = self.unfaithful = 0
        self.prompt_tokens = self.completion_tokens = 0  # as the endpoint reports them
        self.tldr_calls = self.tldr_cache_hits = self.tldr_failures = 0
        self._lock = threading.Lock()
        self._refused: dict[str, float] = {}  # key → when its answer last failed
        # key → answer already checked here: a theme's paragraph is read for every reader
        # that carries it, and the checks cost ~6 ms a time (bounded like an LRU).
        self._passed: OrderedDict[str, str] = OrderedDict()
        # Local endpoints need no key, but the client refuses to start without one. Its
        # own retries are off: _create retries, and never past the run's deadline.
        import openai

        self._client = openai.OpenAI(api_key=api_key or "unused", base_url=base_url or None,
                                     timeout=timeout, max_retries=0)

    def stats(self) -> dict[str, int]:
        """The counters, for the run report."""
        with self._lock:
            return {name: getattr(self, name) for name in COUNTERS}

    def close(self) -> None:
        self._client.close()

    def reason(self, err: Exception) -> str:
        """A short, key-free reason for the log and the run report."""
        return _reason(err, self.timeout)

    def tldrs(self, papers: Sequence[Paper], budget: RunBudget | None = None,
              max_calls: int | None = None) -> dict[str, str]:
        """TL;DRs by entry key (briefing/tldr.py): cached, else asked 20 papers a call."""
        from digest_mailer.briefing.tldr import write_tldrs

        return write_tldrs(self, papers, budget, max_calls)

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)

    def brief(self, groups: Sequence[CategoryGroup], language: str,
              budget: RunBudget | None = None, themes: Sequence[Theme] | None = None,
              cadence: str = "daily") -> Briefing:
        papers = [p for g in groups for p in g.papers]
        text = ""
        if papers:
            text = self.complete(
                cache_key([p.key for p in papers], language, self.model, cadence),
                build_messages(groups, language, self.max_chars, themes, cadence),
                {p.number: f"{p.title}. {p.abstract}" for p in papers}, budget)
        if not text:
            return self.fallback.brief(groups, language, themes=themes, cadence=cadence)
        return Briefing(text=text, kind="llm", model=self.model)

    def complete(self, key: str, messages: list[dict], sources: dict[int, str],
                 budget: RunBudget | None = None) -> str:
        """One checked answer by cache ``key``: cached, written by another worker, or asked.

        "" when the endpoint failed (counted and logged; the key is then not asked again for
        REFUSED_SECONDS); raises BudgetExhausted when the
        run's budget is spent. Asked for a digest's briefing (:meth:`brief`) and for the
        paragraph on one theme (briefing/themed.py); ``sources`` (number → title and
        abstract) is what its sentences must be faithful to.
        """
        try:
            cached = self.cache.get(key)
            if cached:
                text = self._passed_before(key, cached) or self._checked(cached, sources)
                self._passed_now(key, text)
                self.count("cache_hits")
                return text
        except Exception as err:  # a bad row or a broken cache: ask the endpoint instead
            log.warning("briefing: ignoring the cached one: %s", err)
        with self._lock:
            if time.monotonic() - self._refused.get(key, -REFUSED_SECONDS) < REFUSED_SECONDS:
                return ""
        if not self._claim(key):
            text = self._wait_for(key, sources, budget)
            if text:
                self.count("cache_hits")
                return text
        estimate = sum(len(m["content"]) for m in messages) // 4
        try:
            if budget is not None:
                budget.take(estimate)
        except BudgetExhausted:
            self._release(key)
            raise
        self.count("calls")
        try:
            text = self._ask(messages, sources, budget, estimate)
        except Exception as err:
            import openai

            self._release(key)
            self.count("failures")
            with self._lock:
                self._refused[key] = time.monotonic()
            log.warning("briefing: using the extractive one, the endpoint failed: %s",
                        self.reason(err),
                        exc_info=not isinstance(err, openai.OpenAIError | BriefingError))
            return ""
        try:
            self.cache.put(key, text, self.model)
        except Exception as err:
            log.warning("briefing: could not cache it: %s", err)
        return text

    @property
    def _claim_life(self) -> float:
        """How long a writer may take: every try of the call, with room to store it."""
        return self.timeout * (self.retries + 1) + 10

    def _passed_before(self, key: str, text: str) -> str:
        """``text`` when this process checked that very answer for ``key``, else ""."""
        with self._lock:
            return text if self._passed.get(key) == text else ""

    def _passed_now(self, key: str, text: str) -> None:
        with self._lock:
            self._passed[key] = text
            self._passed.move_to_end(key)
            while len(self._passed) > PASSED_KEPT:
                self._passed.popitem(last=False)

    def _claim(self, key: str) -> bool:
        try:
            return self.cache.claim(key, self._claim_life)
        except Exception as err:  # a broken cache: write it ourselves
            log.warning("briefing: could not claim it: %s", err)
            return True

    def _release(self, key: str) -> None:
        try:
            self.cache.release(key)
        except Exception as err:  # the claim then expires by itself
            log.warning("briefing: could not release it: %s", err)

    def _checked(self, text: str, sources: dict[int, str], count: bool = True) -> str:
        """The answer as a reader may see it, or BriefingError: the output check, then each
        sentence's citations and support in ``sources`` (paper number → title and abstract).

        ``count``: a refusal counts as ``unfaithful`` (not when a cached row seen already is
        looked at again while waiting for another writer)."""
        text = check_briefing(text, max_chars=self.max_chars, paper_count=max(sources))
        refused = faithful.unfaithful(text, sources, self.min_support)
        if refused:
            if count:
                self.count("unfaithful")
            first = refused[0]
            raise BriefingError(f"unfaithful: {len(refused)} sentence(s), first "
                                f"{first.sentence[:80]!r} ({first.reason})")
        return text

    def _wait_for(self, key: str, sources: dict[int, str],
                  budget: RunBudget | None = None) -> str:
        """The other writer's briefing, or "" when it gave up (then ask ourselves).

        Raises BudgetExhausted at the run's deadline: the claim is still the other's.
        """
        deadline = time.monotonic() + self._claim_life
        while time.monotonic() < deadline:
            if budget is not None and budget.remaining() == 0:
                raise BudgetExhausted("time")
            time.sleep(WAIT_STEP)
            try:
                cached = self.cache.get(key)
                if cached:
                    return self._checked(cached, sources, count=False)
                if self.cache.claim(key, self._claim_life):
                    return ""  # released or abandoned: ours now
            except Exception as err:
                log.warning("briefing: waiting for another writer failed: %s", err)
                return ""
        return ""

    def _create(self, messages: list[dict], budget: RunBudget | None,
                retries: int | None = None) -> object:
        """The chat completion, with up to ``retries`` retries of a timeout, a lost
        connection, 408/409/429 or 5xx, after 0.5 s, 1 s, …

        No retry starts once the run's deadline has passed (or would, during its wait):
        a request in flight then ends within ``timeout`` after the deadline, so a hung
        endpoint holds neither the run nor the process's exit longer than that.
        """
        import openai

        retries = self.retries if retries is None else retries
        for attempt in range(retries + 1):
            try:
                return self._client.chat.completions.create(
                    model=self.model,
                    messages=messages,  # type: ignore[arg-type]
                    # Bounds a runaway answer's cost; generous for Chinese (~1 token/char).
                    max_tokens=self.max_chars + 200,
                )
            except openai.OpenAIError as err:
                delay = RETRY_DELAY * 2 ** attempt
                remaining = budget.remaining() if budget is not None else None
                if (attempt == retries or not _retryable(err)
                        or (remaining is not None and remaining <= delay)):
                    raise
                log.info("briefing: %s; trying again in %gs", self.reason(err), delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _ask(self, messages: list[dict], sources: dict[int, str], budget: RunBudget | None,
             estimate: int) -> str:
        content = self.answer(messages, budget, estimate)
        return self._checked(content, sources)

    def answer(self, messages: list[dict], budget: RunBudget | None, estimate: int,
                retries: int | None = None) -> str:
        """The answer's text, its token counts recorded; raises on a call or shape failure."""
        response = self._create(messages, budget, retries)
        usage = getattr(response, "usage", None)  # optional for compatible endpoints
        for name in ("prompt_tokens", "completion_tokens"):
            value = getattr(usage, name, 0)
            self.count(name, value if isinstance(value, int) else 0)
            if name == "prompt_tokens" and budget is not None and isinstance(value, int):
                budget.settle(estimate, value)
        try:
            content = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as err:
            raise BriefingError("the answer is not a chat completion") from err
        if not isinstance(content, str):
            raise BriefingError("the answer has no text")
        return content


def make_briefer(*, llm_configured: bool, api_key: str = "", base_url: str = "",
                 model: str = "gpt-4o-mini", timeout: float = 30.0, retries: int = 2,
                 max_chars: int = 1200, cache: BriefingCache | None = None,
                 per: str = "digest", min_support: float = faithful.MIN_SUPPORT) -> Briefer:
    """The LLM briefer (extractive fallback) when an endpoint is configured, else extractive.

    ``per``: "digest" asks one briefing per distinct digest; "theme" one paragraph per
    theme and language, assembled for each reader (briefing/themed.py).
    """
    from digest_mailer.briefing.extractive import ExtractiveBriefer

    extractive = ExtractiveBriefer(max_chars=max_chars)
    if not llm_configured:
        return extractive
    cache = cache if cache is not None else MemoryBriefingCache()
    llm = OpenAIBriefer(api_key, base_url, model, timeout, retries, max_chars, cache, extractive,
                        min_support)
    if per == "theme":
        from digest_mailer.briefing.themed import ThemedBriefer

        return ThemedBriefer(llm, extractive, max_chars)
    return llm
