"""A faster ``pathable`` sub-node lookup for plain ``dict``/``list`` nodes (issue 10).

``pathable.accessors.SubscriptableAccessor._get_subnode`` (pathable 0.6) starts every step
with ``isinstance(node, Subscriptable)``, a ``typing.Protocol`` check that walks the
protocol's members on each call: 16 % of Cloudflare's check (155k calls).  A ``dict`` or a
``list`` always satisfies that protocol (``__contains__``, ``__getitem__``, ``__len__``), so
for them the check is skipped; the lookup and its errors are unchanged (``KeyError(part)``
from ``KeyError``, ``IndexError`` or ``TypeError``).  Any other node takes the library's own
path.  :func:`install` replaces the classmethod once (idempotent) and only for the pathable
release it was written against (:data:`VERIFIED`): another release keeps the library's
lookup until this is checked again (``tests/unit/specs/test_fast_backend.py`` then fails on
``installed()``); ``specs.validate`` installs it at import; :func:`uninstall` restores the
original.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from pathable.accessors import SubscriptableAccessor

from specs.pointer import CONTAINERS

#: pathable releases whose ``_get_subnode`` this replaces (read and compared)
VERIFIED = frozenset({"0.6.0"})
_original: Any = SubscriptableAccessor.__dict__["_get_subnode"].__func__


def _get_subnode(cls: type, node: Any, part: Any) -> Any:
    if type(node) in CONTAINERS:
        try:
            return node[part]
        except (KeyError, IndexError, TypeError) as exc:
            raise KeyError(part) from exc
    return _original(cls, node, part)


def installed() -> bool:
    """Whether the shortcut is in place."""
    return SubscriptableAccessor.__dict__["_get_subnode"].__func__ is _get_subnode


def uninstall() -> None:
    """Put pathable's own lookup back (tests compare findings with and without)."""
    SubscriptableAccessor._get_subnode = classmethod(_original)  # type: ignore[assignment,method-assign]


def supported() -> bool:
    """Whether the installed pathable is a release this shortcut was checked against."""
    try:
        return metadata.version("pathable") in VERIFIED
    except metadata.PackageNotFoundError:
        return False


def install() -> None:
    """Use the plain-container shortcut in every accessor that inherits pathable's lookup
    (once; not when :func:`supported` says no)."""
    current = SubscriptableAccessor.__dict__["_get_subnode"].__func__
    if supported() and current is not _get_subnode:
        SubscriptableAccessor._get_subnode = classmethod(_get_subnode)  # type: ignore[assignment,method-assign]
