"""REST views for managed keys and evidence (registered on the ``api`` blueprint).

Under ``/api/v1/apis/{name}/versions/{version}``:

- ``GET  /jwks.json`` — the version's public encryption JWKS (current + in-grace keys,
  public members only), ``Cache-Control: max-age=300``;
- ``GET  /keys`` — managed keys (public parts, state) and key events;
  ``POST /keys`` ``{"alg"?, "crv"?, "size"?}`` — generate the first key (201);
  ``POST /keys/rotate`` ``{"grace_seconds": N, "alg"?, "crv"?, "size"?}`` (201);
- ``PUT  /evidence/jwks`` — the issuer's signing JWKS as the raw JSON body (201 new, 200
  identical to the newest); ``GET /evidence/jwks`` — the newest one;
- ``POST /evidence/tokens`` ``{"token": "..."}`` — analyse a sample token (201 new analysis,
  200 already analysed); ``GET /evidence/tokens`` — every analysis, newest first.

The raw token is never echoed back, not even in errors.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request

from lifecycle.accounts.authz import current_actor
from lifecycle.api.errors import ApiError
from lifecycle.api.serialize import finding_dict
from lifecycle.api.views import VERSION_PATH, _json_object, _text
from lifecycle.catalog import services
from lifecycle.core import errors
from lifecycle.core.clock import clock
from lifecycle.evidence import keys
from lifecycle.evidence import services as evidence
from lifecycle.evidence.models import JwksEvidence, KeyEvent, ManagedKey, TokenEvidence
from policies.findings import Finding

JWKS_CACHE_SECONDS = 300


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def key_dict(key: ManagedKey, now: datetime) -> dict[str, Any]:
    """A managed key: ``kid``, ``alg``, ``kty``, ``crv``, ``size``, ``state`` (as of now),
    times and the public JWK (never private members)."""
    return {
        "kid": key.kid, "alg": key.alg, "kty": key.kty, "crv": key.crv, "size": key.size,
        "state": key.status_at(now), "created_at": _time(key.created_at),
        "grace_until": _time(key.grace_until), "retired_at": _time(key.retired_at),
        "public_jwk": dict(key.public_jwk),
    }


def event_dict(event: KeyEvent) -> dict[str, Any]:
    """A key event: ``kind``, ``kid``, ``actor``, ``details``, ``at``."""
    return {"kind": event.kind, "kid": event.key.kid, "actor": event.actor,
            "details": event.details, "at": _time(event.created_at)}


def _findings(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [finding_dict(Finding.from_dict(d)) for d in items]


def jwks_evidence_dict(record: JwksEvidence) -> dict[str, Any]:
    """Stored JWKS evidence: public key set, key summaries, findings, ``passed``."""
    return {"id": record.id, "sha256": record.sha256, "passed": record.passed,
            "jwks": record.jwks, "keys": record.keys,
            "findings": _findings(record.findings), "submitted_by": record.submitted_by,
            "created_at": _time(record.created_at)}


def token_evidence_dict(record: TokenEvidence) -> dict[str, Any]:
    """A stored token analysis (never the token): headers, redacted claims, lifetime,
    fingerprint, findings, ``passed``."""
    return {"id": record.id, "fingerprint": record.fingerprint, "passed": record.passed,
            "outer_header": record.outer_header, "inner_header": record.inner_header,
            "claims": record.claims, "lifetime": record.lifetime,
            "decryption_kid": record.decryption_kid,
            "findings": _findings(record.findings), "not_evaluated": record.not_evaluated,
            "profile": record.profile, "submitted_by": record.submitted_by,
            "analysed_at": _time(record.created_at)}


def _optional_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {key: "Must be a whole number."}})
    return value


def _optional_body() -> dict[str, Any]:
    return _json_object() if request.get_data(cache=True) else {}


# ------------------------------------------------------------------------------ keys
def version_jwks(name: str, version: str) -> Any:
    """The public encryption JWKS token issuers encrypt to."""
    obj = services.get_version(name, version)
    response = jsonify(keys.public_jwks(obj))
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={JWKS_CACHE_SECONDS}"
    return response


def list_keys(name: str, version: str) -> Any:
    """Managed keys (newest first) and key events (oldest first)."""
    obj = services.get_version(name, version)
    now = clock()
    return jsonify(keys=[key_dict(k, now) for k in keys.list_keys(obj)],
                   events=[event_dict(e) for e in keys.key_events(obj)])


def generate_key(name: str, version: str) -> Any:
    """Generate the version's first encryption key (for the spec's declared ``alg``)."""
    body = _optional_body()
    key = keys.generate_key(name, version, alg=_text(body, "alg"), crv=_text(body, "crv"),
                            size=_optional_int(body, "size"),
                            actor=current_actor())
    return jsonify(key=key_dict(key, clock())), 201


def rotate_key(name: str, version: str) -> Any:
    """Rotate: a new current key; the old one decrypts for ``grace_seconds`` more."""
    body = _json_object()
    grace = body.get("grace_seconds")
    if grace is None:
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"grace_seconds": "This field is required."}})
    key = keys.rotate_key(name, version, _optional_int(body, "grace_seconds") or 0,
                          alg=_text(body, "alg"), crv=_text(body, "crv"),
                          size=_optional_int(body, "size"),
                          actor=current_actor())
    obj = services.get_version(name, version)
    now = clock()
    return jsonify(key=key_dict(key, now),
                   keys=[key_dict(k, now) for k in keys.list_keys(obj)]), 201


# ------------------------------------------------------------------------------ evidence
def put_jwks(name: str, version: str) -> Any:
    """Store the issuer's signing JWKS (raw JSON body; never fetched from a URL)."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported_media_type",
                       "Send the JWK Set itself as the request body, not as a form.")
    record, created = evidence.submit_jwks(name, version, request.get_data(cache=False),
                                           actor=current_actor())
    return jsonify(created=created, evidence=jwks_evidence_dict(record)), \
        201 if created else 200


