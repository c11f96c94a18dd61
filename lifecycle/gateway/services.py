"""Gateway evidence of a version: settings, the configuration, static findings and proofs.

- :func:`put_settings` — the version's gateway settings (server name, upstream, certificate
  and key paths on the gateway host, validator address, target, deprecation); validated by
  building :class:`lifecycle.gateway.render.GatewaySettings`.
- :func:`render_config` — a configuration rendered from the settings and the current
  revision's spec (base paths) and ``x-token-encryption`` profile (``nginx`` or
  ``nginx-plus``); :func:`generate_config` stores it as the version's configuration.
- :func:`upload_config` — a configuration the team brings: one file or a bundle of files,
  stored as bytes with the SHA-256 over the bundle (:func:`policies.gateway.bundle_sha256`),
  size-limited; nothing is ever read from the server's own disk.  Either way the
  :func:`policies.gateway.check_nginx` findings (file:line) are stored with it.
- :func:`submit_proof` — a ``gateway.prove`` job (:mod:`lifecycle.jobs`) that runs
  :func:`lifecycle.gateway.proof.run_proof` on the current configuration with Debian's nginx;
  :func:`store_proof` keeps the :class:`~lifecycle.gateway.proof.ProofResult` (``nginx -V``,
  configuration SHA-256, the attack table, times) — never a key or a token.
- :func:`gateway_findings` — what the gate sees: the current configuration's findings plus
  ``GW-PROOF``, passing only with a passing proof of the current configuration's SHA-256 not
  older than :func:`max_age`; otherwise ``missing-evidence`` saying what to do (fail closed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from lifecycle import audit, jobs
from lifecycle.catalog.models import ApiVersion
from lifecycle.catalog.services import get_version
from lifecycle.catalog.token_profile import profile_of
from lifecycle.core.actor import Actor
from lifecycle.core.clock import aware
from lifecycle.core.errors import Conflict, NotFound, ValidationFailed
from lifecycle.core.extensions import db
from lifecycle.gateway.models import TARGETS, GatewayConfig, GatewayProof, GatewaySettingsRow
from lifecycle.gateway.nginx import default_nginx
from lifecycle.gateway.proof import ProofResult, run_proof
from lifecycle.gateway.render import (
    CapabilityError,
    Deprecation,
    GatewaySettings,
    SettingsError,
    base_paths_from_spec,
    render_nginx,
    render_nginx_plus,
)
from policies.findings import Finding, Status
from policies.gateway import GATEWAY_RULE_IDS, check_nginx
from policies.gateway.conf import normalize_name
from policies.gateway_rules import GATEWAY_PROOF_RULE_ID
from policies.rules import get_rule
from policies.tokens import TokenProfile
from specs import SpecLoadError, load_document
from specs.index import SpecIndex

#: default for ``GATEWAY_EVIDENCE_MAX_AGE_DAYS`` (else ``TOKEN_EVIDENCE_MAX_AGE_DAYS``)
GATEWAY_EVIDENCE_MAX_AGE_DAYS = 30
#: largest single file of a configuration bundle
MAX_FILE_BYTES = 1024 * 1024
#: largest bundle (all files)
MAX_BUNDLE_BYTES = 4 * 1024 * 1024
#: most files in a bundle
MAX_FILES = 64
#: the job task that runs a proof
PROVE_TASK = "gateway.prove"
MAX_ACTOR = 100
_SETTING_FIELDS = ("server_name", "upstream", "certificate", "certificate_key", "validator",
                   "target", "deprecated_at", "sunset_at", "successor_url",
                   "deprecation_policy_url")
_REQUIRED = ("server_name", "upstream", "certificate", "certificate_key", "validator")


def gateway_path(version_obj: ApiVersion) -> str:
    """``/api/v1/apis/{name}/versions/{version}/gateway``."""
    return f"/api/v1/apis/{version_obj.api.name}/versions/{version_obj.version}/gateway"


def api_version_label(version_obj: ApiVersion) -> str:
    """``"<api>/<version>"``: what the configuration sends the validator."""
    return f"{version_obj.api.name}/{version_obj.version}"


# ------------------------------------------------------------------------------ settings
def settings_of(version_obj: ApiVersion) -> GatewaySettingsRow | None:
    """The version's gateway settings, or ``None``."""
    stmt = db.select(GatewaySettingsRow).where(GatewaySettingsRow.version_id == version_obj.id)
    return db.session.execute(stmt).scalar_one_or_none()


