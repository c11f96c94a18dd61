"""REST views of signed gate records and the key that signs them (on the ``api`` blueprint).

- ``GET /api/v1/signing-keys.json`` — the public JWKS of Stagegate's gate-record signing
  keys (``application/jwk-set+json``, public members only);
- ``GET /api/v1/apis/{name}/versions/{version}/gate-records`` — the version's records,
  oldest first;
- ``GET /api/v1/apis/{name}/versions/{version}/gate-records/{id}`` — one record: the compact
  JWS exactly as signed, ``application/jose``, as an attachment.

Verify a download offline with ``stagegate verify-record FILE --jwks signing-keys.json``.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, jsonify, url_for

from lifecycle.accounts.authz import requires
from lifecycle.api.views import VERSION_PATH
from lifecycle.catalog import services
from lifecycle.core import errors
from lifecycle.core.extensions import db
from lifecycle.trust import records
from lifecycle.trust.models import GateRecord

JWKS_CACHE_SECONDS = 300


def record_dict(row: GateRecord, name: str, version: str) -> dict[str, Any]:
    """A gate record's summary: ``id``, ``check_run``, ``target``, ``decision``, ``kid``,
    ``created_at``, ``sha256`` (of the JWS bytes) and the download ``url``."""
    return {
        "id": row.id,
        "check_run": row.check_run_id,
        "target": row.target_stage,
        "decision": row.decision,
        "kid": row.kid,
        "created_at": row.created_at.isoformat(),
        "sha256": hashlib.sha256(row.jws.encode("ascii")).hexdigest(),
        "url": url_for("api.get_gate_record", name=name, version=version, record_id=row.id),
    }


@requires("public")  # public keys: anyone may verify a record
def signing_keys() -> Any:
    """The public keys that verify gate records (the first is generated on first use)."""
    body = records.public_jwks()
    db.session.commit()  # keeps a key generated just now (and its audit entry)
    response = jsonify(body)
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={JWKS_CACHE_SECONDS}"
    return response


@requires("read")
def list_gate_records(name: str, version: str) -> Any:
    """The version's signed gate records, oldest first."""
    obj = services.get_version(name, version)
    return jsonify(api=name, version=version,
                   records=[record_dict(r, name, version) for r in records.list_records(obj)])


@requires("read")
def get_gate_record(name: str, version: str, record_id: str) -> Any:
    """Download one signed gate record (the exact stored JWS bytes)."""
    return gate_record_download(name, version, record_id)


def gate_record_download(name: str, version: str, record_id: str) -> Response:
    """One signed gate record as a download: the exact stored JWS bytes,
    ``application/jose``, ``gate-record-<name>-<version>-<id>.jws`` (the REST view and the
    web UI's link from the audit trail answer the same).

    :raises NotFound: no such version, or it has no record ``record_id``.
    """
    obj = services.get_version(name, version)
    row = records.get_record(obj, record_id[:64])
    if row is None:
        raise errors.NotFound(f"Version {name}@{version} has no gate record "
                                f"{record_id[:64]!r}.")
    response = Response(row.jws.encode("ascii"), mimetype=records.MEDIA_TYPE)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="gate-record-{name}-{version}-{row.id}.jws"')
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp`` (the package builds its blueprints per app;
    see ``create_app``)."""
    bp.add_url_rule("/signing-keys.json", view_func=signing_keys, methods=["GET"])
    bp.add_url_rule(VERSION_PATH + "/gate-records", view_func=list_gate_records, methods=["GET"])
    bp.add_url_rule(
        VERSION_PATH + "/gate-records/<record_id>", view_func=get_gate_record, methods=["GET"]
    )
