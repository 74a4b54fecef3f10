"""Rendering HTML pages from the Jinja2 templates in ``templates/web/`` (autoescaped), in
the language of the table given (English, the reference, unless the reader's is known)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from digest_mailer import i18n
from digest_mailer.mail.render import author_list, safe_url, trim_words, why


class Pages:
    def __init__(self, directory: Path) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=True,  # every template: feed text and form input are only escaped
            undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        # A paper's card as the email shows it: the same cuts and the same reasons.
        self.env.filters.update(why=why, trim_words=trim_words, authors=author_list,
                                safe_url=safe_url)
        # For a template rendered without a table (the tests' direct renders): English.
        self.env.globals.update(i18n.page_context())

    def render(self, name: str, status_code: int = 200,
               headers: dict[str, str] | None = None, *, lang: str = i18n.REFERENCE,
               cadence: str = "daily", **context: Any) -> HTMLResponse:
        """``cadence``: of the digest the page is about ("weekly": its words are the week's)."""
        html = self.env.get_template(name).render(**i18n.page_context(lang, cadence),
                                                  **context)
        return HTMLResponse(html, status_code=status_code, headers=headers)

    def message(self, key: str, status_code: int = 200, *, lang: str = i18n.REFERENCE,
                **fmt: Any) -> HTMLResponse:
        """The one-paragraph page of ``page.<key>.title`` and ``page.<key>.text``."""
        return self.render("message.html", status_code, lang=lang,
                           title=i18n.t(lang, f"page.{key}.title"),
                           text=i18n.t(lang, f"page.{key}.text", **fmt))