def _time_value(values: Mapping[str, Any], key: str, errors: dict[str, str]) -> datetime | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors[key] = "Send an ISO 8601 date-time with a time zone (2027-01-31T00:00:00Z)."
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors[key] = "Send an ISO 8601 date-time with a time zone (2027-01-31T00:00:00Z)."
        return None
    if moment.tzinfo is None:
        errors[key] = "Give a time zone (e.g. Z for UTC)."
        return None
    return moment


def _base_paths(version_obj: ApiVersion) -> tuple[str, ...]:
    revision = version_obj.current_revision
    if revision is None:
        return ("/",)
    try:
        return base_paths_from_spec(SpecIndex(load_document(revision.raw)))
    except (SpecLoadError, RecursionError, ValueError, TypeError):
        return ("/",)


def _deprecation(row: GatewaySettingsRow) -> Deprecation | None:
    if row.deprecated_at is None:
        return None
    return Deprecation(deprecated_at=row.deprecated_at, sunset_at=row.sunset_at,
                       successor_url=row.successor_url, policy_url=row.deprecation_policy_url)


def render_settings(version_obj: ApiVersion, row: GatewaySettingsRow) -> GatewaySettings:
    """The renderer's settings for the stored row and the version's current spec.

    :raises SettingsError: a stored value is not safe in nginx syntax.
    """
    return GatewaySettings(
        server_name=row.server_name, upstream=row.upstream, certificate=row.certificate,
        certificate_key=row.certificate_key, validator=row.validator,
        api_version=api_version_label(version_obj), base_paths=_base_paths(version_obj),
        deprecation=_deprecation(row))


def put_settings(name: str, version: str, values: Mapping[str, Any], actor: Actor,
                 now: datetime) -> GatewaySettingsRow:
    """Create or replace the version's gateway settings.

    :param values: ``server_name``, ``upstream``, ``certificate``, ``certificate_key``,
        ``validator`` (required strings), ``target`` (``nginx`` | ``nginx-plus``, default
        ``nginx``), ``deprecated_at``/``sunset_at`` (ISO 8601 with zone),
        ``successor_url``/``deprecation_policy_url`` (``https``).
    :raises NotFound: no such API or version.
    :raises ValidationFailed: field → reason; nothing is stored.
    """
    obj = get_version(name, version)
    errors: dict[str, str] = {}
    for key in values:
        if key not in _SETTING_FIELDS:
            errors[key] = "Unknown setting."
    text: dict[str, str | None] = {}
    for key in ("server_name", "upstream", "certificate", "certificate_key", "validator",
                "target", "successor_url", "deprecation_policy_url"):
        value = values.get(key)
        if value is None or value == "":
            if key in _REQUIRED:
                errors[key] = "This field is required."
            text[key] = None
        elif not isinstance(value, str) or len(value) > 300:
            errors[key] = "Send a string of at most 300 characters."
        else:
            text[key] = value.strip()
    target = text.get("target") or "nginx"
    if target not in TARGETS:
        errors["target"] = "Choose nginx or nginx-plus."
    deprecated_at = _time_value(values, "deprecated_at", errors)
    sunset_at = _time_value(values, "sunset_at", errors)
    if sunset_at is not None and deprecated_at is None:
        errors["sunset_at"] = "A sunset needs a deprecation date (deprecated_at)."
    if errors:
        raise ValidationFailed(errors)
    row = settings_of(obj) or GatewaySettingsRow(version_id=obj.id)
    row.server_name = str(text["server_name"])
    row.upstream = str(text["upstream"])
    row.certificate = str(text["certificate"])
    row.certificate_key = str(text["certificate_key"])
    row.validator = str(text["validator"])
    row.target = target
    row.deprecated_at, row.sunset_at = deprecated_at, sunset_at
    row.successor_url = text.get("successor_url")
    row.deprecation_policy_url = text.get("deprecation_policy_url")
    row.updated_by, row.updated_at = actor.label[:MAX_ACTOR], aware(now)
    try:
        render_settings(obj, row)
    except SettingsError as exc:
        db.session.rollback()
        raise ValidationFailed({"settings": str(exc)}) from None
    db.session.add(row)
    audit.record("gateway.settings_changed", row.updated_by, audit.subject_of(obj),
                 {k: (getattr(row, k).isoformat() if isinstance(getattr(row, k), datetime)
                      else getattr(row, k)) for k in _SETTING_FIELDS})
    db.session.commit()
    return row


