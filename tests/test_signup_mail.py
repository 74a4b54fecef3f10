"""The sign-up's emails as mail: paced by DIGEST_SMTP_RATE with the digests, and hostile
input that must never reach a header (real SQLite, the loopback SMTP server)."""

from __future__ import annotations

from datetime import timedelta

from test_signup import body, confirm_link, form, mails, signup, smtp, world  # noqa: F401

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


# --- hostile input -------------------------------------------------------------------------

def test_hostile_sign_up_fields_get_reasons_never_a_500(world, client, smtp):  # noqa: F811
    stamp = form(client, world)
    cases = {
        "send_hour": {"send_hour": "9" * 5000},  # int() raises past 4,300 digits
        "email": {"email": "a" * 100_000 + "@example.org"},
        "language": {"language": "xx"},
    }
    for field, fields in cases.items():
        answer = signup(client, stamp, **fields)
        assert answer.status_code == 400, (field, answer.status_code, answer.text[:300])
        assert f'id="{field}-error"' in answer.text, field
    assert "too long (100012 characters; at most 254)" in signup(
        client, stamp, email="a" * 100_000 + "@example.org").text
    assert smtp.messages == []


def test_a_typed_name_never_reaches_a_stranger_or_a_header(world, client, smtp):  # noqa: F811
    """A request names any address: its confirmation carries no text the requester typed
    (a name field is how sign-up forms are abused to mail spam), and once the owner has
    confirmed, the name is one line in To and escaped in the HTML."""
    name = "Zoë <evil@evil.example>\r\nBcc: x@x.example"
    signup(client, form(client, world), name=name)
    (confirmation,) = mails(smtp)
    assert confirmation["To"] == "ada@example.org"
    raw = smtp.messages[0].content.decode()
    assert "evil" not in raw and "Zo" not in raw
    assert smtp.messages[0].rcpt_tos == ["ada@example.org"]

    client.post(confirm_link(confirmation))
    welcome = mails(smtp)[1]
    assert smtp.messages[1].rcpt_tos == ["ada@example.org"]
    assert welcome.get_all("Bcc") is None and len(welcome.get_all("To")) == 1
    assert [a.addr_spec for a in welcome["To"].addresses] == ["ada@example.org"]
    assert "evil@" not in str(welcome["To"]) and "x.example" not in str(welcome["To"])
    html = body(welcome, "html")
    assert "<evil@evil.example>" not in html and "Zoë &lt;evil@evil.example&gt;" in html


def test_tokens_too_long_or_of_another_kind_are_refused(world, client, smtp):  # noqa: F811
    signup(client, form(client, world))
    link = confirm_link(mails(smtp)[0])
    assert client.post("/c/" + "A" * 10_000).status_code == 400
    preferences = world.app.signer.token("preferences", "x")  # a real token, another purpose
    assert client.post(f"/c/{preferences}").status_code == 400
    long_stamp = signup(client, "x" * 500_000, email="bob@example.org")
    assert long_stamp.status_code == 200 and "press Subscribe" in long_stamp.text
    assert client.post(link).status_code == 200 and len(smtp.messages) == 2
