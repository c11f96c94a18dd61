"""Signed gate records: every gate decision as a compact JWS (ES256) signed by Stagegate.

Each gated transition attempt (passed or blocked) stores a
:class:`~lifecycle.catalog.models.CheckRun`;
:func:`record_decision` turns it into a record — version, spec SHA-256, policy pack and its
SHA-256, every finding, approvals, decision, target stage, time, record id — and signs it::

    header  {"alg": "ES256", "kid": <RFC 7638 thumbprint>, "typ": "stagegate-gate-record+jws"}
    payload canonical JSON of the record (keys sorted, no whitespace)

The JWS is stored as signed (:class:`~lifecycle.trust.models.GateRecord`), so every download
returns
the same bytes.  The signing key (EC P-256, ``use: sig``, ``alg: ES256``) is generated on
first use; its private JWK is stored only sealed under the key-encryption key
(:mod:`lifecycle.core.crypto_store`); :func:`public_jwks` publishes public members only.

:func:`verify_record` is the offline check (``stagegate verify-record``): it needs no app and
no database, only the record bytes and the published JWKS.  It accepts exactly ES256, the
exact ``typ``, a header of exactly ``alg``/``kid``/``typ``, the one key whose ``kid`` equals
the header's, canonical base64url segments (so no "free" bits in a segment's last character
can be changed unnoticed) and a 64-byte ``r || s`` signature.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from jwcrypto import jwk

from lifecycle import audit
from lifecycle.catalog.models import ApiVersion, CheckRun
from lifecycle.core import crypto_store
from lifecycle.core.db import utcnow
from lifecycle.core.errors import KeyStoreUnavailable
from lifecycle.core.extensions import db
from lifecycle.trust.models import GateRecord, SigningKey
from policies.gate import GateDecision
from specs import strictjson
from specs.wording import plural

ALG = "ES256"
TYP = "stagegate-gate-record+jws"
#: media type of a downloaded record (RFC 7515 §9.2.1, compact serialization)
MEDIA_TYPE = "application/jose"
PURPOSE = "gate-records"
#: format version of the record payload (``format`` member)
FORMAT = 1
#: largest record file :func:`verify_record` reads
MAX_RECORD_BYTES = 4 * 1024 * 1024
HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
#: members every record has, and their JSON types
REQUIRED: dict[str, type | tuple[type, ...]] = {
    "format": int, "record_id": str, "api": str, "version": str, "spec": (dict, type(None)),
    "policy_pack": dict, "target_stage": str, "decision": str, "findings": list,
    "approvals": list, "decided_at": str,
}
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_COORD = 32  # P-256 coordinate and scalar size in bytes


class RecordInvalid(Exception):
    """The record does not verify: tampered, malformed, wrong algorithm/type, or signed by a
    key that is not in the JWKS.  ``reason`` is one sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class JwksUnreadable(Exception):
    """The JWKS given to :func:`verify_record` is not a JSON JWK Set."""


# ------------------------------------------------------------------------------ encoding
def b64url(raw: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_strict(text: str, what: str) -> bytes:
    """Decode unpadded base64url, refusing any other alphabet, padding, or a non-canonical
    last character (re-encoding must give back ``text`` exactly).

    :raises RecordInvalid: not canonical base64url.
    """
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise RecordInvalid(f"the {what} is not base64url.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise RecordInvalid(f"the {what} is not base64url.") from None
    if b64url(raw) != text:
        raise RecordInvalid(f"the {what} is not canonical base64url (changed bits).")
    return raw


def _strict_json(raw: bytes, what: str) -> Any:
    try:
        return strictjson.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RecordInvalid(f"the {what} is not valid JSON ({exc}).") from None


# ------------------------------------------------------------------------------ signing
def sign(record: Mapping[str, Any], private_key: jwk.JWK, kid: str) -> str:
    """The compact JWS of ``record`` (canonical JSON payload) signed with an EC P-256 key.

    :returns: ``header.payload.signature`` (ASCII); the signature is ``r || s``, 64 bytes
        (RFC 7518 §3.4).
    """
    header = audit.canonical_json({"alg": ALG, "kid": kid, "typ": TYP})
    signing_input = f"{b64url(header)}.{b64url(audit.canonical_json(dict(record)))}"
    key = private_key.get_op_key("sign")
    der = key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(_COORD, 'big') + s.to_bytes(_COORD, 'big'))}"


def _aad(kid: str) -> bytes:
    return f"stagegate-signing-key:{PURPOSE}:{kid}".encode()


def _kek() -> bytes:

    try:
        return crypto_store.current_kek()
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"Gate records cannot be signed: {exc.message}") from None


