"""Revisions that share unchanged subtrees with the previous document, as the loader's
difference read does (issue 10): for tests of the passes that reuse results by identity.

:func:`shared_like` gives ``new`` the previous document's objects wherever the two are
equal, at any depth — what :func:`specs.load.load_document` with ``previous=`` guarantees
for every subtree outside the one member it re-reads (it may share less, never more).
:func:`revised` loads a revision both ways and returns the shared one.
"""

from __future__ import annotations

from typing import Any

from specs import LoadLimits, SpecDocument, load_document

#: every operation key of a path item (3.x; a 2.0 document has no ``trace``)
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def operations_of(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation object of ``data``'s ``paths``, in document order."""
    paths = data.get("paths")
    if not isinstance(paths, dict):
        return []
    return [item[m] for item in paths.values() if isinstance(item, dict)
            for m in METHODS if isinstance(item.get(m), dict)]


def shared_like(previous: Any, new: Any) -> Any:
    """``new`` with every subtree equal (and of the same type) to ``previous``'s subtree at
    the same place replaced by that very object; containers that differ are new objects."""
    if type(previous) is type(new) and previous == new:
        return previous
    if isinstance(new, dict) and isinstance(previous, dict):
        return {k: shared_like(previous[k], v) if k in previous else v for k, v in new.items()}
    if isinstance(new, list) and isinstance(previous, list):
        return [shared_like(previous[i], v) if i < len(previous) else v
                for i, v in enumerate(new)]
    return new


def revised(previous: SpecDocument, raw: bytes) -> SpecDocument:
    """``raw`` loaded, its data sharing every unchanged subtree with ``previous.data``."""
    doc = load_document(raw, LoadLimits())
    doc.data = shared_like(previous.data, doc.data)
    return doc
