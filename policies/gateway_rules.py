"""Catalog entries for the gateway rules: static checks of an nginx configuration.

Ids and severities follow ``docs/jwt-policy.md`` §1.4 "Gateway enforcement (GW)" and
"Transport (TRN)" where a catalog rule reads gateway evidence (``GW-ENFORCES-TOKEN``,
``TRN-TLS-CONFIG``); the policy's broader rules are split into one id per failure class so a
finding names exactly what is wrong:

* ``GW-NO-EARLY-ANSWER`` — the "nothing answers or rewrites around it" half of
  GW-ENFORCES-TOKEN (issue 11 §3; nginx runs the rewrite phase before the access phase).
* ``GW-NO-TOKEN-IN-URL`` — the gateway bullet of TRN-NO-TOKEN-IN-URL (``$arg_*``; cookies too).
* ``GW-HTTPS-ONLY`` — TRN-HTTPS-ONLY for listeners.  It deliberately departs from
  TRN-TLS-CONFIG's "any port-80 listener only redirects": a redirect comes after the bearer
  token already crossed the network in clear, so a plaintext listener may only refuse
  (gateway-notes "HTTPS only means no redirect"; draft-ietf-httpapi-privacy).
* ``GW-AUTH-NOT-CACHED``, ``GW-STRIP-AUTHORIZATION``, ``GW-DENY-REASON-HIDDEN`` — the auth
  caching, forwarding and deny-reason points of issue 11 §2/§3 and jwt-policy §4.2.
* ``GW-LOG-NO-TOKEN`` — the logging bullet of GW-CLAIM-CHECKS.
* ``GW-CONFIG-VALID``, ``GW-CONFIG-SELF-CONTAINED`` — the configuration parses and is
  complete (like SPEC-VALID and SPEC-NO-EXTERNAL-REF for documents).

Data only: the evaluator is :func:`policies.gateway.check_nginx`.  Importing
:mod:`policies.rules` imports this module, so :func:`policies.rules.all_rules` lists these.
"""

from __future__ import annotations

from policies.rulebase import Evidence, Rule, Severity, Source, register

#: every rule :func:`policies.gateway.check_nginx` evaluates, in report order
GATEWAY_RULE_IDS: tuple[str, ...] = (
    "GW-CONFIG-VALID", "GW-CONFIG-SELF-CONTAINED",
    "GW-ENFORCES-TOKEN", "GW-NO-EARLY-ANSWER", "GW-NO-TOKEN-IN-URL", "GW-AUTH-NOT-CACHED",
    "GW-HTTPS-ONLY", "TRN-TLS-CONFIG", "GW-STRIP-AUTHORIZATION", "GW-LOG-NO-TOKEN",
    "GW-DENY-REASON-HIDDEN",
)


def _rfc(number: int, section: str) -> Source:
    return Source(f"RFC {number} §{section}",
                  f"https://www.rfc-editor.org/rfc/rfc{number}#section-{section}")


def _nginx(module: str, anchor: str, label: str) -> Source:
    return Source(f"nginx docs: {label}",
                  f"https://nginx.org/en/docs/{module}.html" + (f"#{anchor}" if anchor else ""))


_AUTH_REQUEST = _nginx("http/ngx_http_auth_request_module", "", "ngx_http_auth_request_module")
_AUTH_JWT = _nginx("http/ngx_http_auth_jwt_module", "auth_jwt_type",
                   "ngx_http_auth_jwt_module (NGINX Plus) auth_jwt_type")
_PLUS_GUIDE = Source("NGINX admin guide: Setting up JWT Authentication",
                     "https://docs.nginx.com/nginx/admin-guide/security-controls/"
                     "configuring-jwt-authentication/")
_PHASES = _nginx("dev/development_guide", "http_phases", "development guide, HTTP phases")
_REWRITE = _nginx("http/ngx_http_rewrite_module", "", "ngx_http_rewrite_module")
_HTTPAPI_PRIVACY = Source("draft-ietf-httpapi-privacy: Protecting Credentials with HTTP APIs",
                          "https://datatracker.ietf.org/doc/draft-ietf-httpapi-privacy/")
_OWASP_LOG = Source("OWASP Logging Cheat Sheet",
                    "https://cheatsheetseries.owasp.org/cheatsheets/Logging_Cheat_Sheet.html")

#: the proof rule (evaluated by the app's gateway evidence provider, not by check_nginx)
GATEWAY_PROOF_RULE_ID = "GW-PROOF"

G = Evidence.GATEWAY
C, H, M = Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM

