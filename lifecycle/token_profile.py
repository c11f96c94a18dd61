"""The ``x-token-encryption`` profile a version declares in its current spec revision.

Read from the revision's stored bytes (parsed once per SHA-256 per process: the profile is a
pure function of the bytes, so the small cache holds no shared state).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from lifecycle.models import ApiVersion, SpecRevision
from policies.spec_rules import PROFILE_KEY, bearer_schemes
from policies.tokens import TokenProfile
from specs import LoadLimits, SpecLoadError, load_document
from specs.index import SpecIndex

_CACHE_SIZE = 256
_cache: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
_lock = threading.Lock()


def extension_of(raw: bytes, limits: LoadLimits | None = None) -> dict[str, Any] | None:
    """The first bearer scheme's ``x-token-encryption`` mapping in a document, or ``None``
    (unreadable document, no bearer scheme, no or ill-typed extension)."""
    try:
        index = SpecIndex(load_document(raw, limits))
        for scheme in bearer_schemes(index):
            ext = scheme.data.get(PROFILE_KEY)
            if isinstance(ext, Mapping):
                return dict(ext)
    except (SpecLoadError, RecursionError, ValueError, TypeError):
        return None
    return None


def revision_extension(revision: SpecRevision | None) -> dict[str, Any] | None:
    """:func:`extension_of` the revision's bytes (cached by SHA-256)."""
    if revision is None:
        return None
    with _lock:
        if revision.sha256 in _cache:
            _cache.move_to_end(revision.sha256)
            return _cache[revision.sha256]
    ext = extension_of(revision.raw, LoadLimits(max_bytes=max(len(revision.raw), 1)))
    with _lock:
        _cache[revision.sha256] = ext
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return ext


def profile_of(version_obj: ApiVersion) -> TokenProfile:
    """The version's declared token profile (every field ``None`` when nothing is
    declared)."""
    return TokenProfile.from_extension(revision_extension(version_obj.current_revision))


def profile_dict(profile: TokenProfile) -> dict[str, Any]:
    """Plain-JSON form of a profile (stored with each token analysis)."""
    data = asdict(profile)
    data["audience"] = list(profile.audience)
    return data
