"""The one place that wires the parts together from the settings (like listmonk's main)."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime

from huey import Huey, RedisHuey, SqliteHuey

from digest_mailer.briefing.llm import make_briefer
from digest_mailer.db.briefings import DatabaseBriefingCache
from digest_mailer.db.engine import make_engine
from digest_mailer.db.models import utcnow
from digest_mailer.errors import SettingsError
from digest_mailer.mail.links import LinkSigner, unsubscribe_mailto
from digest_mailer.mail.render import DigestRenderer
from digest_mailer.mail.transport import SmtpTransport, Transport, transport_from_settings
from digest_mailer.services.send import Pipeline
from digest_mailer.settings import Settings


def build_pipeline(settings: Settings, *, clock: Callable[[], datetime] = utcnow,
                   ssl_context: ssl.SSLContext | None = None) -> Pipeline:
    engine = make_engine(settings.effective_database_url, auto_migrate=settings.auto_migrate)
    briefer = make_briefer(
        llm_configured=settings.llm_configured, api_key=settings.openai_api_key,
        base_url=settings.openai_base_url, model=settings.llm_model,
        timeout=settings.llm_timeout, retries=settings.llm_retries,
        max_chars=settings.briefing_max_chars, cache=DatabaseBriefingCache(engine))
    signer = LinkSigner(settings.base_url, settings.effective_secret_keys(),
                        unsubscribe_mailto(settings.reply_to, settings.mail_from))

    def transport() -> Transport:
        if settings.smtp_url and ssl_context is not None:
            return SmtpTransport.from_url(settings.smtp_url, timeout=settings.smtp_timeout,
                                          ssl_context=ssl_context)
        return transport_from_settings(settings.smtp_url, settings.effective_outbox_dir,
                                       settings.smtp_timeout)

    return Pipeline(settings, engine, briefer, DigestRenderer(settings.templates_dir), signer,
                    transport, clock)


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
