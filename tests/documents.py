"""OpenAPI documents the tests share: one shape that passes every spec rule of the default
pack (https server, global bearer security, an ``x-token-encryption`` profile declaring
RSA-OAEP-256 / A256GCM / ES256), with the title, slug, version and paths a test needs.

Imported like the other kits (``from documents import ORDERS``); nothing here is a fixture.
"""

from __future__ import annotations

ISSUER = "https://auth.example.com"

#: the paths of the Orders API: one operation, ``GET /orders/{id}``
ORDERS_PATHS = """\
  /orders/{id}:
    get:
      operationId: getOrder
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        200:
          description: The order
"""


def compliant(title: str, slug: str, paths: str, *, version: str = "1.0.0") -> str:
    """An OpenAPI 3.1.0 document passing every spec rule.

    :param title: ``info.title``.
    :param slug: the server is ``https://api.example.com/{slug}/v1``, the token audience
        ``https://api.example.com/{slug}``.
    :param paths: the YAML of the ``paths`` members, indented two spaces, ending in a newline.
    :param version: ``info.version``.
    :returns: the YAML text.
    """
    return f"""\
openapi: 3.1.0
info:
  title: {title}
  version: {version}
servers:
  - url: https://api.example.com/{slug}/v1
security:
  - accessToken: []
paths:
{paths}components:
  securitySchemes:
    accessToken:
      type: http
      scheme: bearer
      bearerFormat: JWT
      x-token-encryption:
        alg: RSA-OAEP-256
        enc: A256GCM
        signing-alg: ES256
        issuer: {ISSUER}
        audience: https://api.example.com/{slug}
        jwks-uri: {ISSUER}/.well-known/jwks.json
        max-lifetime: 900
"""


#: the Orders API (bytes): passes every gate of the default pack
ORDERS = compliant("Orders API", "orders", ORDERS_PATHS).encode()
#: the token audience ORDERS declares
ORDERS_AUDIENCE = "https://api.example.com/orders"