def settings_dict(row: GatewaySettingsRow | None) -> dict[str, Any] | None:
    """JSON form of the settings (times ISO 8601), or ``None``."""
    if row is None:
        return None
    data: dict[str, Any] = {}
    for key in _SETTING_FIELDS:
        value = getattr(row, key)
        data[key] = value.isoformat() if isinstance(value, datetime) else value
    data["updated_by"], data["updated_at"] = row.updated_by, row.updated_at.isoformat()
    return data


# ------------------------------------------------------------------------------ configuration
def render_config(version_obj: ApiVersion, target: str | None, now: datetime) -> tuple[str, str]:
    """Render the version's gateway configuration.

    :param target: ``nginx`` | ``nginx-plus``, or ``None`` for the settings' target.
    :returns: ``(target, nginx.conf text)``.
    :raises ValidationFailed: no settings, no token profile in the current spec, an unknown
        target, or a profile the target cannot enforce (the capability message).
    """
    row = settings_of(version_obj)
    if row is None:
        raise ValidationFailed({"settings": (
            "This version has no gateway settings yet. PUT them to "
            f"{gateway_path(version_obj)}/settings (server_name, upstream, certificate, "
            "certificate_key, validator).")})
    chosen = target or row.target
    if chosen not in TARGETS:
        raise ValidationFailed({"target": "Choose nginx or nginx-plus."})
    profile = profile_of(version_obj)
    if version_obj.current_revision is None or profile.alg is None:
        raise ValidationFailed({"spec": (
            "The current spec declares no x-token-encryption profile; upload a spec whose "
            "bearer scheme declares one before rendering the gateway.")})
    try:
        settings = render_settings(version_obj, row)
        text = (render_nginx(settings, profile, now=aware(now)) if chosen == "nginx"
                else render_nginx_plus(settings, profile, now=aware(now)))
    except (SettingsError, CapabilityError) as exc:
        raise ValidationFailed({"target" if isinstance(exc, CapabilityError)
                                else "settings": str(exc)}) from None
    return chosen, text


def current_config(version_obj: ApiVersion) -> GatewayConfig | None:
    """The version's newest gateway configuration, or ``None``."""
    stmt = (db.select(GatewayConfig).where(GatewayConfig.version_id == version_obj.id)
            .order_by(GatewayConfig.id.desc()).limit(1))
    return db.session.execute(stmt).scalar_one_or_none()


def config_files(config: GatewayConfig) -> dict[str, bytes]:
    """The stored bundle: bundle path → bytes."""
    data = json.loads(config.bundle.decode("utf-8"))
    return {str(name): str(text).encode("utf-8") for name, text in data.items()}


