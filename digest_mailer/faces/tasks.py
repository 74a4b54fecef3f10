"""The worker face: Huey tasks that call the services. Run with the Procfile's worker line.

Which digests are due is decided from the database at every tick, not by the tick
itself: Huey removes a task from its queue before running it, so a killed worker loses
that task, and a missed or lost tick must simply be picked up by the next one. The tick
holds a Huey lock because with several consumers a periodic task fires once per
consumer; the claim on each Delivery row stops double sends whatever happens.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import cache

from huey import crontab

from digest_mailer.app import App, build_huey
from digest_mailer.settings import load_settings

log = logging.getLogger(__name__)

settings = load_settings()
huey = build_huey(settings)


@cache
def app() -> App:
    return App(settings)


# DIGEST_SCHEDULE_MINUTES=0: the worker schedules nothing itself; ticks come from outside
# (cron running `digest-mailer tick`, or a task enqueued by hand) and are still run here.
scheduled = (huey.periodic_task(crontab(minute=f"*/{settings.schedule_minutes}"))
             if settings.schedule_minutes else huey.task())


@scheduled
@huey.lock_task("digest-mailer-tick")
def tick() -> int:
    """Refresh the feeds that are due, then queue the digests that are due, in batches."""
    services = app()
    services.ingest.refresh()
    # After the feeds: a seed whose paper just arrived is filled from it, not asked of arXiv.
    services.library.resolve_ids()
    services.signup_purge.run()  # once a day: unconfirmed sign-ups, old request counts
    due = services.send.due()
    size = settings.send_batch_size
    for start in range(0, len(due), size):
        send_batch(due[start:start + size])
    log.info("tick: %d digests due", len(due))
    return len(due)


@huey.task(retries=3, retry_delay=120)
def send_batch(subscriber_ids: list[int], digest_date: str | None = None) -> dict[str, int]:
    """Send one batch over one SMTP connection; already-sent digests are skipped.
    ``digest_date`` (ISO): that date's digests, due or not (a confirmed reader's first,
    queued by the web app with DIGEST_WELCOME_DIGEST=now)."""
    day = date.fromisoformat(digest_date) if digest_date else None
    return dict(app().send.send(subscriber_ids, digest_date=day).counts)


@scheduled
@huey.lock_task("digest-mailer-replies")
def read_replies() -> dict[str, int]:
    """Sort the new mail of the Reply-To mailbox: bounces, unsubscribes, feedback."""
    if not settings.imap_host:
        return {}
    return dict(app().replies.process_mailbox().counts)
