"""URL converters: ``<int:...>`` ids are bounded to what the database can hold.

Werkzeug's ``int`` converter accepts any number of digits; an id above the id columns'
range then overflows the ``INTEGER`` parameter (PostgreSQL: ``integer out of range``, a
500; SQLite: ``OverflowError`` above 2**63 - 1).  Every id column is an SQL ``INTEGER``
(32-bit signed on PostgreSQL), so ids above 2**31 - 1 cannot exist.
:class:`BoundedIntConverter` does not match such a path, so the request is an ordinary 404
(JSON under ``/api/``).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

#: the largest id an id column holds (SQL ``INTEGER``: 32-bit signed on PostgreSQL)
MAX_ID = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """``int`` with ``max`` defaulting to :data:`MAX_ID` (1–10 ASCII digits)."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,
                 max: int | None = MAX_ID, signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None else max, signed=signed)


def init_app(app: Flask) -> None:
    """Replace the ``int`` converter (call before any blueprint is registered)."""
    app.url_map.converters["int"] = BoundedIntConverter