def _clean_bundle(files: Mapping[str, Any], entry: str | None) -> tuple[dict[str, bytes], str]:
    if not isinstance(files, Mapping) or not files:
        raise ValidationFailed({"files": "Send at least one file: {\"files\": {\"nginx.conf\": "
                                         "\"...\"}, \"entry\": \"nginx.conf\"}."})
    if len(files) > MAX_FILES:
        raise ValidationFailed({"files": f"At most {MAX_FILES} files per bundle."})
    clean: dict[str, bytes] = {}
    total = 0
    for name, content in files.items():
        safe = normalize_name(name) if isinstance(name, str) else None
        if safe is None:
            raise ValidationFailed({"files": f"{str(name)[:80]!r} is not a safe relative file "
                                             "name (no '..', no absolute path)."})
        raw = content.encode("utf-8") if isinstance(content, str) else content
        if not isinstance(raw, bytes):
            raise ValidationFailed({"files": f"{safe}: send the file's text as a string."})
        if len(raw) > MAX_FILE_BYTES:
            raise ValidationFailed({"files": f"{safe}: larger than {MAX_FILE_BYTES} bytes."})
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationFailed({"files": f"{safe}: not UTF-8 text."}) from None
        if safe in clean:
            raise ValidationFailed({"files": f"{safe}: given twice."})
        total += len(raw)
        clean[safe] = raw
    if total > MAX_BUNDLE_BYTES:
        raise ValidationFailed({"files": f"The bundle is larger than {MAX_BUNDLE_BYTES} bytes."})
    chosen = normalize_name(entry) if isinstance(entry, str) else None
    if entry is None and len(clean) == 1:
        chosen = next(iter(clean))
    if chosen is None or chosen not in clean:
        raise ValidationFailed({"entry": "Name the main file (nginx -c) of the bundle as "
                                         "\"entry\"; it must be one of the files."})
    return clean, chosen


def _store_config(obj: ApiVersion, files: dict[str, bytes], entry: str, source: str,
                  target: str, actor: Actor, now: datetime) -> tuple[GatewayConfig, bool]:
    check = check_nginx(files, entry=entry)
    newest = current_config(obj)
    if newest is not None and newest.sha256 == check.sha256 and newest.entry == entry:
        return newest, False
    bundle = json.dumps({n: files[n].decode("utf-8") for n in sorted(files)},
                        ensure_ascii=False, sort_keys=True).encode("utf-8")
    record = GatewayConfig(
        version_id=obj.id, source=source, target=target, entry=entry, bundle=bundle,
        size=sum(len(b) for b in files.values()), sha256=check.sha256,
        findings=[f.to_dict() for f in check.findings], passed=check.passed,
        created_by=actor.label[:MAX_ACTOR], created_at=aware(now))
    db.session.add(record)
    audit.record("gateway.config_stored", record.created_by, audit.subject_of(obj),
                 {"source": source, "target": target, "sha256": check.sha256,
                  "files": sorted(files), "passed": check.passed})
    db.session.commit()
    return record, True


def generate_config(name: str, version: str, target: str | None, actor: Actor,
                    now: datetime) -> tuple[GatewayConfig, bool]:
    """Render (:func:`render_config`) and store the result as the version's configuration.

    :returns: ``(configuration, created)``; ``created`` is ``False`` when the rendering is
        identical to the current configuration.
    :raises NotFound: / :raises ValidationFailed: as :func:`render_config`.
    """
    obj = get_version(name, version)
    chosen, text = render_config(obj, target, now)
    return _store_config(obj, {"nginx.conf": text.encode("utf-8")}, "nginx.conf",
                         "generated", chosen, actor, now)