def _active_key() -> SigningKey | None:
    stmt = db.select(SigningKey).where(SigningKey.purpose == PURPOSE, SigningKey.active)
    return db.session.execute(stmt).scalar_one_or_none()


def signing_key() -> SigningKey:
    """The active gate-record signing key, generated (and audited) on first use.

    Runs inside the caller's unit of work, which commits the key with its audit entry (on
    PostgreSQL a savepoint guards the insert: when another process created the first key
    at the same moment, its key is used).

    :raises lifecycle.core.errors.KeyStoreUnavailable: the key-encryption key cannot be used.
    """
    key = _active_key()
    if key is not None:
        return key
    kek = _kek()
    pair = jwk.JWK.generate(kty="EC", crv="P-256", use="sig", alg=ALG)
    kid = pair.thumbprint()
    pair["kid"] = kid
    public = pair.export_public(as_dict=True)
    sealed = crypto_store.seal(pair.export_private().encode(), _aad(kid), kek)
    del pair
    row = SigningKey(kid=kid, purpose=PURPOSE, alg=ALG, public_jwk=public,
                     sealed_private=sealed, active=True, created_at=utcnow())
    if db.session.get_bind().dialect.name == "sqlite":
        # SQLite serialises writers (no race to lose), and pysqlite would commit a
        # savepoint opened outside a transaction on its own: flush in the caller's
        # transaction instead, so the key and its audit entry commit together.
        db.session.add(row)
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():
                db.session.add(row)
        except sa.exc.IntegrityError:  # another process created the first key just now
            key = _active_key()
            if key is None:
                raise
            return key
    audit.record("signing_key.generated", "stagegate", f"signing-key:{kid}",
                 {"kid": kid, "alg": ALG, "purpose": PURPOSE})
    return row


def _private(key: SigningKey) -> jwk.JWK:

    try:
        private = crypto_store.unseal(key.sealed_private, _aad(key.kid), _kek())
    except crypto_store.KeyStoreError as exc:
        raise KeyStoreUnavailable(f"The gate-record signing key cannot be opened: "
                                  f"{exc.message}") from None
    return jwk.JWK.from_json(private)


def public_jwks() -> dict[str, Any]:
    """``{"keys": [...]}``: the public JWK (``kty, crv, x, y, kid, use, alg``) of every
    gate-record signing key, the active one first; generates the first key when there is
    none (the caller commits)."""
    signing_key()
    stmt = (db.select(SigningKey).where(SigningKey.purpose == PURPOSE)
            .order_by(SigningKey.active.desc(), SigningKey.id.desc()))
    return {"keys": [_public_only(k.public_jwk) for k in db.session.execute(stmt).scalars()]}


def _public_only(jwk_dict: Mapping[str, Any]) -> dict[str, Any]:
    return {k: jwk_dict[k] for k in ("kty", "crv", "x", "y", "kid", "use", "alg")
            if k in jwk_dict}


