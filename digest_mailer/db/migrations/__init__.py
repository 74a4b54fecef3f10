"""The Alembic migration environment, shipped inside the package (see digest_mailer.db.migrate)."""
