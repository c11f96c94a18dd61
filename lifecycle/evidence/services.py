"""Evidence on a version: the issuer's signing JWKS and analyses of sample access tokens.

- :func:`submit_jwks` — a pasted/uploaded JWKS (never fetched from a URL).  Checked with
  :func:`policies.keys.check_jwks`; only public members are stored (private members of a
  submission are dropped, and the KEY-JWKS-HYGIENE finding keeps saying they were sent).
- :func:`analyse_token` — a sample token, decrypted with the version's managed keys (current
  and in grace), verified with the newest issuer JWKS, checked against the current spec's
  ``x-token-encryption`` profile by :func:`policies.tokens.check_token`.  Only the analysis
  is stored; the token is never stored, logged or returned.  A resubmitted token (same
  SHA-256 fingerprint for the version) returns the earlier analysis.  CLM-JTI uses a
  database-backed replay cache (:class:`DbReplayCache`) shared by every process.
- :func:`evidence_findings` — what the gate adds to the spec findings: the JWKS findings and
  the findings of the best qualifying token analysis, or ``missing-evidence`` findings that
  say exactly what to supply (fail closed).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from jwcrypto import jwk
from sqlalchemy.exc import IntegrityError

from lifecycle import audit
from lifecycle.catalog.models import ApiVersion
from lifecycle.catalog.services import get_version
from lifecycle.catalog.token_profile import profile_dict, profile_of
from lifecycle.core.actor import Actor
from lifecycle.core.clock import aware, clock
from lifecycle.core.errors import ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.evidence import keys
from lifecycle.evidence.models import JwksEvidence, ReplayEntry, TokenEvidence
from policies.findings import Finding, Status
from policies.keys import check_jwks, check_key_urls, compare_jwks, public_key_set
from policies.keys.jwks import MAX_JWKS_BYTES
from policies.rules import get_rule
from policies.token_rules import KEY_RULE_IDS, TOKEN_RULE_IDS
from policies.tokens import check_token, fingerprint
from specs import strictjson

#: default for ``TOKEN_EVIDENCE_MAX_AGE_DAYS``
TOKEN_EVIDENCE_MAX_AGE_DAYS = 30
#: public JWK members kept from a submitted JWKS (everything else is dropped)
PUBLIC_MEMBERS = frozenset({"kty", "kid", "use", "key_ops", "alg", "n", "e", "crv", "x", "y",
                            "pub", "x5c", "x5t", "x5t#S256", "x5u"})
MAX_ACTOR = 100


def version_path(version_obj: ApiVersion) -> str:
    """``/api/v1/apis/{name}/versions/{version}`` of a version."""
    return f"/api/v1/apis/{version_obj.api.name}/versions/{version_obj.version}"


# ------------------------------------------------------------------------------ replay cache
class DbReplayCache:
    """:class:`policies.tokens.ReplayCache` in the database (table ``replay_entry``), so every
    process sees every ``jti``.  Atomic: an insert on the unique ``key``; a conflict means
    "seen".  Runs on its own connection, outside the caller's session transaction; expired
    ids are purged on each call."""

    def check_and_store(self, key: str, expires_at: int, now: int) -> bool:
        table = ReplayEntry.__table__
        with db.engine.begin() as conn:
            conn.execute(sa.delete(table).where(table.c.expires_at < now))
        try:
            with db.engine.begin() as conn:
                conn.execute(sa.insert(table).values(key=key, expires_at=int(expires_at)))
        except IntegrityError:
            return False
        return True


# ------------------------------------------------------------------------------ JWKS
def latest_jwks(version_obj: ApiVersion) -> JwksEvidence | None:
    """The newest issuer JWKS evidence of a version, or ``None``."""
    stmt = (db.select(JwksEvidence).where(JwksEvidence.version_id == version_obj.id)
            .order_by(JwksEvidence.id.desc()).limit(1))
    return db.session.execute(stmt).scalar_one_or_none()


def _readable_set(raw: bytes) -> dict[str, Any] | None:
    """The parsed set when it is a JSON object with a non-empty ``keys`` array, else
    ``None`` (the JWKS checker explains why)."""
    if len(raw) > MAX_JWKS_BYTES:
        return None
    try:
        doc = strictjson.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list) or not doc["keys"]:
        return None
    return doc


def public_members(doc: dict[str, Any]) -> dict[str, Any]:
    """``{"keys": [...]}`` with only :data:`PUBLIC_MEMBERS` of each key (non-object entries
    become ``null`` so finding pointers such as ``/keys/2`` still point at the same
    index)."""
    return {"keys": [
        {n: v for n, v in entry.items() if n in PUBLIC_MEMBERS} if isinstance(entry, dict)
        else None
        for entry in doc["keys"]
    ]}


def submit_jwks(name: str, version: str, raw: bytes,
                actor: Actor) -> tuple[JwksEvidence, bool]:
    """Store the issuer's signing JWKS for a version with its KEY-rule findings.

    :param raw: the JWKS document as submitted (JSON, at most 256 KiB).
    :returns: ``(evidence, created)``; ``created`` is ``False`` when the bytes are identical
        to the newest stored JWKS (nothing new is stored).
    :raises NotFound: no such API or version.
    :raises ValidationFailed: ``{"jwks": reason}`` when the body is not a readable JWK Set
        (not JSON, no ``keys`` array, too large, ...); nothing is stored.
    """
    obj = get_version(name, version)
    raw = bytes(raw)
    analysis = check_jwks(raw, purpose="issuer-signing")
    doc = _readable_set(raw)
    if doc is None:
        reason = next((f.message for f in analysis.findings if f.status.blocks),
                      "the body is not a JWK Set.")
        raise ValidationFailed({"jwks": f"Not a readable JWK Set: {reason} Send the issuer's "
                                        "public key set as JSON: {\"keys\": [...]}."})
    sha = hashlib.sha256(raw).hexdigest()
    newest = latest_jwks(obj)
    if newest is not None and newest.sha256 == sha:
        return newest, False
    record = JwksEvidence(
        version_id=obj.id, sha256=sha, jwks=public_members(doc),
        keys=[k.to_dict() for k in analysis.keys],
        findings=[f.to_dict() for f in analysis.findings], passed=analysis.passed,
        submitted_by=actor.label[:MAX_ACTOR], created_at=clock(),
    )
    db.session.add(record)
    audit.record("evidence.jwks_submitted", record.submitted_by, audit.subject_of(obj),
                 {"sha256": sha, "keys": len(record.keys), "passed": record.passed})
    db.session.commit()
    return record, True


# ------------------------------------------------------------------------------ tokens
def list_token_evidence(version_obj: ApiVersion) -> list[TokenEvidence]:
    """Every token analysis of a version, newest first."""
    stmt = (db.select(TokenEvidence).where(TokenEvidence.version_id == version_obj.id)
            .order_by(TokenEvidence.id.desc()))
    return list(db.session.execute(stmt).scalars())


def _by_fingerprint(version_id: int, digest: str) -> TokenEvidence | None:
    stmt = db.select(TokenEvidence).where(TokenEvidence.version_id == version_id,
                                          TokenEvidence.fingerprint == digest)
    return db.session.execute(stmt).scalar_one_or_none()


def clean_token(token: object) -> str:
    """The token text without surrounding whitespace and an optional ``Bearer`` prefix.

    :raises ValidationFailed: ``{"token": ...}`` when it is not a non-empty string (the
        value itself is never part of the message).
    """
    if not isinstance(token, str):
        raise ValidationFailed({"token": "Send the access token as a JSON string."})
    text = token.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    if not text:
        raise ValidationFailed({"token": "Paste a sample access token (the value after "
                                         "`Bearer `)."})
    return text


def analyse_token(name: str, version: str, token: object, actor: Actor,
                  now: datetime | None = None) -> tuple[TokenEvidence, bool]:
    """Analyse a sample access token and store the analysis (never the token).

    :param token: the compact token (an optional ``Bearer`` prefix and surrounding
        whitespace are removed first).
    :param now: the time to judge it at (default :func:`lifecycle.core.clock.clock`).
    :returns: ``(analysis, created)``; ``created`` is ``False`` when the same token (same
        SHA-256 fingerprint) was analysed for this version before — that earlier analysis is
        returned and nothing is counted twice.
    :raises NotFound: no such API or version.
    :raises ValidationFailed: ``token`` is not a non-empty string.
    :raises lifecycle.core.errors.KeyStoreUnavailable: the managed keys cannot be opened.
    """
    obj = get_version(name, version)
    text = clean_token(token)
    digest = fingerprint(text)
    existing = _by_fingerprint(obj.id, digest)
    if existing is not None:
        return existing, False
    moment = aware(now)
    profile = profile_of(obj)
    decryption = keys.decryption_keys(obj, moment)
    jwks = latest_jwks(obj)
    issuer = public_key_set(jwks.jwks) if jwks is not None else jwk.JWKSet()
    analysis = check_token(text, decryption_keys=decryption, issuer_jwks=issuer,
                           profile=profile, now=int(moment.timestamp()),
                           replay_cache=DbReplayCache())
    del text, token, decryption
    outer_kid = (analysis.outer_header or {}).get("kid")
    known = {k.kid for k in keys.usable_keys(obj, moment)}
    record = TokenEvidence(
        version_id=obj.id, fingerprint=digest, outer_header=analysis.outer_header,
        inner_header=analysis.inner_header, claims=analysis.claims,
        lifetime=analysis.lifetime, findings=[f.to_dict() for f in analysis.findings],
        not_evaluated=list(analysis.not_evaluated), profile=profile_dict(profile),
        passed=analysis.passed,
        decryption_kid=outer_kid if isinstance(outer_kid, str) and outer_kid in known
        else None,
        submitted_by=actor.label[:MAX_ACTOR], created_at=moment,
    )
    keys.retire_expired(obj, moment, commit=False)
    db.session.add(record)
    audit.record("evidence.token_analysed", record.submitted_by, audit.subject_of(obj),
                 {"fingerprint": digest, "passed": record.passed,
                  "decryption_kid": record.decryption_kid})
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = _by_fingerprint(obj.id, digest)
        if existing is None:
            raise
        return existing, False
    return record, True


# ------------------------------------------------------------------------------ the gate
def max_age() -> timedelta:
    """How old a token analysis may be to count (``TOKEN_EVIDENCE_MAX_AGE_DAYS``, 30)."""
    days = current_app.config.get("TOKEN_EVIDENCE_MAX_AGE_DAYS", TOKEN_EVIDENCE_MAX_AGE_DAYS)
    return timedelta(days=float(days))


def _missing(rule_ids: tuple[str, ...], message: str) -> list[Finding]:
    return [Finding(r, get_rule(r).severity, Status.MISSING_EVIDENCE, message)
            for r in rule_ids]


def jwks_findings(version_obj: ApiVersion) -> list[Finding]:
    """KEY findings of the newest issuer JWKS, plus KEY-SEPARATION between it and the
    version's managed keys and KEY-JWKS-HTTPS on the declared issuer / ``jwks-uri``; every
    KEY rule ``missing-evidence`` (saying what to supply) when no JWKS was submitted."""
    evidence = latest_jwks(version_obj)
    if evidence is None:
        return _missing(KEY_RULE_IDS, (
            "No issuer signing JWKS has been supplied for this version. Paste the issuer's "
            "public JWKS (the document at its jwks_uri) on the version page or PUT it as the "
            f"raw JSON body to {version_path(version_obj)}/evidence/jwks."))
    found = [Finding.from_dict(d) for d in evidence.findings]
    managed = keys.public_jwks(version_obj)
    if managed["keys"]:
        found += compare_jwks(evidence.jwks, managed)
    profile = profile_of(version_obj)
    found += check_key_urls(profile.issuer, profile.jwks_uri)
    return found


def best_token_evidence(version_obj: ApiVersion,
                        now: datetime | None = None) -> tuple[TokenEvidence | None, str]:
    """The token analysis the gate uses, and why.

    Among analyses not older than :func:`max_age` that were checked against the current
    token profile: the newest that passed, else the newest (so its failures show).

    :returns: ``(analysis, "")``, or ``(None, message)`` saying what to supply.
    """
    moment = aware(now)
    cutoff = moment - max_age()
    days = f"{max_age().total_seconds() / 86400:g}"
    recent = [t for t in list_token_evidence(version_obj) if t.created_at >= cutoff]
    current = profile_dict(profile_of(version_obj))
    matching = [t for t in recent if t.profile == current]
    for analysis in matching:
        if analysis.passed:
            return analysis, ""
    if matching:
        return matching[0], ""
    supply = (f"Paste a sample access token on the version page or POST it to "
              f"{version_path(version_obj)}/evidence/tokens as {{\"token\": \"...\"}}.")
    if recent:
        return None, (f"The sample token(s) of the last {days} days were analysed against an "
                      "earlier token profile (x-token-encryption changed). " + supply)
    return None, (f"No sample access token has been analysed for this version in the last "
                  f"{days} days. " + supply)


def token_findings(version_obj: ApiVersion, now: datetime | None = None) -> list[Finding]:
    """The findings of :func:`best_token_evidence` (rules it did not reach are
    ``missing-evidence``), or every token rule ``missing-evidence`` with what to supply."""
    analysis, message = best_token_evidence(version_obj, now)
    if analysis is None:
        return _missing(TOKEN_RULE_IDS, message)
    found = [Finding.from_dict(d) for d in analysis.findings]
    skipped = tuple(r for r in analysis.not_evaluated if r in TOKEN_RULE_IDS)
    found += _missing(skipped, "Not evaluated: an earlier check rejected the sample token "
                               f"analysed at {analysis.created_at:%Y-%m-%d %H:%M} UTC.")
    return found


def token_valid_until(version_obj: ApiVersion, now: datetime | None = None) -> datetime | None:
    """The earliest time after ``now`` at which :func:`token_findings` may change by the
    clock alone: an analysis still counted reaching :func:`max_age`, or a managed key's
    grace period ending; ``None`` when neither can happen."""
    moment = aware(now)
    # an analysis counts while created_at >= now - max_age: it stops counting just after
    # created_at + max_age (a second later, whole seconds being what the clock stores)
    age = max_age() + timedelta(seconds=1)
    times = [t.created_at + age for t in list_token_evidence(version_obj)
             if t.created_at + age > moment]
    times += [k.grace_until for k in keys.list_keys(version_obj)
              if k.state == "grace" and k.grace_until is not None and k.grace_until > moment]
    return min(times, default=None)


def evidence_findings(version_obj: ApiVersion, now: datetime | None = None) -> list[Finding]:
    """JWKS findings + the best token analysis' findings (see the module docstring)."""
    return jwks_findings(version_obj) + token_findings(version_obj, now)
