"""The one composition root: :class:`App` builds every part from the settings.

Like listmonk's ``cmd/init.go``: a row of small builders, the only place the settings are
read; each service gets the narrow config it needs. Nothing else constructs an engine, a
signer, a briefer, a renderer, a transport or a service.

Each part is built on its first use, with its imports, so a command loads only what it
uses: ``feeds list`` opens the database and never imports the LLM client or scikit-learn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

from digest_mailer.errors import SettingsError
from digest_mailer.settings import Settings

if TYPE_CHECKING:
    import ssl

    import httpcore
    from huey import Huey
    from sqlalchemy.engine import Engine

    from digest_mailer.briefing.protocol import Briefer
    from digest_mailer.mail.links import LinkSigner
    from digest_mailer.mail.render import DigestRenderer
    from digest_mailer.mail.transport import Pacer, Transport
    from digest_mailer.services.admin import AdminAuth
    from digest_mailer.services.archive import ArchiveService
    from digest_mailer.services.batch import SelectionConfig
    from digest_mailer.services.compose import Composer
    from digest_mailer.services.import_drafts import ImportDrafts
    from digest_mailer.services.ingest import IngestService
    from digest_mailer.services.library import LibraryService
    from digest_mailer.services.replies import ReplyService
    from digest_mailer.services.send import SendService
    from digest_mailer.services.signup import SignupConfig, SignupService
    from digest_mailer.services.signup_purge import SignupPurge
    from digest_mailer.services.sources import SourceService
    from digest_mailer.services.status import StatusService
    from digest_mailer.services.subscriber_admin import SubscriberAdmin
    from digest_mailer.services.subscribers import SubscriberService

T = TypeVar("T")
UTC_NOW = partial(datetime.now, UTC)  # the default clock (db.models.utcnow, without SQLModel)


class _part(Generic[T]):  # lower case: a decorator, like functools.cached_property
    """A part of the App built on first use, once per App even when threads ask at once
    (functools.cached_property has no lock since Python 3.12); assigning it replaces it."""

    def __init__(self, build: Callable[[App], T]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, app: App | None, owner: type | None = None) -> T:
        if app is None:
            return self  # type: ignore[return-value]  (the class's attribute: this part)
        with app._building:  # re-entrant: a part builds the parts it needs
            if self.name not in app.__dict__:
                app.__dict__[self.name] = self.build(app)
        return app.__dict__[self.name]


class App:
    """Everything one process needs, each part built once, when first used.

    Test hooks: ``clock``, ``ssl_context`` (for SMTP), ``engine``, ``briefer`` and
    ``network`` (the sockets under the guard of feeds fetched from a browser).
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = UTC_NOW,
                 ssl_context: ssl.SSLContext | None = None, engine: Engine | None = None,
                 briefer: Briefer | None = None,
                 network: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._building = threading.RLock()
        self.settings = settings
        self.clock = clock
        self.ssl_context = ssl_context
        self.network = network
        if engine is not None:
            self.engine = engine
        if briefer is not None:
            self.briefer = briefer

    def close(self) -> None:
        """Close the database connections the App opened (the CLI's process ends next)."""
        if "engine" in self.__dict__:
            self.engine.dispose()

    @_part
    def engine(self) -> Engine:
        from digest_mailer.db.engine import make_engine

        return make_engine(self.settings.effective_database_url,
                           auto_migrate=self.settings.auto_migrate)

    @_part
    def secret_keys(self) -> list[str]:
        # Once per process: with no DIGEST_SECRET_KEY this may create the key file.
        return self.settings.effective_secret_keys()

    @_part
    def signer(self) -> LinkSigner:
        from digest_mailer.mail.links import LinkSigner, unsubscribe_mailto

        s = self.settings
        return LinkSigner(s.base_url, self.secret_keys, unsubscribe_mailto(s.reply_to, s.mail_from))

    @_part
    def briefer(self) -> Briefer:
        from digest_mailer.briefing.llm import make_briefer
        from digest_mailer.db.briefings import DatabaseBriefingCache

        s = self.settings
        return make_briefer(
            llm_configured=s.llm_configured, api_key=s.openai_api_key,
            base_url=s.openai_base_url, model=s.llm_model, timeout=s.llm_timeout,
            retries=s.llm_retries, max_chars=s.briefing_max_chars,
            cache=DatabaseBriefingCache(self.engine), per=s.llm_briefing,
            min_support=s.llm_min_support)

    @_part
    def renderer(self) -> DigestRenderer:
        from digest_mailer.mail.render import DigestRenderer

        return DigestRenderer(self.settings.templates_dir)

    @_part
    def pacer(self) -> Pacer:
        from digest_mailer.mail.transport import Pacer

        return Pacer(self.settings.smtp_rate)  # one per process: batches share the rate

    def transport(self) -> Transport:
        """A new transport for one send batch: SMTP when a URL is set, else the outbox."""
        from digest_mailer.mail.transport import transport_from_settings

        s = self.settings
        return transport_from_settings(s.smtp_url, s.effective_outbox_dir, s.smtp_timeout,
                                       ssl_context=self.ssl_context)

    def _selection(self) -> SelectionConfig:
        from digest_mailer.services.batch import SelectionConfig

        s = self.settings
        return SelectionConfig(s.max_per_category, s.max_papers, s.first_digest_lookback_hours,
                               s.include_updates, s.explore_slots, s.weekly_cap_scale)

    @_part
    def composer(self) -> Composer:
        from digest_mailer.services.compose import Composer, MailConfig
        from digest_mailer.services.ranking import RankingConfig, ReaderModels

        s = self.settings
        # One per process: it keeps the decoded text model and its window between batches.
        models = ReaderModels(RankingConfig(s.text_model_days, refit_days=s.text_model_refit_days),
                              self.clock)
        return Composer(self.engine, self.briefer, self.renderer, self.signer,
                        MailConfig(s.mail_from, s.reply_to, s.list_id), self._selection(),
                        self.clock, models)

    @_part
    def ingest(self) -> IngestService:
        from digest_mailer.services.ingest import IngestConfig, IngestService

        s = self.settings
        return IngestService(self.engine, IngestConfig(
            s.fetch_interval_minutes, s.fetch_timeout, s.fetch_max_bytes, s.user_agent,
            s.fetch_concurrency, s.sources_allow_private), self.clock, self.network)

    @_part
    def library(self) -> LibraryService:
        from digest_mailer.services.library import LibraryService

        s = self.settings
        arxiv = None
        if s.arxiv_api_url:
            from digest_mailer.ingest.arxiv_api import ArxivApi

            arxiv = ArxivApi(s.arxiv_api_url, timeout=s.fetch_timeout, user_agent=s.user_agent)
        return LibraryService(self.engine, arxiv, self.clock)

    @_part
    def send(self) -> SendService:
        from digest_mailer.briefing.extractive import ExtractiveBriefer
        from digest_mailer.services.briefs import BriefingConfig, BriefingPass
        from digest_mailer.services.send import SendConfig, SendService

        s = self.settings
        briefs = BriefingPass(self.briefer, ExtractiveBriefer(max_chars=s.briefing_max_chars),
                              BriefingConfig(s.llm_concurrency, s.llm_max_calls,
                                             s.llm_max_tokens, s.llm_budget_seconds))
        config = SendConfig(s.send_empty, s.resend_unknown, s.claim_timeout_minutes,
                            s.smtp_batch_size)
        return SendService(self.engine, self.composer, briefs, self.transport, self.pacer,
                           config, self._selection(), self.clock)

    @_part
    def subscribers(self) -> SubscriberService:
        from digest_mailer.services.subscribers import ProfileDefaults, SubscriberService

        s = self.settings
        return SubscriberService(self.engine, ProfileDefaults(
            s.default_timezone, s.default_send_hour, s.smtp_utf8), self.clock)

    def _signup_config(self) -> SignupConfig:
        from digest_mailer.services.signup import SignupConfig

        s = self.settings
        return SignupConfig(client_limit=s.signup_client_limit,
                            min_fill=timedelta(seconds=s.signup_min_seconds),
                            smtputf8=s.smtp_utf8, welcome_now=s.welcome_digest == "now")

    @_part
    def signup_purge(self) -> SignupPurge:
        from digest_mailer.services.signup_purge import SignupPurge

        return SignupPurge(self.engine, self._signup_config().limits, self.clock)

    @_part
    def signup(self) -> SignupService:
        from digest_mailer.mail.notice import NoticeRenderer
        from digest_mailer.services.compose import MailConfig
        from digest_mailer.services.signup import SignupService

        s = self.settings
        config = self._signup_config()
        return SignupService(self.engine, self.signer, NoticeRenderer(s.templates_dir),
                             MailConfig(s.mail_from, s.reply_to, s.list_id), self.transport,
                             config, self.clock, self.pacer)

    @_part
    def subscriber_admin(self) -> SubscriberAdmin:
        from digest_mailer.services.subscriber_admin import SubscriberAdmin

        return SubscriberAdmin(self.engine, self.composer, self.transport, self.clock,
                               smtputf8=self.settings.smtp_utf8)

    @_part
    def import_drafts(self) -> ImportDrafts:
        from digest_mailer.services.import_drafts import ImportDrafts

        return ImportDrafts(self.engine, self.subscribers, self.clock)

    @_part
    def archive(self) -> ArchiveService:
        from digest_mailer.services.archive import ArchiveService

        return ArchiveService(self.engine, self.clock)

    @_part
    def sources(self) -> SourceService:
        from digest_mailer.services.sources import SourceService

        return SourceService(self.engine, lambda: self.ingest, self.clock,
                             allow_private=self.settings.sources_allow_private)

    @_part
    def status(self) -> StatusService:
        from digest_mailer.services.status import StatusService

        return StatusService(self.engine, self.clock)

    @_part
    def replies(self) -> ReplyService:
        from digest_mailer.replies.imap import ImapConfig
        from digest_mailer.services.replies import ReplyConfig, ReplyService

        s = self.settings
        imap = ImapConfig(s.imap_host, s.imap_port, s.imap_security, s.imap_user,
                          s.imap_password, s.imap_folder)
        return ReplyService(self.engine, ReplyConfig(
            imap, tuple(s.trusted_authserv_ids), s.soft_bounce_threshold), self.signer,
            self.clock)

    @_part
    def admin(self) -> AdminAuth:
        from digest_mailer.services.admin import AdminAuth

        # The admin password is hashed here, once per process (argon2: ~0.2 s).
        return AdminAuth(self.engine, self.settings.admin_password, self.clock)


def build_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """RedisHuey when a Redis URL is set, else SqliteHuey beside the database."""
    from huey import RedisHuey, SqliteHuey

    if settings.redis_url:
        try:
            import redis  # noqa: F401  (RedisHuey needs it; say so at start, not at first use)
        except ImportError as err:
            raise SettingsError("DIGEST_REDIS_URL", "needs the redis package: "
                                "pip install -e '.[redis]'") from err
        return RedisHuey("digest-mailer", url=settings.redis_url, immediate=immediate)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("digest-mailer", filename=str(settings.var_dir / "huey.db"),
                      immediate=immediate)