# ------------------------------------------------------------------------------ records
def build_record(run: CheckRun, version_obj: ApiVersion, decision: GateDecision, *,
                 record_id: str, from_stage: str, requested_by: str,
                 approvals: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The record (payload) of a gate decision, as plain JSON values.

    ``findings`` are every finding the gate considered
    (:meth:`policies.findings.Finding.to_dict`), each with ``blocking`` (true when it is one
    of the decision's blocking findings); ``approvals`` are the approvals counted for the
    decision (``{"approver", "approved_at", "comment", "request"}``, oldest first; empty for
    moves that need none, :mod:`lifecycle.review.approvals`).
    """
    blocking = [f.to_dict() for f in decision.blocking]
    revision = run.revision
    return {
        "format": FORMAT,
        "record_id": record_id,
        "api": version_obj.api.name,
        "version": version_obj.version,
        "spec": {"revision": revision.number, "sha256": revision.sha256}
        if revision is not None else None,
        "policy_pack": {"name": decision.pack, "sha256": decision.pack_sha256},
        "from_stage": from_stage,
        "target_stage": decision.target,
        "decision": "passed" if decision.passed else "blocked",
        "findings": [{**f.to_dict(), "blocking": f.to_dict() in blocking}
                     for f in decision.findings],
        "approvals": [dict(a) for a in approvals],
        "requested_by": requested_by,
        "check_run": run.id,
        "decided_at": audit.format_time(run.created_at),
    }


def record_decision(run: CheckRun, version_obj: ApiVersion, decision: GateDecision, *,
                    from_stage: str, requested_by: str,
                    approvals: Sequence[Mapping[str, Any]] = ()) -> GateRecord:
    """Sign the record of ``decision`` (stored as ``run``, flushed so it has an id) and add
    it to the session; the caller's unit of work commits it.  ``approvals``: see
    :func:`build_record`.

    :raises lifecycle.core.errors.KeyStoreUnavailable: the signing key cannot be created or opened.
    """
    key = signing_key()
    record_id = str(uuid.uuid4())
    payload = build_record(run, version_obj, decision, record_id=record_id,
                           from_stage=from_stage, requested_by=requested_by,
                           approvals=approvals)
    token = sign(payload, _private(key), key.kid)
    row = GateRecord(id=record_id, check_run_id=run.id, version_id=version_obj.id,
                     kid=key.kid, decision=payload["decision"],
                     target_stage=run.target_stage, jws=token, created_at=run.created_at)
    db.session.add(row)
    return row


def list_records(version_obj: ApiVersion) -> list[GateRecord]:
    """Every gate record of a version, oldest first."""
    stmt = (db.select(GateRecord).where(GateRecord.version_id == version_obj.id)
            .order_by(GateRecord.created_at, GateRecord.check_run_id))
    return list(db.session.execute(stmt).scalars())


def get_record(version_obj: ApiVersion, record_id: str) -> GateRecord | None:
    """The version's gate record ``record_id``, or ``None``."""
    stmt = db.select(GateRecord).where(GateRecord.version_id == version_obj.id,
                                       GateRecord.id == record_id)
    return db.session.execute(stmt).scalar_one_or_none()


def record_for_run(check_run_id: int) -> GateRecord | None:
    """The gate record of a check run, or ``None`` (runs from before records existed)."""
    stmt = db.select(GateRecord).where(GateRecord.check_run_id == check_run_id)
    return db.session.execute(stmt).scalar_one_or_none()


# ------------------------------------------------------------------------------ verifying
@dataclass(frozen=True, slots=True)
class VerifiedRecord:
    """A record whose signature verified: its protected ``header`` and ``record``."""

    header: dict[str, Any]
    record: dict[str, Any]

    def summary(self) -> list[str]:
        """Human-readable lines: who, what, which spec and pack, decision, findings."""
        rec = self.record
        blocking = [f for f in rec["findings"] if isinstance(f, dict) and f.get("blocking")]
        spec = rec["spec"]
        pack = rec["policy_pack"]
        lines = [
            f"record:      {rec['record_id']}",
            f"version:     {rec['api']}@{rec['version']}",
            f"decision:    {rec['decision']} into {rec['target_stage']}"
            + (f" (from {rec['from_stage']})" if rec.get("from_stage") else ""),
            f"decided at:  {rec['decided_at']}",
            "spec:        " + (f"revision {spec.get('revision')} sha256 {spec.get('sha256')}"
                                if spec else "none uploaded"),
            f"policy pack: {pack.get('name')} sha256 {pack.get('sha256')}",
            f"findings:    {len(rec['findings'])} ({len(blocking)} blocking)",
        ]
        for finding in blocking:
            lines.append(f"  blocking:  {finding.get('rule_id')} [{finding.get('status')}] "
                         f"{finding.get('message')}")
        lines.append(f"approvals:   {len(rec['approvals'])}")
        for approval in rec["approvals"]:
            if isinstance(approval, dict):
                lines.append(f"  approved:  by {approval.get('approver')} at "
                             f"{approval.get('approved_at')}: {approval.get('comment') or '-'}")
        if rec.get("requested_by"):
            lines.append(f"requested by: {rec['requested_by']}")
        lines.append(f"signed by:   kid {self.header['kid']} ({self.header['alg']})")
        return lines


def read_jwks(data: bytes | str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """The key entries of a JWK Set given as JSON text/bytes or a dict.

    :raises JwksUnreadable: not a JSON object with a ``keys`` array of objects.
    """
    if isinstance(data, Mapping):
        doc: Any = data
    else:
        try:
            doc = _strict_json(data if isinstance(data, bytes) else data.encode(), "JWKS")
        except RecordInvalid as exc:
            raise JwksUnreadable(exc.reason) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise JwksUnreadable('the JWKS is not a JSON object with a "keys" array.')
    return [dict(k) for k in doc["keys"] if isinstance(k, Mapping)]


def _verification_key(entries: list[dict[str, Any]], kid: str) -> ec.EllipticCurvePublicKey:
    matches = [k for k in entries if k.get("kid") == kid]
    if not matches:
        raise RecordInvalid(f"no key with kid {kid[:80]!r} in the JWKS: the record was not "
                            "signed by a published Stagegate key.")
    if len(matches) > 1:
        raise RecordInvalid(f"the JWKS has {len(matches)} keys with kid {kid[:80]!r}.")
    entry = matches[0]
    if entry.get("kty") != "EC" or entry.get("crv") != "P-256":
        raise RecordInvalid("the key with that kid is not an EC P-256 key.")
    if entry.get("use", "sig") != "sig" or entry.get("alg", ALG) != ALG:
        raise RecordInvalid("the key with that kid is not for ES256 signatures.")
    ops = entry.get("key_ops")
    if ops is not None and "verify" not in ops:
        raise RecordInvalid("the key with that kid may not verify signatures (key_ops).")
    try:
        x = b64url_strict(str(entry.get("x", "")), "key's x coordinate")
        y = b64url_strict(str(entry.get("y", "")), "key's y coordinate")
    except RecordInvalid as exc:
        raise RecordInvalid(exc.reason) from None
    if len(x) != _COORD or len(y) != _COORD:
        raise RecordInvalid("the key's coordinates are not 32 bytes.")
    try:
        return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                             ec.SECP256R1()).public_key()
    except ValueError:
        raise RecordInvalid("the key is not a point on P-256.") from None


def verify_record(data: bytes | str, jwks: bytes | str | Mapping[str, Any]) -> VerifiedRecord:  # noqa: C901, PLR0912 - one refusal per check
    """Verify a downloaded gate record against a published JWKS (offline).

    :param data: the compact JWS (surrounding whitespace is ignored).
    :param jwks: the JWK Set from ``GET /api/v1/signing-keys.json``.
    :returns: the verified header and record.
    :raises JwksUnreadable: ``jwks`` is not a JWK Set.
    :raises RecordInvalid: anything else — not a compact JWS, a header other than exactly
        ``{"alg": "ES256", "kid", "typ": "stagegate-gate-record+jws"}``, no key with exactly
        that ``kid``, a bad signature, or a payload that is not a gate record.
    """
    entries = read_jwks(jwks)
    if isinstance(data, str):
        try:
            data = data.encode("ascii")
        except UnicodeEncodeError:
            raise RecordInvalid("the record is not a compact JWS (non-ASCII text).") from None
    if len(data) > MAX_RECORD_BYTES:
        raise RecordInvalid(f"the record is larger than {MAX_RECORD_BYTES} bytes.")
    try:
        text = data.strip(b" \t\r\n").decode("ascii")
    except UnicodeDecodeError:
        raise RecordInvalid("the record is not a compact JWS (non-ASCII bytes).") from None
    parts = text.split(".")
    if len(parts) != 3:
        raise RecordInvalid(f"the record is not a compact JWS (it has "
                            f"{plural(len(parts), 'part')}, not 3).")
    header_b64, payload_b64, signature_b64 = parts
    header = _strict_json(b64url_strict(header_b64, "header"), "header")
    if not isinstance(header, dict):
        raise RecordInvalid("the header is not a JSON object.")
    if header.get("alg") != ALG:
        raise RecordInvalid(f"the header's alg is {header.get('alg')!r}; only {ALG} is "
                            "accepted.")
    if header.get("typ") != TYP:
        raise RecordInvalid(f"the header's typ is {header.get('typ')!r}, not {TYP!r}.")
    if set(header) != HEADER_MEMBERS:
        extra = sorted(set(header) - HEADER_MEMBERS) or sorted(HEADER_MEMBERS - set(header))
        raise RecordInvalid(f"the header must hold exactly alg, kid and typ ({extra}).")
    kid = header["kid"]
    if not isinstance(kid, str) or not kid:
        raise RecordInvalid("the header's kid is not a string.")
    key = _verification_key(entries, kid)
    signature = b64url_strict(signature_b64, "signature")
    if len(signature) != 2 * _COORD:
        raise RecordInvalid(f"the signature is {len(signature)} bytes, not 64 (ES256 r || s).")
    der = encode_dss_signature(int.from_bytes(signature[:_COORD], "big"),
                               int.from_bytes(signature[_COORD:], "big"))
    try:
        key.verify(der, f"{header_b64}.{payload_b64}".encode("ascii"),
                   ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise RecordInvalid("the signature does not verify: the record was changed after "
                            "it was signed, or signed by another key.") from None
    record = _strict_json(b64url_strict(payload_b64, "payload"), "payload")
    if not isinstance(record, dict):
        raise RecordInvalid("the payload is not a JSON object.")
    for name, kind in REQUIRED.items():
        if not isinstance(record.get(name), kind) or (kind is int and isinstance(
                record.get(name), bool)):
            raise RecordInvalid(f"the payload is not a gate record (member {name!r}).")
    if record["decision"] not in ("passed", "blocked"):
        raise RecordInvalid("the payload's decision is neither passed nor blocked.")
    return VerifiedRecord(header=header, record=record)
