"""The admin login's cookie. The password check, the sessions and the guessing throttle
are the service :mod:`digest_mailer.services.admin`; the login and logout forms are in
``admin.py``.

The cookie is HttpOnly, SameSite=Strict, limited to /admin, Secure behind https, and holds
only a random session token (the database keeps its SHA-256).
"""

from __future__ import annotations

ADMIN_COOKIE = "digest_admin"
