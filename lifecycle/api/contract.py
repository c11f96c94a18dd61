"""``GET /api/v1/openapi.json``: Stagegate's own REST API contract, as this instance serves it.

The contract is ``lifecycle/api/openapi.yaml`` (OpenAPI 3.1), read and parsed once per
process (YAML 1.2 meaning, through :func:`specs.load_document`).  Each answer is that document
with the instance's own URLs filled in from the configuration:

- ``servers[0].url`` = the public API URL (``API_AUDIENCE``, default ``TOKEN_ISSUER`` +
  ``/api/v1``; :func:`lifecycle.accounts.apitokens.audience`);
- ``components.securitySchemes.accessToken``: the client-credentials ``tokenUrl``
  (``<api>/token``) and the ``x-token-encryption`` ``issuer`` (``TOKEN_ISSUER``),
  ``audience`` and ``jwks-uri`` (``<api>/token/jwks.json``).

Public (no token): the contract documents how to obtain one.  The rendered JSON is cached per
(issuer, audience) pair, so a request costs one dictionary lookup.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response

from lifecycle.accounts import apitokens
from specs import load_document

CONTRACT_PATH = Path(__file__).with_name("openapi.yaml")


@lru_cache(maxsize=1)
def contract() -> dict[str, Any]:
    """The parsed contract (``openapi.yaml``), parsed once per process; treat as read-only.

    :raises specs.SpecLoadError: the packaged file is not a readable document (a build
        error, never user input).
    """
    return load_document(CONTRACT_PATH.read_bytes()).data


def document(issuer: str, audience: str) -> dict[str, Any]:
    """A copy of the contract with ``servers``, the token URL and the ``x-token-encryption``
    issuer / audience / jwks-uri of an instance whose ``TOKEN_ISSUER`` is ``issuer`` and
    whose API URL (the access tokens' ``aud``) is ``audience``."""
    doc = copy.deepcopy(contract())
    api = audience.rstrip("/")
    servers = doc.get("servers") or [{}]
    servers[0] = {**servers[0], "url": api,
                  "description": "This Stagegate instance's REST API."}
    doc["servers"] = servers
    scheme = doc["components"]["securitySchemes"]["accessToken"]
    scheme["flows"]["clientCredentials"]["tokenUrl"] = api + "/token"
    profile = scheme["x-token-encryption"]
    profile["issuer"] = issuer
    profile["audience"] = audience
    profile["jwks-uri"] = api + "/token/jwks.json"
    return doc


@lru_cache(maxsize=8)
def _rendered(issuer: str, audience: str) -> bytes:
    return json.dumps(document(issuer, audience), ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def openapi_json() -> Response:
    """The contract as JSON for this instance (public; ``Cache-Control: public, max-age=300``)."""
    body = _rendered(apitokens.issuer(), apitokens.audience())
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


def register(bp: Blueprint) -> None:
    """Add this module's view to ``bp`` (see :func:`lifecycle.api.blueprint`)."""
    bp.add_url_rule("/openapi.json", view_func=openapi_json, methods=["GET"])