def upload_config(name: str, version: str, files: Mapping[str, Any], entry: str | None,
                  actor: Actor, now: datetime, target: str = "nginx") -> tuple[GatewayConfig, bool]:
    """Store a configuration the team brings (one file or a bundle of includes).

    :param files: bundle path → text (or UTF-8 bytes); at most :data:`MAX_FILES` files,
        :data:`MAX_FILE_BYTES` each and :data:`MAX_BUNDLE_BYTES` in all.
    :param entry: the main file's bundle path (default: the only file).
    :returns: ``(configuration, created)`` (``False``: identical to the current one).
    :raises ValidationFailed: unsafe names, too large, not UTF-8, no such entry.
    """
    obj = get_version(name, version)
    if target not in TARGETS:
        raise ValidationFailed({"target": "Choose nginx or nginx-plus."})
    clean, chosen = _clean_bundle(files, entry)
    return _store_config(obj, clean, chosen, "uploaded", target, actor, now)


def config_findings(config: GatewayConfig) -> list[Finding]:
    """The stored ``check_nginx`` findings of a configuration."""
    return [Finding.from_dict(d) for d in config.findings]


def config_dict(config: GatewayConfig) -> dict[str, Any]:
    """JSON form of a configuration without its text (``GET …/gateway/config`` downloads)."""
    return {"id": config.id, "source": config.source, "target": config.target,
            "entry": config.entry, "files": sorted(json.loads(config.bundle.decode("utf-8"))),
            "size": config.size, "sha256": config.sha256, "passed": config.passed,
            "created_by": config.created_by, "created_at": config.created_at.isoformat()}


# ------------------------------------------------------------------------------ proofs
def _config_to_prove(obj: ApiVersion) -> GatewayConfig:
    """The version's current configuration; :raises Conflict: there is none yet (409, what
    to do)."""
    config = current_config(obj)
    if config is None:
        raise Conflict("This version has no gateway configuration to prove. Generate it "
                       f"(PUT {gateway_path(obj)}/config {{\"generate\": \"nginx\"}}) or "
                       "upload one first.")
    return config


def submit_proof(name: str, version: str, actor: Actor, now: datetime) -> jobs.Job:
    """Queue a ``gateway.prove`` job for the version's current configuration (committed).

    :raises Conflict: the version has no gateway configuration yet (409, what to do).
    """
    obj = get_version(name, version)
    config = _config_to_prove(obj)
    proof_profile(obj)  # refuse now what the job could only fail on
    job = jobs.submit(PROVE_TASK, subject=audit.subject_of(obj), actor=actor.label,
                      now=aware(now), payload={"version_id": obj.id, "config_id": config.id})
    audit.record("gateway.proof_requested", actor.label[:MAX_ACTOR], audit.subject_of(obj),
                 {"job": job.id, "config_sha256": config.sha256})
    db.session.commit()
    return job


def nginx_binary() -> str:
    """``GATEWAY_NGINX`` (config) or Debian's nginx."""
    return str(current_app.config.get("GATEWAY_NGINX") or default_nginx())


def proof_profile(version_obj: ApiVersion) -> TokenProfile:
    """The token profile a proof builds its tokens for: the current revision's
    ``x-token-encryption``, which must name ``alg`` and ``signing-alg``.

    :raises Conflict: the current revision declares no such profile (what to add).
    """
    profile = profile_of(version_obj)
    if not profile.alg or not profile.signing_alg:
        raise Conflict("The current revision declares no token profile a proof can build "
                       "tokens for: add `x-token-encryption` with `alg` and `signing-alg` to "
                       "its token-bearing security scheme, upload it, then prove again.")
    return profile


def prove(version_obj: ApiVersion, config: GatewayConfig, clock: Any) -> ProofResult:
    """Run :func:`lifecycle.gateway.proof.run_proof` on ``config`` (blocking, ~2 s).

    :param clock: the app clock; read once here — the proof's own threads (validator, stub)
        have no app context, so they get that moment advanced by a monotonic timer.
    :raises Conflict: no usable token profile (:func:`proof_profile`).
    """
    profile = proof_profile(version_obj)
    start = aware(clock())
    began = time.monotonic()

    def proof_clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - began)

    return run_proof(config_files(config), entry=config.entry,
                     version=api_version_label(version_obj), profile=profile,
                     clock=proof_clock, nginx=nginx_binary())


