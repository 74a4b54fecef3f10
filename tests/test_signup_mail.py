"""The sign-up's emails as mail: paced by DIGEST_SMTP_RATE with the digests, and hostile
input that must never reach a header (real SQLite, the loopback SMTP server)."""

from __future__ import annotations

from datetime import timedelta

from test_signup import confirm_link, form, mails, signup, smtp, world  # noqa: F401

from digest_mailer.mail.transport import Pacer


class FakeTime:
    """A monotonic clock that moves only when the pacer sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def test_sign_up_emails_share_the_process_pacer_with_the_digests(world, client, smtp):  # noqa: F811
    fake = FakeTime()
    # DIGEST_SMTP_RATE=2, the App's one pacer of this process, before any part uses it.
    world.app.pacer = Pacer(2, clock=fake.clock, sleep=fake.sleep)
    signup(client, form(client, world), email="ada@example.org")
    assert len(smtp.messages) == 1 and fake.slept == []  # the first send waits for nothing
    signup(client, form(client, world), email="bob@example.org")
    assert len(smtp.messages) == 2 and fake.slept == [0.5]  # 1/rate after the first ended
    fake.now += 10  # a quiet while: the next one may go at once
    client.post(confirm_link(mails(smtp)[0]))
    assert len(smtp.messages) == 3 and fake.slept == [0.5]
    assert mails(smtp)[2]["Subject"] == "Welcome to the Research Digest"
    # A digest sent right after the welcome waits its turn on the same pacer.
    world.now += timedelta(days=1)
    report = world.app.send.send()
    assert report.counts["sent"] == 1, report.counts
    assert fake.slept == [0.5, 0.5]
