"""The ``x-token-encryption`` profile a version declares in its current spec revision.

The profile is derived once, when the revision is uploaded (``check_spec``), and stored with
it (``SpecRevision.token_profile``); nothing here parses a document again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from lifecycle.catalog.models import ApiVersion
from policies.spec_rules import extension_of
from policies.tokens import TokenProfile

__all__ = ["extension_of", "profile_dict", "profile_of"]


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
