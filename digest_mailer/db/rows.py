"""Reads as plain rows (SQLAlchemy Core) against the tables as the database has them: for
a command that only lists, such as ``feeds list``, which should start in under 0.5 s and
would spend ~0.15 s importing SQLModel and building every model class.

models.py stays the one definition of the schema (the migrations follow it): a table here
is reflected from the database, so nothing restates a column. Timestamps come back aware
UTC, as the models' do: every DateTime column of the schema is a UTCDateTime there.
A caller gets :class:`~sqlalchemy.engine.Row` objects, read-only, with the columns as
attributes (``row.label``), like the model's.
"""

from __future__ import annotations

import threading
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import DateTime, MetaData, Table, event, select
from sqlalchemy.engine import Engine, Row

from digest_mailer.db.types import UTCDateTime

_reflected: WeakKeyDictionary[Engine, MetaData] = WeakKeyDictionary()
_lock = threading.Lock()  # the web app's threads may reflect the same table at once


def _aware(inspector: Any, table: Table, column: dict[str, Any]) -> None:
    if isinstance(column["type"], DateTime):
        column["type"] = UTCDateTime()


def table(engine: Engine, name: str) -> Table:
    """The table ``name`` as the database has it, reflected once per engine."""
    with _lock:
        metadata = _reflected.get(engine)
        if metadata is None:
            metadata = _reflected[engine] = MetaData()
            event.listen(metadata, "column_reflect", _aware)
        if name not in metadata.tables:
            Table(name, metadata, autoload_with=engine)
        return metadata.tables[name]


def sources(engine: Engine) -> list[Row[Any]]:
    """Every source not removed, disabled ones too, in the order added."""
    source = table(engine, "source")
    with engine.connect() as conn:
        return list(conn.execute(select(source).where(source.c.removed_at.is_(None))
                                 .order_by(source.c.id)))
