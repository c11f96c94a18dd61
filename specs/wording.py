"""Words for people: counted nouns (``1 finding``, ``2 findings``), JSON pointers as read
(``/paths/{id}/get`` rather than ``/paths/~1{id}/get``) and byte counts (``4.0 MiB``).

Used by the loader's messages (:func:`specs.load.too_large`), the text reports
(:mod:`policies.report`) and, as template filters, the web pages (:mod:`lifecycle.web.views`),
so the command line, REST and the pages say the same thing.
"""

from __future__ import annotations

#: nouns whose plural is not ``+s``
_IRREGULAR = {"entry": "entries", "policy": "policies", "match": "matches",
              "analysis": "analyses", "property": "properties"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``"1 finding"``, ``"0 findings"``, ``"2 findings"``.

    :param count: how many.
    :param noun: the singular (``"finding"``).
    :param many: the plural when it is not ``noun + "s"`` (nor in the small table of
        irregular nouns this module knows).
    """
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun) or noun + 's'}"


def pointer_segments(pointer: str) -> list[str]:
    """The reference tokens of a JSON pointer, unescaped (RFC 6901 §4: ``~1`` is ``/``, then
    ``~0`` is ``~``): ``"/paths/~1items~1{id}/get"`` → ``["paths", "/items/{id}", "get"]``.
    ``""`` (the whole document) has none."""
    if not pointer:
        return []
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer.lstrip("/").split("/")]


def readable_pointer(pointer: str | None) -> str:
    """A JSON pointer as a person reads it: its unescaped tokens joined by `` › ``
    (``paths › /items/{id} › get``), since a token may itself hold ``/``; ``"(document
    root)"`` for ``""``; ``""`` for ``None``."""
    if pointer is None:
        return ""
    segments = pointer_segments(pointer)
    return " › ".join(segments) if segments else "(document root)"


def file_size(size: int) -> str:
    """A byte count for people, 1024-based with IEC units: ``"512 bytes"``, ``"1 byte"``,
    ``"1.5 KiB"``, ``"4.0 MiB"``, ``"2.0 GiB"`` (one decimal from KiB up)."""
    if size < 1024:
        return plural(size, "byte")
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{value:.1f} {unit}"
