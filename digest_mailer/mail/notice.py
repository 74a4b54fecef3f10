"""Render a sign-up :class:`~digest_mailer.domain.signup.Notice` (confirmation, "already
subscribed", welcome) into an email's subject, preheader, HTML and text, as digests are:
MJML through mjml-python for the HTML, a wrapped plain-text part."""

from __future__ import annotations

from pathlib import Path

from mjml import mjml2html

from digest_mailer.domain.digest import RenderedDigest
from digest_mailer.domain.signup import Notice
from digest_mailer.i18n import texts
from digest_mailer.mail.render import email_environment, one_line, trim_words


class NoticeRenderer:
    def __init__(self, templates_dir: Path) -> None:
        env = email_environment(templates_dir)
        self._html = env.get_template("notice.mjml.j2")
        self._text = env.get_template("notice.txt.j2")

    def render(self, notice: Notice) -> RenderedDigest:
        t = texts(notice.language)
        ctx = {"n": notice, "t": t, "colon": t["lang.colon"] + t["lang.word_sep"]}
        html = mjml2html(self._html.render(ctx), disable_comments=True)
        return RenderedDigest(subject=one_line(notice.subject),
                              preheader=trim_words(notice.paragraphs[0], 100),
                              html=html, text=self._text.render(ctx))
