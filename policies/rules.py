"""The rule catalog: every rule's id, default severity, evidence kind, text and sources.

This module holds data only.  Evaluators live next to the evidence they read
(``policies/spec_rules.py`` for OpenAPI documents; later ``token``, ``jwks`` and ``gateway``
evaluators) and refer to rules by id, so adding a rule means adding a :class:`Rule` entry
here plus its evaluator, never touching the check, pack or gate code.

Ids, severities and sources follow ``docs/jwt-policy.md`` §1.4 (the TRN-* rules) plus the
``SPEC-*`` rules of DESIGN.md.
"""

from dataclasses import replace

# Token, key and gateway rules live in their own modules; importing them makes all_rules()
# complete (they import policies.rulebase, never this module).
from policies import gateway_rules as _gateway_rules  # noqa: F401 - registers GW rules
from policies import token_rules as _token_rules  # noqa: F401 - registers TOKEN/KEY rules
from policies.rulebase import (
    Evidence,
    Rule,
    Severity,
    Source,
    UnknownRule,
    _rfc,
    all_rules,
    get_rule,
    has_rule,
    register,
)

_OAS_31 = "https://spec.openapis.org/oas/v3.1.0"
_OAS_20 = "https://spec.openapis.org/oas/v2.0"

__all__ = ["Evidence", "Rule", "Severity", "Source", "UnknownRule", "all_rules", "for_document",
           "get_rule", "has_rule", "register", "sources_for"]

_OWASP_REST = "https://cheatsheetseries.owasp.org/cheatsheets/REST_Security_Cheat_Sheet.html"

OAS_SECURITY_SCHEME = Source("OpenAPI 3.1.0 Security Scheme Object",
                             f"{_OAS_31}#security-scheme-object")
OAS_SECURITY_REQUIREMENT = Source("OpenAPI 3.1.0 Security Requirement Object",
                                  f"{_OAS_31}#security-requirement-object")

#: the Swagger 2.0 section a 3.1.0 source stands for, by the 3.1.0 URL: a finding in a
#: Swagger 2.0 document cites the specification that document follows
SWAGGER2_SOURCES = {
    _OAS_31: Source("OpenAPI Specification 2.0 (Swagger)", _OAS_20),
    OAS_SECURITY_SCHEME.url: Source("Swagger 2.0 Security Scheme Object",
                                    f"{_OAS_20}#security-scheme-object"),
    OAS_SECURITY_REQUIREMENT.url: Source("Swagger 2.0 Security Requirement Object",
                                         f"{_OAS_20}#security-requirement-object"),
    f"{_OAS_31}#reference-object": Source("Swagger 2.0 Reference Object",
                                          f"{_OAS_20}#reference-object"),
}


def sources_for(rule: Rule, openapi_version: str | None) -> tuple[Source, ...]:
    """``rule``'s sources as they apply to a document of ``openapi_version``: for ``"2.0"``
    each OpenAPI 3.1.0 section becomes its Swagger 2.0 counterpart (:data:`SWAGGER2_SOURCES`);
    for 3.x the Swagger 2.0 sources are left out; ``None`` (no document): all of them.
    Order is kept, duplicates dropped."""
    if openapi_version is None:
        return rule.sources
    if openapi_version == "2.0":
        mapped = [SWAGGER2_SOURCES.get(s.url, s) for s in rule.sources]
    else:
        mapped = [s for s in rule.sources if not s.url.startswith(_OAS_20)]
    return tuple(dict.fromkeys(mapped))


def for_document(rule: Rule, openapi_version: str | None) -> Rule:
    """``rule`` with :func:`sources_for` its document's ``openapi_version`` (so ``help_uri``
    follows)."""
    sources = sources_for(rule, openapi_version)
    return rule if sources == rule.sources else replace(rule, sources=sources)


