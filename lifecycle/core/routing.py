"""URL converters: ``<int:...>`` ids are bounded to what the database can hold.

Werkzeug's ``int`` converter accepts any number of digits; an id above 2**63 - 1 then
overflows the ``BIGINT``/``INTEGER`` parameter in the driver (a 500 on PostgreSQL, an
``OverflowError`` on SQLite).  :class:`BoundedIntConverter` does not match such a path, so
the request is an ordinary 404 (JSON under ``/api/``).
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

#: the largest signed 64-bit integer (SQL ``BIGINT``; SQLite's INTEGER)
MAX_ID = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    """``int`` with ``max`` defaulting to :data:`MAX_ID` (1–19 ASCII digits)."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = MAX_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None else max, signed=signed)


def init_app(app: Flask) -> None:
    """Replace the ``int`` converter (call before any blueprint is registered)."""
    app.url_map.converters["int"] = BoundedIntConverter
