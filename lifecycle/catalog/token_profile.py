"""The ``x-token-encryption`` profile a version declares in its current spec revision.

The profile is derived once, when the revision is uploaded (``check_spec``), and stored with
it (``SpecRevision.token_profile``); nothing here parses a document again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from lifecycle.catalog.models import ApiVersion
from policies.spec_rules import declared_profile
from policies.tokens import TokenProfile
from specs import LoadLimits, SpecLoadError, load_document
from specs.index import SpecIndex


def extension_of(raw: bytes, limits: LoadLimits | None = None) -> dict[str, Any] | None:
    """The first bearer scheme's ``x-token-encryption`` mapping in a document's bytes, or
    ``None`` (unreadable document, no bearer scheme, no or ill-typed extension).  For the
    offline CLI; uploads store it with the revision."""
    try:
        return declared_profile(SpecIndex(load_document(raw, limits)))
    except (SpecLoadError, RecursionError, ValueError, TypeError):
        return None


def profile_of(version_obj: ApiVersion) -> TokenProfile:
    """The version's declared token profile (every field ``None`` when nothing is
    declared)."""
    revision = version_obj.current_revision
    ext = revision.token_profile if revision is not None else None
    return TokenProfile.from_extension(ext if isinstance(ext, Mapping) else None)


def profile_dict(profile: TokenProfile) -> dict[str, Any]:
    """Plain-JSON form of a profile (stored with each token analysis)."""
    data = asdict(profile)
    data["audience"] = list(profile.audience)
    return data