def store_proof(version_obj: ApiVersion, config: GatewayConfig | None, result: ProofResult,
                actor: str, job_id: str | None = None) -> GatewayProof:
    """Keep a proof result (the caller commits).  ``config`` is the configuration that was
    proven (its SHA-256 must be the result's)."""
    if config is not None and config.sha256 != result.config_sha256:
        raise ValueError("the proof is of another configuration")
    data = result.to_dict()
    proof = GatewayProof(
        version_id=version_obj.id, config_id=config.id if config is not None else None,
        config_sha256=result.config_sha256, nginx_version=result.nginx_version,
        passed=result.passed, error=result.error, cases=data["cases"],
        decisions=result.decisions, log_leaks=data["log_leaks"], job_id=job_id,
        created_by=actor[:MAX_ACTOR], started_at=result.started_at,
        finished_at=result.finished_at)
    db.session.add(proof)
    db.session.flush()
    audit.record("gateway.proof_recorded", proof.created_by, audit.subject_of(version_obj),
                 {"proof": proof.id, "config_sha256": proof.config_sha256,
                  "passed": proof.passed, "cases": len(proof.cases), "job": job_id})
    return proof


@jobs.task(PROVE_TASK)
def _prove_task(ctx: jobs.JobContext) -> dict[str, Any]:
    version_obj = db.session.get(ApiVersion, int(ctx.payload["version_id"]))
    config = db.session.get(GatewayConfig, int(ctx.payload["config_id"]))
    if version_obj is None or config is None:
        raise jobs.JobFailed("not_found", "The version or its configuration no longer exists.")
    ctx.progress(10, "Starting nginx, the validator and the stub upstream")
    try:
        result = prove(version_obj, config, ctx.clock)
    except Conflict as exc:  # the spec changed after the job was queued
        raise jobs.JobFailed(exc.code, exc.message) from None
    ctx.progress(95, "Storing the proof")
    proof = store_proof(version_obj, config, result, ctx.actor, ctx.job_id)
    return {"proof": proof.id, "passed": proof.passed, "config_sha256": proof.config_sha256,
            "cases": len(proof.cases), "failed": sum(1 for c in proof.cases if not c["passed"]),
            "error": proof.error, "url": f"{gateway_path(version_obj)}/proofs/{proof.id}"}


