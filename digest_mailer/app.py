"""The one composition root: :class:`App` builds every part from the settings.

Like listmonk's ``cmd/init.go``: a row of small ``_build_x`` steps, the only place the
settings are read; each service gets the narrow config it needs. Nothing else constructs
an engine, a signer, a briefer, a renderer, a transport or a service.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime

from huey import Huey, RedisHuey, SqliteHuey
from sqlalchemy.engine import Engine

from digest_mailer.briefing.extractive import ExtractiveBriefer
from digest_mailer.briefing.llm import make_briefer
from digest_mailer.briefing.protocol import Briefer
from digest_mailer.db.briefings import DatabaseBriefingCache
from digest_mailer.db.engine import make_engine
from digest_mailer.db.models import utcnow
from digest_mailer.errors import SettingsError
from digest_mailer.ingest.arxiv_api import ArxivApi
from digest_mailer.mail.links import LinkSigner, unsubscribe_mailto
from digest_mailer.mail.render import DigestRenderer
from digest_mailer.mail.transport import Pacer, Transport, transport_from_settings
from digest_mailer.replies.imap import ImapConfig
from digest_mailer.services.admin import AdminAuth
from digest_mailer.services.batch import SelectionConfig
from digest_mailer.services.briefs import BriefingConfig, BriefingPass
from digest_mailer.services.compose import Composer, MailConfig
from digest_mailer.services.import_drafts import ImportDrafts
from digest_mailer.services.ingest import IngestConfig, IngestService
from digest_mailer.services.library import LibraryService
from digest_mailer.services.ranking import RankingConfig, ReaderModels
from digest_mailer.services.replies import ReplyConfig, ReplyService
from digest_mailer.services.send import SendConfig, SendService
from digest_mailer.services.sources import SourceService
from digest_mailer.services.status import StatusService
from digest_mailer.services.subscriber_admin import SubscriberAdmin
from digest_mailer.services.subscribers import ProfileDefaults, SubscriberService
from digest_mailer.settings import Settings


class App:
    """Everything one process needs, built once from the settings.

    Test hooks: ``clock``, ``ssl_context`` (for SMTP), ``engine`` and ``briefer``.
    """

    def __init__(self, settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                 ssl_context: ssl.SSLContext | None = None, engine: Engine | None = None,
                 briefer: Briefer | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.ssl_context = ssl_context
        self.engine = engine or self._build_engine()
        # Once per process: with no DIGEST_SECRET_KEY this may create the key file.
        self.secret_keys = settings.effective_secret_keys()
        self.signer = self._build_signer()
        self.briefer = briefer or self._build_briefer()
        self.renderer = DigestRenderer(settings.templates_dir)
        self.pacer = Pacer(settings.smtp_rate)  # one per process: batches share the rate
        self.composer = self._build_composer()
        self.ingest = self._build_ingest()
        self.send = self._build_send()
        self.subscribers = self._build_subscribers()
        self.subscriber_admin = SubscriberAdmin(self.engine, self.composer, self.transport,
                                                clock, smtputf8=settings.smtp_utf8)
        self.import_drafts = ImportDrafts(self.engine, self.subscribers, clock)
        self.library = self._build_library()
        self.sources = SourceService(self.engine)
        self.status = StatusService(self.engine)
        self.replies = self._build_replies()
        # The admin password is hashed here, once per process (argon2: ~0.2 s).
        self.admin = AdminAuth(self.engine, settings.admin_password, clock)

    def _build_engine(self) -> Engine:
        return make_engine(self.settings.effective_database_url,
                           auto_migrate=self.settings.auto_migrate)

    def _build_signer(self) -> LinkSigner:
        s = self.settings
        return LinkSigner(s.base_url, self.secret_keys, unsubscribe_mailto(s.reply_to, s.mail_from))

    def _build_briefer(self) -> Briefer:
        s = self.settings
        return make_briefer(
            llm_configured=s.llm_configured, api_key=s.openai_api_key,
            base_url=s.openai_base_url, model=s.llm_model, timeout=s.llm_timeout,
            retries=s.llm_retries, max_chars=s.briefing_max_chars,
            cache=DatabaseBriefingCache(self.engine), per=s.llm_briefing,
            min_support=s.llm_min_support)

    def transport(self) -> Transport:
        """A new transport for one send batch: SMTP when a URL is set, else the outbox."""
        s = self.settings
        return transport_from_settings(s.smtp_url, s.effective_outbox_dir, s.smtp_timeout,
                                       ssl_context=self.ssl_context)

    def _selection(self) -> SelectionConfig:
        s = self.settings
        return SelectionConfig(s.max_per_category, s.max_papers, s.first_digest_lookback_hours,
                               s.include_updates, s.explore_slots)

    def _build_composer(self) -> Composer:
        s = self.settings
        # One per process: it keeps the decoded text model and its window between batches.
        models = ReaderModels(RankingConfig(s.text_model_days, refit_days=s.text_model_refit_days),
                              self.clock)
        return Composer(self.engine, self.briefer, self.renderer, self.signer,
                        MailConfig(s.mail_from, s.reply_to, s.list_id), self._selection(),
                        self.clock, models)

    def _build_ingest(self) -> IngestService:
        s = self.settings
        return IngestService(self.engine, IngestConfig(
            s.fetch_interval_minutes, s.fetch_timeout, s.fetch_max_bytes, s.user_agent,
            s.fetch_concurrency), self.clock)

    def _build_library(self) -> LibraryService:
        s = self.settings
        arxiv = ArxivApi(s.arxiv_api_url, timeout=s.fetch_timeout,
                         user_agent=s.user_agent) if s.arxiv_api_url else None
        return LibraryService(self.engine, arxiv, self.clock)

    def _build_send(self) -> SendService:
        s = self.settings
        briefs = BriefingPass(self.briefer, ExtractiveBriefer(max_chars=s.briefing_max_chars),
                              BriefingConfig(s.llm_concurrency, s.llm_max_calls,
                                             s.llm_max_tokens, s.llm_budget_seconds))
        config = SendConfig(s.send_empty, s.resend_unknown, s.claim_timeout_minutes,
                            s.smtp_batch_size)
        return SendService(self.engine, self.composer, briefs, self.transport, self.pacer,
                           config, self._selection(), self.clock)

    def _build_subscribers(self) -> SubscriberService:
        s = self.settings
        return SubscriberService(self.engine, ProfileDefaults(
            s.default_timezone, s.default_send_hour, s.smtp_utf8), self.clock)

    def _build_replies(self) -> ReplyService:
        s = self.settings
        imap = ImapConfig(s.imap_host, s.imap_port, s.imap_security, s.imap_user,
                          s.imap_password, s.imap_folder)
        return ReplyService(self.engine, ReplyConfig(
            imap, tuple(s.trusted_authserv_ids), s.soft_bounce_threshold), self.signer,
            self.clock)


def build_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    """RedisHuey when a Redis URL is set, else SqliteHuey beside the database."""
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
