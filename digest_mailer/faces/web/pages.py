"""Rendering HTML pages from the Jinja2 templates in ``templates/web/`` (autoescaped)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from digest_mailer import i18n


class Pages:
    def __init__(self, directory: Path) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            autoescape=True,  # every template: feed text and form input are only escaped
            undefined=jinja2.StrictUndefined,
            trim_blocks=True, lstrip_blocks=True,
        )
        # English unless a render passes the reader's table (i18n.page_context(lang)).
        self.env.globals.update(i18n.page_context())

    def render(self, name: str, status_code: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(**context)
        return HTMLResponse(html, status_code=status_code, headers=headers)

    def message(self, title: str, text: str, status_code: int = 200) -> HTMLResponse:
        return self.render("message.html", status_code, title=title, text=text)