def get_jwks(name: str, version: str) -> Any:
    """The newest issuer JWKS evidence."""
    record = evidence.latest_jwks(services.get_version(name, version))
    if record is None:
        raise errors.NotFound("No issuer JWKS has been supplied for this version yet.")
    return jsonify(evidence=jwks_evidence_dict(record))


def post_token(name: str, version: str) -> Any:
    """Analyse a sample access token ``{"token": "..."}`` (the token is never stored)."""
    body = _json_object()
    if "token" not in body:
        raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                       {"fields": {"token": "This field is required."}})
    record, created = evidence.analyse_token(name, version, body.get("token"),
                                             actor=current_actor())
    return jsonify(created=created, already_analysed=not created,
                   analysis=token_evidence_dict(record)), 201 if created else 200


def list_tokens(name: str, version: str) -> Any:
    """Every token analysis of the version, newest first."""
    obj = services.get_version(name, version)
    return jsonify(analyses=[token_evidence_dict(t) for t in
                             evidence.list_token_evidence(obj)])


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule(VERSION_PATH + "/jwks.json", view_func=version_jwks, methods=["GET"])
    bp.add_url_rule(VERSION_PATH + "/keys", view_func=list_keys, methods=["GET"])
    bp.add_url_rule(VERSION_PATH + "/keys", view_func=generate_key, methods=["POST"])
    bp.add_url_rule(VERSION_PATH + "/keys/rotate", view_func=rotate_key, methods=["POST"])
    bp.add_url_rule(VERSION_PATH + "/evidence/jwks", view_func=put_jwks, methods=["PUT"])
    bp.add_url_rule(VERSION_PATH + "/evidence/jwks", view_func=get_jwks, methods=["GET"])
    bp.add_url_rule(VERSION_PATH + "/evidence/tokens", view_func=post_token, methods=["POST"])
    bp.add_url_rule(VERSION_PATH + "/evidence/tokens", view_func=list_tokens, methods=["GET"])
