"""digest-mailer: a morning digest of new papers, by email.

The public face: :class:`App` (built from :func:`load_settings`), the settings and the
errors. Imported lazily, so ``digest-mailer --help`` loads none of the heavy parts.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from digest_mailer.app import App
    from digest_mailer.errors import (
        DeliveryError,
        DigestError,
        MailboxError,
        SchemaError,
        SettingsError,
    )
    from digest_mailer.settings import Settings, load_settings

_WHERE = {
    "App": "digest_mailer.app",
    "Settings": "digest_mailer.settings",
    "load_settings": "digest_mailer.settings",
    "DigestError": "digest_mailer.errors",
    "SettingsError": "digest_mailer.errors",
    "DeliveryError": "digest_mailer.errors",
    "MailboxError": "digest_mailer.errors",
    "SchemaError": "digest_mailer.errors",
}
__all__ = ["App", "DeliveryError", "DigestError", "MailboxError", "SchemaError", "Settings",
           "SettingsError", "load_settings"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'digest_mailer' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value  # once: the next lookup is a plain attribute
    return value