_RULES = (
    Rule("GW-CONFIG-VALID", "Gateway configuration parses", H, G,
         "Every file of the configuration bundle has a safe relative name and parses as nginx "
         "configuration (balanced braces, known directives with the right number of "
         "arguments in the right context, no include cycles).",
         "Fix each reported problem at the file and line shown and check the bundle with "
         "`nginx -t` before uploading it.",
         (_nginx("beginners_guide", "conf_structure", "configuration file's structure"),
          _nginx("ngx_core_module", "include", "include"))),
    Rule("GW-CONFIG-SELF-CONTAINED", "Every include is inside the bundle", H, G,
         "Every `include` names a file (or glob) inside the uploaded bundle, relative to the "
         "entry file; Stagegate never reads the server's own disk, so anything outside the "
         "bundle was not checked.",
         "Upload the included files with the configuration (as a bundle) and include them "
         "by paths relative to the entry file, e.g. `include conf.d/*.conf;`.",
         (_nginx("ngx_core_module", "include", "include"),)),
    Rule("GW-ENFORCES-TOKEN", "Every proxying location enforces the token policy", C, G,
         "Every location that passes requests to an upstream (`proxy_pass`, `fastcgi_pass`, "
         "`grpc_pass`, `uwsgi_pass`, `scgi_pass`, `memcached_pass`) enforces the policy — "
         "its own or inherited `auth_request` to an `internal` location that proxies to the "
         "validator, or NGINX Plus `auth_jwt` with `auth_jwt_type nested` and a key "
         "directive — and no `auth_request off` / `auth_jwt off` switches it off.",
         "Put `auth_request /_stagegate_check;` in the server block (or every API location) "
         "and define `location = /_stagegate_check { internal; proxy_pass "
         "http://<validator>; proxy_pass_request_body off; proxy_set_header Content-Length "
         "\"\"; }`; remove `auth_request off` from API locations.  With NGINX Plus use "
         "`auth_jwt \"api\"; auth_jwt_type nested; auth_jwt_key_file <jwks>;`.",
         (_AUTH_REQUEST, _AUTH_JWT, _PLUS_GUIDE)),
    Rule("GW-NO-EARLY-ANSWER", "Nothing answers or rewrites before the access check", C, G,
         "No `return` (other than a refusal, 4xx/5xx) and no `rewrite` that redirects or "
         "jumps (`last`, no flag, `redirect`, `permanent`) runs in the rewrite phase of a "
         "protected location or its server: nginx runs the rewrite phase before the access "
         "phase, so such a directive answers without any check or moves the request into a "
         "location that may not enforce the policy.",
         "Remove the `return`/`rewrite` from the protected location and its server block, or "
         "move it into its own location that itself enforces the policy; rewrite only with "
         "`break` (which stays in the protected location) or into a location with "
         "`auth_request`.",
         (_PHASES, _REWRITE, _AUTH_REQUEST)),
    Rule("GW-NO-TOKEN-IN-URL", "Gateway takes tokens only from the Authorization header", H, G,
         "No directive takes a credential from the query string or a cookie "
         "(`$arg_access_token`, `$arg_*token*`, `$cookie_*`, `auth_jwt … token=$arg_…`); "
         "checking such a variable only to refuse the request (`if ($arg_access_token) { "
         "return 400; }`) is allowed.",
         "Read the token only from `Authorization: Bearer` (the default of `auth_request` "
         "and `auth_jwt`); drop `token=` and any `$arg_…`/`$cookie_…` credential, and refuse "
         "requests that carry one: `if ($arg_access_token) { return 400; }`.",
         (_rfc(6750, "2.3"), _rfc(9700, "4.3.2"), _rfc(6750, "5.3"),
          _nginx("http/ngx_http_auth_jwt_module", "auth_jwt", "auth_jwt token="))),
    Rule("GW-AUTH-NOT-CACHED", "Auth decisions are not cached", C, G,
         "The location that the `auth_request` subrequest goes to does not use `proxy_cache` "
         "(its own or inherited): a cached allow outlives revocation and replay checks, and a "
         "cache key without `$http_authorization` (the default key omits it) lets anyone in "
         "after one good request.",
         "Remove `proxy_cache` from the validator location (or set `proxy_cache off;` there); "
         "the validator caches verified tokens itself, keyed by the token's SHA-256.",
         (_AUTH_REQUEST,
          _nginx("http/ngx_http_proxy_module", "proxy_cache_key", "proxy_cache_key"),
          _rfc(7662, "4"))),
    Rule("GW-HTTPS-ONLY", "Plaintext listeners only refuse", C, G,
         "A server with a plaintext listener (`listen` without `ssl`, or no `listen` at all: "
         "port 80) neither proxies nor redirects: a redirect to https comes after the token "
         "already crossed the network in clear.  It may only refuse (`return 400|403|421|"
         "444`).",
         "Listen on 443 with `ssl` only; if port 80 must stay open, give it its own server "
         "block with `return 403;` (or 421/444) and nothing else — no `return 301`, no "
         "proxying.",
         (_HTTPAPI_PRIVACY, _rfc(6750, "5.3"), _rfc(9325, "3.2"))),
    Rule("TRN-TLS-CONFIG", "Gateway TLS: TLS 1.2/1.3 only, HSTS", H, G,
         "Every TLS server allows only TLSv1.2 and TLSv1.3 (`ssl_protocols` set: nginx 1.22's "
         "default still enables TLSv1 and TLSv1.1) and every response of a protected "
         "location carries `Strict-Transport-Security` with `max-age` of at least one year, "
         "added with `always` (nginx's `add_header` is inherited only by levels that have no "
         "`add_header` of their own).",
         "Set `ssl_protocols TLSv1.2 TLSv1.3;` and `add_header Strict-Transport-Security "
         "\"max-age=31536000\" always;` in the TLS server, and repeat the header in every "
         "location that has its own `add_header`.",
         (_rfc(9325, "3.1.1"), _rfc(8996, "1"), _rfc(6797, "6.1"),
          _nginx("http/ngx_http_ssl_module", "ssl_protocols", "ssl_protocols"),
          _nginx("http/ngx_http_headers_module", "add_header", "add_header"))),
    Rule("GW-STRIP-AUTHORIZATION", "The token is not forwarded upstream", H, G,
         "Every proxying location removes the client's `Authorization` header before the "
         "upstream (`proxy_set_header Authorization \"\";` — nginx forwards it by default; "
         "`grpc_set_header`, `fastcgi_param`/`uwsgi_param`/`scgi_param HTTP_AUTHORIZATION "
         "\"\"` for the other modules) and forwards the verified identity instead.",
         "Add `proxy_set_header Authorization \"\";` to every proxying location (repeat it in "
         "locations with their own `proxy_set_header`: the directive is inherited only by "
         "levels that have none) and forward `auth_request_set` values as `X-Authenticated-*`.",
         (_rfc(9700, "4.13"),
          _nginx("http/ngx_http_proxy_module", "proxy_set_header", "proxy_set_header"))),
    Rule("GW-LOG-NO-TOKEN", "Access logs never hold the token", H, G,
         "No access log uses a format with a variable that can hold the token "
         "(`$http_authorization`, `$request`, `$request_uri`, `$args`, `$query_string`, "
         "`$arg_*`, `$cookie_*`, `$http_cookie`, `$jwt_payload`); the predefined `combined` "
         "format (also used when no `access_log` is configured) logs `$request`.",
         "Log with an own format such as `log_format api escape=json '{\"uri\":\"$uri\", "
         "\"status\":$status, \"fp\":\"$sg_fp\"}';` and `access_log logs/api.log api;`; log "
         "`$uri`, never `$request`/`$request_uri`, and never the Authorization header.",
         (_nginx("http/ngx_http_log_module", "log_format", "log_format"), _OWASP_LOG,
          _rfc(6750, "5.3"))),
    Rule("GW-DENY-REASON-HIDDEN", "The validator's deny reason stays internal", M, G,
         "The validator's internal deny reason (`X-Stagegate-Deny`) is logged, never sent "
         "to the client: no `add_header` names it or carries a variable set from "
         "`$upstream_http_x_stagegate_deny`.",
         "Log the deny reason (`auth_request_set $sg_deny $upstream_http_x_stagegate_deny;` "
         "and `$sg_deny` in the log format) and remove any `add_header` that sends it.",
         (_rfc(6750, "3"),
          Source("OWASP Error Handling Cheat Sheet",
                 "https://cheatsheetseries.owasp.org/cheatsheets/Error_Handling_Cheat_Sheet.html"))),
)

_PROOF = Rule(
    "GW-PROOF", "A real nginx proved the current configuration under attack", C, G,
    "A proof run of the version's CURRENT gateway configuration (same SHA-256 over the "
    "bundle) passed, not older than the evidence age limit: Debian's nginx ran the "
    "configuration on loopback with the token validator and a stub upstream, a good token "
    "reached the upstream without `Authorization`, and every case of the attack matrix (at "
    "least 24: expired, wrong issuer/audience, signed-only, `alg`/`enc` confusion, `kid` "
    "traversal, token in the query or a cookie, plain HTTP, TLS 1.1, replay …) was refused "
    "and never reached the upstream.  Any change to the configuration invalidates the proof.",
    "Store the gateway configuration (generate it from the gateway settings or upload it) "
    "and run a proof: POST …/gateway/proofs, the Gateway panel's \"Run proof\" or "
    "`stagegate gateway prove`; fix every red case of the proof table.",
    (_AUTH_REQUEST, _rfc(6750, "3"), _rfc(8725, "3.1"), _rfc(9700, "4.13")))

for _rule in (*_RULES, _PROOF):
    register(_rule)
del _rule