def list_proofs(version_obj: ApiVersion, limit: int | None = None) -> list[GatewayProof]:
    """Every proof of a version, newest first (at most ``limit`` when given)."""
    stmt = (db.select(GatewayProof).where(GatewayProof.version_id == version_obj.id)
            .order_by(GatewayProof.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(db.session.execute(stmt).scalars())


def get_proof(version_obj: ApiVersion, proof_id: int) -> GatewayProof:
    """One proof of the version.  :raises NotFound: no such proof of this version."""
    proof = db.session.get(GatewayProof, proof_id)
    if proof is None or proof.version_id != version_obj.id:
        raise NotFound("No such gateway proof of this version.")
    return proof


def proof_summary(proof: GatewayProof) -> str:
    """One line for the gate record: configuration SHA-256, nginx version, result, when,
    case counts."""
    passed = sum(1 for c in proof.cases if c.get("passed"))
    first = proof.nginx_version.splitlines()[0] if proof.nginx_version else "nginx ?"
    first = first.removeprefix("nginx version: ")
    return (f"Gateway proof #{proof.id} of configuration sha256:{proof.config_sha256} with "
            f"{first}: {'passed' if proof.passed else 'failed'} "
            f"{passed}/{len(proof.cases)} cases at {proof.finished_at:%Y-%m-%dT%H:%M:%SZ}.")


def proof_dict(proof: GatewayProof, current_sha: str | None = None) -> dict[str, Any]:
    """JSON form of a proof (never a token or a key): the table and its summary."""
    return {"id": proof.id, "config_sha256": proof.config_sha256,
            "current": current_sha is not None and proof.config_sha256 == current_sha,
            "nginx_version": proof.nginx_version, "passed": proof.passed,
            "error": proof.error, "decisions": proof.decisions, "log_leaks": proof.log_leaks,
            "cases": proof.cases,
            "counts": {"total": len(proof.cases),
                       "passed": sum(1 for c in proof.cases if c.get("passed"))},
            "job": proof.job_id, "created_by": proof.created_by,
            "started_at": proof.started_at.isoformat(),
            "finished_at": proof.finished_at.isoformat(), "summary": proof_summary(proof)}


# ------------------------------------------------------------------------------ the gate
def max_age() -> timedelta:
    """How old a proof may be to count: ``GATEWAY_EVIDENCE_MAX_AGE_DAYS``, else
    ``TOKEN_EVIDENCE_MAX_AGE_DAYS``, else 30 days."""
    config = current_app.config
    days = config.get("GATEWAY_EVIDENCE_MAX_AGE_DAYS",
                      config.get("TOKEN_EVIDENCE_MAX_AGE_DAYS", GATEWAY_EVIDENCE_MAX_AGE_DAYS))
    return timedelta(days=float(days))


def _missing(rule_ids: tuple[str, ...], message: str) -> list[Finding]:
    return [Finding(r, get_rule(r).severity, Status.MISSING_EVIDENCE, message)
            for r in rule_ids]


def proof_finding(version_obj: ApiVersion, config: GatewayConfig, now: datetime) -> Finding:
    """``GW-PROOF``: ``pass`` with the newest passing proof of ``config`` not older than
    :func:`max_age` when it is the newest recent proof of that configuration (its summary as
    the message, pointer ``/gateway/proofs/{id}``), ``fail`` when that newest proof failed,
    else ``missing-evidence`` saying what to do."""
    rule = get_rule(GATEWAY_PROOF_RULE_ID)
    cutoff = aware(now) - max_age()
    days = f"{max_age().total_seconds() / 86400:g}"
    run = (f"Run a proof: POST {gateway_path(version_obj)}/proofs, the Gateway panel's "
           "\"Run proof\" or `stagegate gateway prove`.")
    proofs = [p for p in list_proofs(version_obj) if p.config_sha256 == config.sha256]
    recent = [p for p in proofs if p.finished_at >= cutoff]
    if recent:  # the newest proof of this configuration counts (a later failure wins)
        newest = recent[0]
        if newest.passed:
            return Finding(rule.id, rule.severity, Status.PASS, proof_summary(newest),
                           pointer=f"/gateway/proofs/{newest.id}")
        failed = [c["id"] for c in newest.cases if not c.get("passed")]
        why = newest.error or ("cases refused wrongly or let through: " + ", ".join(failed[:8]))
        return Finding(rule.id, rule.severity, Status.FAIL,
                       proof_summary(newest) + f" {why[:300]} Fix the configuration and "
                       "run the proof again.", pointer=f"/gateway/proofs/{newest.id}")
    if proofs:
        return Finding(rule.id, rule.severity, Status.MISSING_EVIDENCE,
                       f"The last proof of the current gateway configuration is older than "
                       f"{days} days. " + run)
    if list_proofs(version_obj):
        return Finding(rule.id, rule.severity, Status.MISSING_EVIDENCE,
                       "The gateway configuration changed since the last proof "
                       f"(current sha256:{config.sha256}); the proof no longer counts. " + run)
    return Finding(rule.id, rule.severity, Status.MISSING_EVIDENCE,
                   "The current gateway configuration has never been proven with a real "
                   "nginx. " + run)


def _newest_recent_proof(version_obj: ApiVersion, config: GatewayConfig,
                         now: datetime) -> GatewayProof | None:
    """The newest proof of ``config`` not older than :func:`max_age` at ``now`` (the one
    ``GW-PROOF`` judges by), or ``None``."""
    cutoff = aware(now) - max_age()
    stmt = (db.select(GatewayProof)
            .where(GatewayProof.version_id == version_obj.id,
                   GatewayProof.config_sha256 == config.sha256,
                   GatewayProof.finished_at >= cutoff)
            .order_by(GatewayProof.id.desc()).limit(1))
    return db.session.execute(stmt).scalar_one_or_none()


def proven_until(version_obj: ApiVersion, now: datetime) -> datetime | None:
    """Until when the version's gateway counts as *enforced and proven* (the board's badge):
    its current configuration passes the static checks and the newest proof of it within
    :func:`max_age` passed — then that proof's ``finished_at`` + :func:`max_age`; else
    ``None`` (no configuration, static findings, never proven, failed, stale)."""
    config = current_config(version_obj)
    if config is None or not config.passed:
        return None
    proof = _newest_recent_proof(version_obj, config, now)
    if proof is None or not proof.passed:
        return None
    return proof.finished_at + max_age()


def proof_valid_until(version_obj: ApiVersion, now: datetime) -> datetime | None:
    """When ``GW-PROOF`` of the current configuration changes by the clock alone: the newest
    recent proof ageing out — it counts while ``finished_at >= now - max_age``, so it stops
    a second after ``finished_at`` + :func:`max_age` (as token evidence) — or ``None``."""
    config = current_config(version_obj)
    proof = _newest_recent_proof(version_obj, config, now) if config is not None else None
    if proof is None:
        return None
    return proof.finished_at + max_age() + timedelta(seconds=1)


def config_download(version_obj: ApiVersion, config: GatewayConfig) -> tuple[str, str, str]:
    """What ``GET …/gateway/config`` (REST) and the Gateway panel's download answer:
    ``(body, mimetype, filename)`` — a single file as ``text/plain``, a bundle as JSON
    ``{"files": {name: text}, "entry", "sha256"}``."""
    files = config_files(config)
    label = f"{version_obj.api.name}-{version_obj.version}"
    if len(files) == 1:
        return files[config.entry].decode("utf-8"), "text/plain", f"{label}-nginx.conf"
    body = json.dumps({"files": {n: b.decode("utf-8") for n, b in files.items()},
                       "entry": config.entry, "sha256": config.sha256}, sort_keys=True)
    return body, "application/json", f"{label}-gateway.json"


def gateway_findings(version_obj: ApiVersion, now: datetime) -> list[Finding]:
    """The current configuration's ``check_nginx`` findings (file:line) + ``GW-PROOF``; every
    gateway rule ``missing-evidence`` (saying what to do) without a configuration."""
    config = current_config(version_obj)
    if config is None:
        return _missing((*GATEWAY_RULE_IDS, GATEWAY_PROOF_RULE_ID), (
            "No gateway configuration has been stored for this version. Save the gateway "
            f"settings and generate it (PUT {gateway_path(version_obj)}/settings, then PUT "
            f"{gateway_path(version_obj)}/config {{\"generate\": \"nginx\"}}) or upload your "
            "nginx configuration, then run a proof."))
    return config_findings(config) + [proof_finding(version_obj, config, now)]


def prove_now(name: str, version: str, actor: Actor, clock: Any) -> GatewayProof:
    """Run a proof of the current configuration in the caller's process (``Prefer: wait``,
    the CLI and the test kit) and store it (committed).

    :raises Conflict: no configuration yet (as :func:`submit_proof`).
    """
    obj = get_version(name, version)
    config = _config_to_prove(obj)
    result = prove(obj, config, clock)
    proof = store_proof(obj, config, result, actor.label)
    db.session.commit()
    return proof
