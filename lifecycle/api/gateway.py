"""REST views of a version's gateway (registered on the ``api`` blueprint).

Under ``/api/v1/apis/{name}/versions/{version}/gateway``:

- ``GET|PUT /settings`` — the gateway settings (JSON object);
- ``GET /config`` — download the current configuration (``text/plain``; a bundle as JSON
  ``{"files", "entry"}``); ``?target=nginx|nginx-plus`` renders from the settings instead
  (nothing stored);
- ``PUT /config`` — store a configuration: a raw ``nginx.conf`` body (``text/plain`` or
  ``application/octet-stream``), a JSON bundle ``{"files": {name: text}, "entry"}``, or
  ``{"generate": "nginx"|"nginx-plus"}`` to render and store it (201 new, 200 identical);
- ``GET /check`` — the current configuration's static findings (file:line);
- ``POST /proofs`` — run a proof as a job (202, ``Location`` = ``/api/v1/jobs/{id}``); with
  ``Prefer: wait`` the proof runs in the request (~2 s) and the answer is the proof (201);
- ``GET /proofs`` — every proof, newest first; ``GET /proofs/{id}``;
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from lifecycle.accounts.authz import current_actor, requires
from lifecycle.api.errors import ApiError
from lifecycle.api.jobs import job_dict
from lifecycle.api.serialize import finding_dict
from lifecycle.api.views import VERSION_PATH, _json_object
from lifecycle.catalog import services as catalog
from lifecycle.core import errors
from lifecycle.core.clock import clock
from lifecycle.gateway import services as gateway
from lifecycle.gateway.models import TARGETS

GATEWAY = VERSION_PATH + "/gateway"


def _config_answer(config: Any, created: bool) -> tuple[Response, int]:
    return jsonify(created=created, config=gateway.config_dict(config),
                   findings=[finding_dict(f) for f in gateway.config_findings(config)]), \
        201 if created else 200


@requires("read")
def get_gateway_settings(name: str, version: str) -> Any:
    """The version's gateway settings (``settings: null`` before any)."""
    obj = catalog.get_version(name, version)
    return jsonify(settings=gateway.settings_dict(gateway.settings_of(obj)))


@requires("api.change")
def put_gateway_settings(name: str, version: str) -> Any:
    """Create or replace the gateway settings."""
    row = gateway.put_settings(name, version, _json_object(), current_actor(), clock())
    return jsonify(settings=gateway.settings_dict(row))


@requires("read")
def get_gateway_config(name: str, version: str) -> Any:
    """Download the current configuration, or ``?target=`` a rendering of the settings."""
    obj = catalog.get_version(name, version)
    target = request.args.get("target")
    if target is not None:
        if target not in TARGETS:
            raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                           {"fields": {"target": "Choose nginx or nginx-plus."}})
        _, text = gateway.render_config(obj, target, clock())
        return _download(text, f"{name}-{version}-{target}.conf")
    config = gateway.current_config(obj)
    if config is None:
        raise errors.NotFound("This version has no gateway configuration yet.")
    body, mimetype, filename = gateway.config_download(obj, config)
    return _download(body, filename, config.sha256, mimetype)


def _download(text: str, filename: str, sha: str | None = None,
              mimetype: str = "text/plain") -> Response:
    response = Response(text, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    if sha is not None:
        response.headers["ETag"] = f'"{sha}"'
    return response


@requires("api.change")
def put_gateway_config(name: str, version: str) -> Any:
    """Store a configuration (raw body, JSON bundle, or ``{"generate": target}``)."""
    now = clock()
    if request.is_json:
        body = _json_object()
        if "generate" in body:
            target = body.get("generate")
            if not isinstance(target, str) or target not in TARGETS:
                raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                               {"fields": {"generate": "Choose nginx or nginx-plus."}})
            return _config_answer(*gateway.generate_config(name, version, target,
                                                           current_actor(), now))
        files = body.get("files")
        entry = body.get("entry")
        target = body.get("target", "nginx")
        if not isinstance(files, dict) or (entry is not None and not isinstance(entry, str)) \
                or not isinstance(target, str):
            raise ApiError(422, "validation_failed", "Some values are not acceptable.",
                           {"fields": {"files": "Send {\"files\": {\"nginx.conf\": \"...\"}, "
                                                "\"entry\": \"nginx.conf\"}."}})
        return _config_answer(*gateway.upload_config(name, version, files, entry,
                                                     current_actor(), now, target))
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise ApiError(415, "unsupported_media_type",
                       "Send nginx.conf itself as the request body, not as a form.")
    raw = request.get_data(cache=False)
    return _config_answer(*gateway.upload_config(name, version, {"nginx.conf": raw},
                                                 "nginx.conf", current_actor(), now))


@requires("read")
def get_gateway_check(name: str, version: str) -> Any:
    """The current configuration's findings plus the gate's view of the gateway."""
    obj = catalog.get_version(name, version)
    config = gateway.current_config(obj)
    return jsonify(config=gateway.config_dict(config) if config is not None else None,
                   findings=[finding_dict(f) for f in gateway.gateway_findings(obj, clock())])


@requires("api.change")
def post_gateway_proof(name: str, version: str) -> Any:
    """Run a proof: a job (202) or, with ``Prefer: wait``, in the request (201)."""
    if "wait" in request.headers.get("Prefer", "").replace(" ", "").split(","):
        proof = gateway.prove_now(name, version, current_actor(), clock)
        response = jsonify(proof=gateway.proof_dict(proof, proof.config_sha256))
        response.headers["Preference-Applied"] = "wait"
        return response, 201
    job = gateway.submit_proof(name, version, current_actor(), clock())
    body = job_dict(job)  # follow it at GET /api/v1/jobs/{id}, like every job
    response = jsonify(body)
    response.headers["Location"] = body["url"]
    return response, 202


@requires("read")
def list_gateway_proofs(name: str, version: str) -> Any:
    """Every proof of the version, newest first (``current``: of the current configuration)."""
    obj = catalog.get_version(name, version)
    config = gateway.current_config(obj)
    sha = config.sha256 if config is not None else None
    return jsonify(proofs=[gateway.proof_dict(p, sha) for p in gateway.list_proofs(obj)])


@requires("read")
def get_gateway_proof(name: str, version: str, proof_id: int) -> Any:
    """One proof with its attack table."""
    obj = catalog.get_version(name, version)
    config = gateway.current_config(obj)
    proof = gateway.get_proof(obj, proof_id)
    return jsonify(proof=gateway.proof_dict(proof, config.sha256 if config else None))


def register(bp: Blueprint) -> None:
    """Add this module's views to ``bp``."""
    bp.add_url_rule(GATEWAY + "/settings", view_func=get_gateway_settings, methods=["GET"])
    bp.add_url_rule(GATEWAY + "/settings", view_func=put_gateway_settings, methods=["PUT"])
    bp.add_url_rule(GATEWAY + "/config", view_func=get_gateway_config, methods=["GET"])
    bp.add_url_rule(GATEWAY + "/config", view_func=put_gateway_config, methods=["PUT"])
    bp.add_url_rule(GATEWAY + "/check", view_func=get_gateway_check, methods=["GET"])
    bp.add_url_rule(GATEWAY + "/proofs", view_func=post_gateway_proof, methods=["POST"])
    bp.add_url_rule(GATEWAY + "/proofs", view_func=list_gateway_proofs, methods=["GET"])
    bp.add_url_rule(GATEWAY + "/proofs/<int:proof_id>", view_func=get_gateway_proof,
                    methods=["GET"])