TOKEN_PROFILE_SNIPPET = """\
components:
  securitySchemes:
    accessToken:
      type: http
      scheme: bearer
      bearerFormat: JWT
      x-token-encryption:
        alg: RSA-OAEP-256        # JWE key management algorithm (outer header)
        enc: A256GCM             # JWE content encryption (outer header)
        signing-alg: ES256       # inner JWS algorithm (nested sign-then-encrypt)
        issuer: https://auth.example.com
        audience: https://api.example.com/payments
        jwks-uri: https://auth.example.com/.well-known/jwks.json
        max-lifetime: 900        # seconds, exp - iat"""

# --------------------------------------------------------------------------- spec rules
for _rule in (
    Rule(
        "SPEC-VALID",
        "Document is a valid OpenAPI description",
        Severity.HIGH,
        Evidence.SPEC,
        "The document validates against the OpenAPI (3.0, 3.1, 3.2) or Swagger 2.0 "
        "specification it declares.",
        "Fix each reported problem at the line shown; run the document through an OpenAPI "
        "validator before uploading.",
        (
            Source("OpenAPI Specification 3.1.0", _OAS_31),
            Source("OpenAPI Specification 2.0 (Swagger)", "https://spec.openapis.org/oas/v2.0"),
        ),
    ),
    Rule(
        "SPEC-NO-EXTERNAL-REF",
        "No external references",
        Severity.HIGH,
        Evidence.SPEC,
        "Every $ref points inside the document; Stagegate never fetches files or URLs named in "
        "a document, so anything outside it was not checked.",
        "Bundle the referenced files into one document (e.g. `redocly bundle` or "
        "`swagger-cli bundle`) and upload the bundled document.",
        (
            Source("OpenAPI 3.1.0 Reference Object", f"{_OAS_31}#reference-object"),
            Source("OWASP Server-Side Request Forgery Prevention Cheat Sheet",
                   "https://cheatsheetseries.owasp.org/cheatsheets/"
                   "Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html"),
        ),
    ),
    Rule(
        "SPEC-OPERATIONS-SECURED",
        "Every operation requires authentication",
        Severity.HIGH,
        Evidence.SPEC,
        "Every operation has a non-empty security requirement (its own or the global one) "
        "that names only defined security schemes and never allows anonymous access ({}).",
        "Declare a global `security: [{accessToken: []}]` (or one per operation) naming a "
        "defined bearer scheme; remove `security: []` and empty `{}` alternatives.",
        (
            OAS_SECURITY_REQUIREMENT,
            Source("OWASP API Security Top 10 2023 API2 Broken Authentication",
                   "https://owasp.org/API-Security/editions/2023/en/0xa2-broken-authentication/"),
        ),
    ),
    Rule(
        "SPEC-TOKEN-PROFILE",
        "Bearer scheme declares an encrypted-token profile",
        Severity.HIGH,
        Evidence.SPEC,
        "Every token-bearing security scheme (http bearer, oauth2, openIdConnect: their access "
        "tokens are bearer tokens) carries `x-token-encryption` with allowed JWE `alg` and "
        "`enc`, an allowed inner JWS `signing-alg`, a `max-lifetime` of at most 3600 seconds, "
        "and https issuer, audience and jwks-uri.",
        "Add `x-token-encryption` to the bearer (or oauth2 / openIdConnect) security scheme, "
        "for example:\n\n"
        + TOKEN_PROFILE_SNIPPET,
        (
            _rfc(7519, "11.2"),
            _rfc(8725, "3.2"),
            _rfc(7518, "4.1"),
            _rfc(7518, "5.1"),
            _rfc(6819, "5.1.5.3"),
        ),
    ),
    Rule(
        "TRN-HTTPS-ONLY",
        "Servers use HTTPS only",
        Severity.CRITICAL,
        Evidence.SPEC,
        "Every server URL (Swagger 2.0: every `schemes` entry) is https (or wss); http is "
        "acceptable only for loopback in local development.",
        "Declare absolute `https://` server URLs (Swagger 2.0: `schemes: [https]`) and remove "
        "every `http` entry and variable value.",
        (
            Source("OWASP REST Security Cheat Sheet: HTTPS", f"{_OWASP_REST}#https"),
            _rfc(6750, "5.3"),
            _rfc(9700, "2.6"),
            _rfc(9325),
        ),
    ),
    Rule(
        "TRN-BEARER-HEADER",
        "Access tokens travel in the Authorization header",
        Severity.HIGH,
        Evidence.SPEC,
        "A token-bearing security scheme (`type: http, scheme: bearer`, `oauth2` or "
        "`openIdConnect`, whose access tokens are sent as `Authorization: Bearer`) exists and "
        "every secured operation uses it; no apiKey scheme in the query string or a cookie is "
        "used; operations defined outside the document cannot be evaluated (error).",
        "Declare `type: http, scheme: bearer` (Swagger 2.0: `type: apiKey, in: header, name: "
        "Authorization`), require it on every operation, and drop apiKey schemes with "
        "`in: query` or `in: cookie`.",
        (_rfc(6750, "2.1"), OAS_SECURITY_SCHEME),
    ),
    Rule(
        "TRN-OAUTH-GRANTS",
        "No OAuth 2.0 implicit or password flow",
        Severity.HIGH,
        Evidence.SPEC,
        "No oauth2 security scheme declares the implicit flow (medium: it returns access "
        "tokens in the redirect URI) or the resource owner password credentials flow (high: "
        "the client sees the user's password).",
        "Replace `implicit` with `authorizationCode` (with PKCE) and `password` with "
        "`authorizationCode` (users) or `clientCredentials` (machines):\n\n"
        "flows:\n  authorizationCode:\n    authorizationUrl: https://auth.example.com/authorize\n"
        "    tokenUrl: https://auth.example.com/token\n    scopes: {}",
        (
            _rfc(9700, "2.1.2"),
            _rfc(9700, "2.4"),
            _rfc(9700, "4.3.2"),
            OAS_SECURITY_SCHEME,
        ),
    ),
    Rule(
        "TRN-NO-BASIC-AUTH",
        "No HTTP Basic credentials",
        Severity.MEDIUM,
        Evidence.SPEC,
        "No operation accepts an HTTP Basic scheme (3.x `type: http, scheme: basic`, Swagger "
        "2.0 `type: basic`) as a security alternative: it sends a reusable password with "
        "every request.",
        "Remove the Basic alternative from `security` and require the bearer scheme; issue "
        "short-lived access tokens (e.g. the OAuth 2.0 client credentials grant) instead.",
        (
            _rfc(7617, "4"),
            _rfc(9700, "2.4"),
            Source("OWASP REST Security Cheat Sheet: Access control",
                   f"{_OWASP_REST}#access-control"),
        ),
    ),
    Rule(
        "TRN-NO-TOKEN-IN-URL",
        "No tokens or credentials in URLs",
        Severity.HIGH,
        Evidence.SPEC,
        "No query, path or cookie parameter carries a credential, judged by its name words "
        "(token, key, secret, password, session, signature …, not pagination tokens or "
        "token ids), its schema (`format: password`, `writeOnly`), its description and the "
        "apiKey schemes `in: query`/`in: cookie`; no apiKey scheme is sent in the query; no "
        "server URL or query-parameter example holds a JWT.",
        "Send access tokens only in the `Authorization: Bearer` header; remove credential "
        "parameters from paths and query strings and JWTs from examples and server URLs.",
        (
            _rfc(6750, "2.3"),
            _rfc(6750, "5.3"),
            _rfc(9700, "4.3.2"),
            Source("OWASP REST Security Cheat Sheet: Sensitive information in HTTP requests",
                   f"{_OWASP_REST}#sensitive-information-in-http-requests"),
        ),
    ),
):
    register(_rule)
del _rule
