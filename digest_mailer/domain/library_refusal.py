"""Why a library file is refused, as a code and its params (pure): English for the CLI and
the logs, the reader's language on the preferences page, both from ``library.<code>``."""

from __future__ import annotations

from collections.abc import Mapping

from digest_mailer import i18n
from digest_mailer.errors import LibraryError


def library_error(line: int, code: str, **params: object) -> LibraryError:
    """A refusal at ``line`` (0: the whole file), worded in English by ``library.<code>``."""
    return LibraryError(line, _text(i18n.REFERENCE, code, params), code=code, params=params)


def worded(error: LibraryError, lang: str) -> str:
    """Why the file was refused, in ``lang``; a refusal without a code keeps its English."""
    return _text(lang, error.code, error.params) if error.code else error.reason


def _text(lang: str, code: str, params: Mapping[str, object]) -> str:
    # ``what`` names the thing the BibTeX parser expected: a phrase of the table, not a value.
    values = {k: i18n.t(lang, f"library.what.{v}") if k == "what" else v
              for k, v in params.items()}
    return i18n.t(lang, f"library.{code}", **values)
