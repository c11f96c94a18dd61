"""Render the nginx gateway configuration of one API version (issue 11, point 2).

Two renderers, both pure functions of their inputs (no I/O, no clock unless given):

* :func:`render_nginx` — open-source nginx 1.22 (Debian 12) + Stagegate's token validator
  behind ``auth_request`` (``docs/gateway-notes.md``; jwt-policy §4.2).  The validator HTTP
  contract is the one of ``GATEWAY-INTERFACES.md``: nginx sends the client's headers plus
  ``X-Stagegate-Api-Version``, ``X-Original-URI``, ``X-Original-Method``, ``X-Real-IP``; the
  validator answers ``204`` with ``X-Stagegate-*`` identity headers or ``401`` with
  ``WWW-Authenticate`` and ``X-Stagegate-Deny`` (logged here, never sent to the client).
* :func:`render_nginx_plus` — NGINX Plus ``auth_jwt`` with ``auth_jwt_type nested``
  (jwt-policy §4.1); raises :class:`CapabilityError` for profiles it cannot enforce
  (ECDH-ES*, RSA1_5, PBES2, anything undeclared).

Rules the output implements: TRN-HTTPS-ONLY, TRN-TLS-CONFIG (TLS 1.2/1.3, HSTS, a port-80
listener that only refuses — never a redirect, draft-ietf-httpapi-privacy), TRN-NO-TOKEN-IN-URL
(a credential in the query string, a cookie or the path is refused with 400 in the server's
rewrite phase, which only refuses), GW-ENFORCES-TOKEN (every proxying location behind
``auth_request``; nothing answers before the access phase), GW-CLAIM-CHECKS (header size cap,
no token in logs; Plus: ``iss``/``aud``/``alg`` maps, leeway ≤ 60 s).  Deprecation headers:
RFC 9745 (``Deprecation: @<epoch>``), RFC 8594 (``Sunset``), RFC 8288 ``Link`` relations
``deprecation`` and ``successor-version`` (RFC 5829); ``410 Gone`` after the sunset.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from policies.tokens import TokenLimits, TokenProfile
from specs.index import Server, SpecIndex

__all__ = [
    "CHECK_LOCATION",
    "VALIDATOR_KEEPALIVE",
    "VALIDATOR_KEEPALIVE_SECONDS",
    "VALIDATOR_PATH",
    "VALIDATOR_UPSTREAM",
    "CapabilityError",
    "Deprecation",
    "GatewaySettings",
    "SettingsError",
    "base_paths_from_servers",
    "base_paths_from_spec",
    "render_nginx",
    "plus_capability",
    "render_nginx_plus",
]

#: The internal location every API location's ``auth_request`` points at.
CHECK_LOCATION = "/_stagegate_check"
#: The path nginx's subrequest uses on the validator (the validator answers any path but
#: ``/healthz``).
VALIDATOR_PATH = "/auth"
#: The ``upstream`` block of the validator: nginx keeps connections to it open
#: (``keepalive``) instead of connecting once per subrequest.
VALIDATOR_UPSTREAM = "stagegate_validator"
#: Idle kept-alive connections to the validator cached per nginx worker process.
VALIDATOR_KEEPALIVE = 16
#: Seconds nginx keeps an idle validator connection; below the validator's own idle limit
#: (``lifecycle.gateway.serve.KEEPALIVE_SECONDS``), so that nginx, not the validator,
#: closes an idle connection (never a request sent on a connection being closed).
VALIDATOR_KEEPALIVE_SECONDS = 50

#: Identity headers the validator answers with (GATEWAY-INTERFACES.md) → the nginx variable
#: that carries them and the header forwarded upstream (``None``: logged, never forwarded).
_IDENTITY: tuple[tuple[str, str, str | None], ...] = (
    ("decision", "sg_decision", None),
    ("sub", "sg_sub", "X-Authenticated-Sub"),
    ("client_id", "sg_client_id", "X-Authenticated-Client-Id"),
    ("jti_hash", "sg_jti_hash", "X-Authenticated-Jti-Hash"),
    ("exp", "sg_exp", "X-Authenticated-Exp"),
    ("kid", "sg_kid", "X-Authenticated-Kid"),
    ("token_fp", "sg_token_fp", "X-Authenticated-Token-Fp"),
    ("deny", "sg_deny", None),
)

#: Query-argument / cookie names that carry credentials (jwt-policy TRN-NO-TOKEN-IN-URL).
_CREDENTIAL_NAMES = "access_token|token|jwt|id_token|auth|authorization|bearer|jwe"
#: A JWT/JWE compact serialization starts with a base64url JSON header: ``eyJ``.
_JWT_SHAPE = r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_.-]"

#: Mozilla "intermediate" TLS 1.2 suites (TLS 1.3 suites are OpenSSL's defaults).
_TLS12_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))

#: Key-management algorithms NGINX Plus decrypts (nginx.org ngx_http_auth_jwt_module, 1.21.0).
PLUS_KEY_ALGS = frozenset({
    "RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512",
    "A128KW", "A192KW", "A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW", "dir",
})
#: Content encryptions NGINX Plus decrypts (1.19.7).
PLUS_ENCS = frozenset({
    "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512", "A128GCM", "A192GCM", "A256GCM",
})
#: JWS algorithms NGINX Plus verifies (PS* since 1.29.0).
PLUS_SIGNING_ALGS = frozenset({
    "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384", "PS512",
})

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._+-]*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!*+,=:@%/-]*$")
_FILE = re.compile(r"^/[A-Za-z0-9._/+-]+$")
_URL_SAFE = re.compile(r"^https://[A-Za-z0-9._~!*+,=:@%/?&#-]+$")
_HOSTPORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):[0-9]{1,5}$")


class SettingsError(ValueError):
    """A :class:`GatewaySettings` value that cannot be written safely into nginx syntax."""


class CapabilityError(ValueError):
    """The requested gateway cannot enforce the token profile (rule GW-ALG-COMPAT)."""


@dataclass(frozen=True, slots=True)
class Deprecation:
    """A version's deprecation (RFC 9745) and sunset (RFC 8594).

    :ivar deprecated_at: when the version was (or will be) deprecated (aware datetime).
    :ivar sunset_at: when it stops answering (aware datetime); after it the API locations
        answer ``410 Gone`` (decided at render time from ``now``).
    :ivar successor_url: the successor version's ``https`` URL (``rel="successor-version"``).
    :ivar policy_url: the deprecation policy's ``https`` URL (``rel="deprecation"``).
    """

    deprecated_at: datetime
    sunset_at: datetime | None = None
    successor_url: str | None = None
    policy_url: str | None = None


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """Per-version deployment settings of the generated gateway.

    :ivar server_name: the API host name (``api.example.com``), the TLS server's
        ``server_name``.
    :ivar upstream: the backend origin, ``http(s)://host[:port]`` without a path (the
        original request URI is passed on unchanged).
    :ivar certificate: absolute path of the PEM certificate chain on the gateway host.
    :ivar certificate_key: absolute path of its private key.
    :ivar validator: the token validator's address: an absolute unix socket path
        (``/run/stagegate/validator.sock``) or ``host:port`` (``127.0.0.1:8081``).
    :ivar api_version: ``"<api>/<version>"`` as the validator resolves it.
    :ivar base_paths: the API's base paths (``/v1/``; see :func:`base_paths_from_spec`),
        each ending in ``/``; ``("/",)`` serves the whole host.
    :ivar listen_port: the TLS port (443).
    :ivar plaintext_port: the port answered with 403 (80), or ``None`` for no listener.
    :ivar log_dir: directory of the JSON access and credential-exposure logs.
    :ivar upstream_ca: CA bundle that verifies an ``https`` upstream's certificate.
    :ivar deprecation: the version's deprecation, or ``None``.
    :ivar decryption_keys_file: NGINX Plus only: the JWKS file with the private
        decryption keys (exported for the gateway, mode 0600).
    :ivar issuer_keys_file: NGINX Plus only: the issuer's public signing JWKS file.
    :raises SettingsError: (at construction) for a value that is not safe in nginx syntax.
    """

    server_name: str
    upstream: str
    certificate: str
    certificate_key: str
    validator: str
    api_version: str
    base_paths: tuple[str, ...] = ("/",)
    listen_port: int = 443
    plaintext_port: int | None = 80
    log_dir: str = "/var/log/nginx"
    upstream_ca: str = "/etc/ssl/certs/ca-certificates.crt"
    deprecation: Deprecation | None = None
    decryption_keys_file: str | None = None
    issuer_keys_file: str | None = None

    def __post_init__(self) -> None:  # noqa: C901 - one check per setting
        _check(_NAME, self.server_name, "server_name")
        _check(_VERSION, self.api_version, "api_version")
        for path in (self.certificate, self.certificate_key, self.log_dir, self.upstream_ca,
                     self.decryption_keys_file, self.issuer_keys_file):
            if path is not None:
                _check(_FILE, path, "file path")
        parts = urlsplit(self.upstream)
        if (parts.scheme not in ("http", "https") or not parts.netloc
                or parts.path not in ("", "/") or parts.query or parts.fragment
                or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", parts.netloc)):
            raise SettingsError("upstream must be http(s)://host[:port] without a path, "
                                f"got {self.upstream!r}")
        if not (self.validator.startswith("/") and _FILE.match(self.validator)) \
                and not _HOSTPORT.match(self.validator):
            raise SettingsError("validator must be a unix socket path or host:port, "
                                f"got {self.validator!r}")
        if not self.base_paths:
            raise SettingsError("at least one base path is needed")
        for base in self.base_paths:
            _check(_PATH, base, "base path")
            if not base.endswith("/") or "//" in base or CHECK_LOCATION in base:
                raise SettingsError(f"base path {base!r} must end with '/' (no '//')")
        for port in (self.listen_port, self.plaintext_port):
            if port is not None and not 0 < port < 65536:
                raise SettingsError(f"port {port} out of range")
        if self.plaintext_port == self.listen_port:
            raise SettingsError("the plaintext port must differ from the TLS port")
        dep = self.deprecation
        if dep is not None:
            for url in (dep.successor_url, dep.policy_url):
                if url is not None:
                    _check(_URL_SAFE, url, "deprecation link (https URL)")
            for moment in (dep.deprecated_at, dep.sunset_at):
                if moment is not None and moment.tzinfo is None:
                    raise SettingsError("deprecation times must be timezone-aware")

    @property
    def upstream_origin(self) -> str:
        """``upstream`` without a trailing ``/`` (what ``proxy_pass`` receives)."""
        return self.upstream.rstrip("/")

    @property
    def validator_server(self) -> str:
        """The validator's address in the ``upstream`` block (``unix:/path`` or
        ``host:port``)."""
        if self.validator.startswith("/"):
            return f"unix:{self.validator}"
        return self.validator

    @property
    def validator_pass(self) -> str:
        """The ``proxy_pass`` target of the check location: the validator's ``upstream``
        block (kept-alive connections) and :data:`VALIDATOR_PATH`."""
        return f"http://{VALIDATOR_UPSTREAM}{VALIDATOR_PATH}"


def _check(pattern: re.Pattern[str], value: str, what: str) -> None:
    if not isinstance(value, str) or not pattern.match(value):
        raise SettingsError(f"{what} {value!r} is not allowed in the generated configuration")


# ---------------------------------------------------------------------------- base paths
def base_paths_from_servers(servers: Iterable[Server]) -> tuple[str, ...]:
    """Base paths (``/v1/``) of the servers' URLs, in order, without duplicates.

    Server variables are replaced by their ``default``; relative URLs (``/v1``) are paths;
    a URL without a path gives ``/``.  Only root-level servers are used when there are any
    (path- and operation-level servers narrow an API's paths, they do not add bases).

    :param servers: :attr:`specs.index.SpecIndex.servers`.
    :returns: e.g. ``("/v1/",)``; ``("/",)`` when no server declares a path.
    """
    items = list(servers)
    root = [s for s in items if s.level == "root"] or items
    found: list[str] = []
    for server in root:
        url = server.url
        if not isinstance(url, str):
            continue
        for name, spec in server.variables.items():
            default = spec.get("default") if isinstance(spec, dict) else None
            url = url.replace("{" + str(name) + "}", str(default) if default is not None else "")
        path = urlsplit(url).path if "://" in url or url.startswith("//") else url.split("?")[0]
        path = re.sub(r"/{2,}", "/", "/" + path.strip("/") + "/") if path.strip("/") else "/"
        if _PATH.match(path) and path not in found:
            found.append(path)
    return tuple(found) or ("/",)


def base_paths_from_spec(index: SpecIndex) -> tuple[str, ...]:
    """:func:`base_paths_from_servers` over a :class:`~specs.index.SpecIndex`."""
    return base_paths_from_servers(index.servers)


# ---------------------------------------------------------------------------- helpers
def _header_buffer(limits: TokenLimits) -> int:
    """Smallest power-of-two buffer (≥ 8 KiB) holding ``Authorization: Bearer <max token>``."""
    need = limits.max_token_bytes + len("Authorization: Bearer ") + 2
    size = 8 * 1024
    while size < need:
        size *= 2
    return size


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _deprecation_headers(dep: Deprecation | None) -> list[str]:
    if dep is None:
        return []
    lines = [f'add_header Deprecation "@{int(dep.deprecated_at.timestamp())}" always;']
    if dep.sunset_at is not None:
        lines.append(f'add_header Sunset "{_http_date(dep.sunset_at)}" always;')
    links = []
    if dep.policy_url:
        links.append(f'<{dep.policy_url}>; rel="deprecation"; type="text/html"')
    if dep.successor_url:
        links.append(f'<{dep.successor_url}>; rel="successor-version"')
    if links:
        lines.append(f"add_header Link '{', '.join(links)}' always;")
    return lines


def _upstream_tls(settings: GatewaySettings) -> list[str]:
    """For an ``https`` upstream: verify its certificate (TRN-TLS-CONFIG, the hop after the
    gateway; nginx does not verify upstream certificates by default)."""
    if not settings.upstream.startswith("https://"):
        return []
    return [
        "    proxy_ssl_verify on;",
        "    proxy_ssl_verify_depth 3;",
        f"    proxy_ssl_trusted_certificate {settings.upstream_ca};",
        "    proxy_ssl_server_name on;",
        "    proxy_ssl_protocols TLSv1.2 TLSv1.3;",
    ]


def _sunset_passed(dep: Deprecation | None, now: datetime | None) -> bool:
    return bool(dep and dep.sunset_at and now and now >= dep.sunset_at)


def _indent(lines: Iterable[str], level: int) -> list[str]:
    pad = "    " * level
    return [pad + line if line else "" for line in lines]


def _log_format(name: str, fields: Iterable[tuple[str, str]]) -> str:
    body = ",".join(f'"{key}":"{value}"' for key, value in fields)
    return f"log_format {name} escape=json '{{{body}}}';"


# ---------------------------------------------------------------------------- open source
def render_nginx(settings: GatewaySettings, profile: TokenProfile, *,
                 now: datetime | None = None, limits: TokenLimits | None = None) -> str:
    """A complete ``nginx.conf`` for open-source nginx ≥ 1.22 + Stagegate's validator.

    :param settings: the version's gateway settings.
    :param profile: the version's declared token profile (named in the header comment; the
        validator enforces it, nginx only routes every API request through it).
    :param now: render time (aware); decides ``410 Gone`` after ``deprecation.sunset_at``.
    :param limits: token limits; the header buffers hold the largest accepted token.
    :returns: the configuration text (UTF-8, ``\\n`` line ends), self-contained (no
        ``include``).
    """
    limits = limits or TokenLimits()
    gone = _sunset_passed(settings.deprecation, now)
    log = settings.log_dir.rstrip("/")
    version = settings.api_version
    buffer_kib = _header_buffer(limits) // 1024

    http: list[str] = [
        "server_tokens off;",
        "default_type application/json;",
        "charset utf-8;",
        "",
        "# Header size cap: one header line holds the largest token the validator accepts",
        f"# ({limits.max_token_bytes} bytes; JWE access tokens are ~1-2 KB). Larger: 400.",
        "client_header_buffer_size 4k;",
        f"large_client_header_buffers 4 {buffer_kib}k;",
        "client_max_body_size 10m;",
        "",
        "# TRN-NO-TOKEN-IN-URL: credentials only in the Authorization header.",
        "map $args $sg_token_in_query {",
        "    default 0;",
        f'    "~*(^|&)({_CREDENTIAL_NAMES})=" 1;',
        f'    "~{_JWT_SHAPE}" 1;',
        "}",
        "map $uri $sg_token_in_path {",
        "    default 0;",
        f'    "~{_JWT_SHAPE}" 1;',
        "}",
        "# The logged URI: a credential-shaped path is never written to a log.",
        "map $uri $sg_log_uri {",
        "    default $uri;",
        f'    "~{_JWT_SHAPE}" "[redacted: credential-shaped path]";',
        "}",
        "# A credential sent in clear to the plaintext port (logged, never redirected). A",
        "# cookie is read only by the refusing `if`s below, never into a variable.",
        "map $http_authorization $sg_plain_authorization {",
        '    "" 0;',
        "    default 1;",
        "}",
        'map "$sg_plain_authorization$sg_token_in_query" $sg_credential_exposure {',
        '    "00" 0;',
        "    default 1;",
        "}",
        "",
        "# JSON logs: the URI without its query, the validator's decision and the token",
        "# fingerprint; never $request, $request_uri, $args or $http_authorization.",
    ]
    fields = [("time", "$time_iso8601"), ("request_id", "$request_id"),
              ("client", "$remote_addr"), ("host", "$host"), ("method", "$request_method"),
              ("uri", "$sg_log_uri"), ("status", "$status"),
              ("bytes_sent", "$body_bytes_sent"), ("request_time", "$request_time"),
              ("api_version", version)]
    if not gone:
        fields += [(key, f"${var}") for key, var, _ in _IDENTITY]
        fields += [("upstream_status", "$upstream_status")]
    http.append(_log_format("stagegate_api", fields))
    http.append(_log_format("stagegate_exposure", [
        ("time", "$time_iso8601"), ("event", "credential_exposure"),
        ("client", "$remote_addr"), ("host", "$host"), ("port", "$server_port"),
        ("method", "$request_method"), ("uri", "$sg_log_uri"),
        ("authorization_header", "$sg_plain_authorization"),
        ("token_in_query", "$sg_token_in_query"),
        ("api_version", version)]))
    http.append(f"access_log {log}/stagegate-access.json stagegate_api;")
    http.append("")
    if not gone:
        http += [
            "# The token validator over kept-alive connections: no connect per subrequest.",
            "# nginx closes an idle connection before the validator would (its limit is",
            "# longer), so a subrequest never goes out on a connection being closed.",
            f"upstream {VALIDATOR_UPSTREAM} {{",
            f"    server {settings.validator_server};",
            f"    keepalive {VALIDATOR_KEEPALIVE};",
            f"    keepalive_timeout {VALIDATOR_KEEPALIVE_SECONDS}s;",
            "    keepalive_requests 10000;",
            "}",
            "",
        ]

    if settings.plaintext_port is not None:
        http += [
            "# TRN-TLS-CONFIG: no redirect to https (the credential already crossed the network",
            "# in clear; draft-ietf-httpapi-privacy): every plaintext request is refused.",
            "server {",
            f"    listen {settings.plaintext_port} default_server;",
            "    server_name _;",
            f"    access_log {log}/stagegate-access.json stagegate_api;",
            f"    access_log {log}/stagegate-credential-exposure.json stagegate_exposure"
            " if=$sg_credential_exposure;",
            "    return 403;",
            "}",
            "",
        ]

    server: list[str] = [
        f"listen {settings.listen_port} ssl http2;",
        f"server_name {settings.server_name};",
        "",
        f"ssl_certificate {settings.certificate};",
        f"ssl_certificate_key {settings.certificate_key};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        f"ssl_ciphers {_TLS12_CIPHERS};",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_cache shared:stagegate_tls:10m;",
        "ssl_session_timeout 1d;",
        "ssl_session_tickets off;",
        "",
        "# Every add_header of the server is here: a location with its own add_header would",
        "# drop them all.",
        'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;',
        "add_header X-Content-Type-Options nosniff always;",
        *_deprecation_headers(settings.deprecation),
        "",
        "# Refusals only (400) in the server rewrite phase, before any location: a token",
        "# outside the Authorization header is never checked, forwarded or logged.",
        "if ($sg_token_in_query) {",
        "    return 400;",
        "}",
        f'if ($http_cookie ~* "(^|[;,]\\s*)({_CREDENTIAL_NAMES})=") {{',
        "    return 400;",
        "}",
        f'if ($http_cookie ~ "{_JWT_SHAPE}") {{',
        "    return 400;",
        "}",
        "if ($sg_token_in_path) {",
        "    return 400;",
        "}",
        "",
    ]
    if gone:
        sunset = settings.deprecation.sunset_at if settings.deprecation else None
        server.append(f"# Sunset passed ({_http_date(sunset) if sunset else ''}): 410 Gone.")
        for base in settings.base_paths:
            server += [f"location {base} {{", "    return 410;", "}"]
    else:
        server += [
            "# The enforcement point: every API request is checked by the validator. Never",
            "# cached (revocation, single use); the body never leaves nginx.",
            f"location = {CHECK_LOCATION} {{",
            "    internal;",
            f"    proxy_pass {settings.validator_pass};",
            "    proxy_cache off;",
            "    proxy_buffering off;",
            "    proxy_pass_request_body off;",
            '    proxy_set_header Content-Length "";',
            "    # HTTP/1.1 without `Connection: close`: the connection goes back to the",
            "    # upstream's keepalive cache (the body is never sent, so none is left over).",
            "    proxy_http_version 1.1;",
            '    proxy_set_header Connection "";',
            "    proxy_set_header X-Original-URI $request_uri;",
            "    proxy_set_header X-Original-Method $request_method;",
            "    proxy_set_header X-Real-IP $remote_addr;",
            f'    proxy_set_header X-Stagegate-Api-Version "{version}";',
            "    proxy_connect_timeout 2s;",
            "    proxy_send_timeout 5s;",
            "    proxy_read_timeout 5s;",
            "}",
            "",
        ]
        for base in settings.base_paths:
            server += [
                f"# API {version}: access phase = auth_request; no return/rewrite here.",
                f"location {base} {{",
                f"    auth_request {CHECK_LOCATION};",
                *(f"    auth_request_set ${var} $upstream_http_x_stagegate_{key};"
                  for key, var, _ in _IDENTITY),
                '    proxy_set_header Authorization "";',
                *(f"    proxy_set_header {header} ${var};"
                  for _, var, header in _IDENTITY if header is not None),
                "    proxy_set_header Host $host;",
                "    proxy_set_header X-Request-Id $request_id;",
                "    proxy_set_header X-Real-IP $remote_addr;",
                "    proxy_set_header X-Forwarded-For $remote_addr;",
                "    proxy_set_header X-Forwarded-Proto https;",
                "    proxy_http_version 1.1;",
                '    proxy_set_header Connection "";',
                *_upstream_tls(settings),
                f"    proxy_pass {settings.upstream_origin};",
                "}",
                "",
            ]
    if "/" not in settings.base_paths:
        server += ["# Outside the API's base paths: nothing is served.",
                   "location / {", "    return 404;", "}"]

    lines = [
        f"# Generated by Stagegate for {version} - nginx >= 1.22 (open source) + the",
        "# Stagegate token validator (auth_request). Any edit invalidates the gateway proof.",
        f"# Token profile: alg={profile.alg} enc={profile.enc} "
        f"signing_alg={profile.signing_alg} issuer={profile.issuer}",
        "worker_processes auto;",
        f"error_log {log}/stagegate-error.log warn;",
        "",
        "events {",
        "    worker_connections 1024;",
        "}",
        "",
        "http {",
        *_indent(http, 1),
        "    server {",
        *_indent(server, 2),
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------- NGINX Plus
def plus_capability(profile: TokenProfile) -> list[str]:
    """Why NGINX Plus cannot enforce ``profile`` (empty list: it can).

    :returns: one sentence per gap (GW-ALG-COMPAT; jwt-policy §4.1).
    """
    gaps: list[str] = []
    if profile.alg is None:
        gaps.append("the profile declares no JWE key-management algorithm (alg)")
    elif profile.alg.startswith("ECDH-ES"):
        gaps.append(f"NGINX Plus cannot decrypt {profile.alg}: it supports no ECDH-ES key "
                    "agreement (use the open-source nginx + validator configuration, or "
                    "RSA-OAEP-256)")
    elif profile.alg not in PLUS_KEY_ALGS:
        gaps.append(f"NGINX Plus cannot decrypt key-management algorithm {profile.alg}")
    if profile.enc is None:
        gaps.append("the profile declares no content encryption (enc)")
    elif profile.enc not in PLUS_ENCS:
        gaps.append(f"NGINX Plus cannot decrypt content encryption {profile.enc}")
    if profile.signing_alg is None:
        gaps.append("the profile declares no inner signing algorithm")
    elif profile.signing_alg not in PLUS_SIGNING_ALGS:
        gaps.append(f"NGINX Plus cannot verify {profile.signing_alg} signatures")
    if not profile.issuer:
        gaps.append("the profile declares no issuer (auth_jwt_require needs one)")
    if not profile.audience:
        gaps.append("the profile declares no audience (auth_jwt_require needs one)")
    return gaps


def _map_literal(value: str) -> str:
    if any(c in value for c in "\"'\\;{}$\n\r\t ") or not value:
        raise SettingsError(f"{value!r} cannot be matched literally in an nginx map")
    return f'"{value}"'


def render_nginx_plus(settings: GatewaySettings, profile: TokenProfile, *,
                      now: datetime | None = None, limits: TokenLimits | None = None,
                      leeway: int = 30) -> str:
    """A complete ``nginx.conf`` for NGINX Plus ≥ R25 (``auth_jwt_type nested``).

    The decryption key lives on the gateway (``settings.decryption_keys_file``, an audited
    export, mode 0600); ``iss``, ``aud``, the outer ``alg`` and ``enc`` are required through
    ``map`` + ``auth_jwt_require … error=401``.  Not enforceable with Plus and left to the
    issuer/validator: single use (no shared replay state), revocation.

    :param leeway: ``auth_jwt_leeway`` in seconds (0–60, GW-CLAIM-CHECKS).
    :raises CapabilityError: for a profile NGINX Plus cannot enforce (ECDH-ES*, RSA1_5,
        PBES2, undeclared values), with the reasons in the message.
    :raises SettingsError: for missing key files or a leeway above 60 s.
    """
    gaps = plus_capability(profile)
    if gaps:
        raise CapabilityError("NGINX Plus cannot enforce this token profile: "
                              + "; ".join(gaps) + ".")
    if not 0 <= leeway <= 60:
        raise SettingsError("auth_jwt_leeway must be between 0 and 60 seconds")
    slug = settings.api_version.replace("/", "-")
    dec_file = settings.decryption_keys_file or f"/etc/nginx/stagegate/{slug}-decryption.jwks"
    iss_file = settings.issuer_keys_file or f"/etc/nginx/stagegate/{slug}-issuer.jwks"
    limits = limits or TokenLimits()
    gone = _sunset_passed(settings.deprecation, now)
    log = settings.log_dir.rstrip("/")
    assert profile.issuer is not None and profile.alg is not None and profile.enc is not None
    aud_lines = []
    for aud in profile.audience:
        aud_lines.append(f"    {_map_literal(aud)} 1;")
        aud_lines.append(f'    "~(^|,){re.escape(aud)}(,|$)" 1;')
    http = [
        "server_tokens off;",
        "default_type application/json;",
        f"large_client_header_buffers 4 {_header_buffer(limits) // 1024}k;",
        "",
        "# GW-CLAIM-CHECKS: auth_jwt_require passes only non-empty, non-\"0\" values.",
        "map $jwt_claim_iss $sg_iss_ok {",
        "    default 0;",
        f"    {_map_literal(profile.issuer)} 1;",
        "}",
        "map $jwt_claim_aud $sg_aud_ok {",
        "    default 0;",
        *aud_lines,
        "}",
        "map $jwt_header_alg $sg_alg_ok {",
        "    default 0;",
        f"    {_map_literal(profile.alg)} 1;",
        "}",
        "map $jwt_header_enc $sg_enc_ok {",
        "    default 0;",
        f"    {_map_literal(profile.enc)} 1;",
        "}",
        _log_format("stagegate_api", [
            ("time", "$time_iso8601"), ("request_id", "$request_id"),
            ("client", "$remote_addr"), ("method", "$request_method"), ("uri", "$uri"),
            ("status", "$status"), ("api_version", settings.api_version),
            ("sub", "$jwt_claim_sub"), ("client_id", "$jwt_claim_client_id"),
            ("kid", "$jwt_header_kid"), ("exp", "$jwt_claim_exp")]),
        f"access_log {log}/stagegate-access.json stagegate_api;",
        "",
    ]
    if settings.plaintext_port is not None:
        http += ["server {", f"    listen {settings.plaintext_port} default_server;",
                 "    server_name _;", "    return 403;", "}", ""]
    server = [
        f"listen {settings.listen_port} ssl http2;",
        f"server_name {settings.server_name};",
        f"ssl_certificate {settings.certificate};",
        f"ssl_certificate_key {settings.certificate_key};",
        "ssl_protocols TLSv1.2 TLSv1.3;",
        f"ssl_ciphers {_TLS12_CIPHERS};",
        "ssl_session_tickets off;",
        'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;',
        *_deprecation_headers(settings.deprecation),
        "if ($args ~* \"(^|&)(" + _CREDENTIAL_NAMES + ")=\") {",
        "    return 400;",
        "}",
        "",
    ]
    for base in settings.base_paths:
        if gone:
            server += [f"location {base} {{", "    return 410;", "}"]
            continue
        server += [
            f"location {base} {{",
            '    auth_jwt "stagegate";',
            "    auth_jwt_type nested;",
            f"    auth_jwt_key_file {dec_file};",
            f"    auth_jwt_key_file {iss_file};",
            f"    auth_jwt_leeway {leeway}s;",
            "    auth_jwt_require $sg_iss_ok $sg_aud_ok $sg_alg_ok $sg_enc_ok error=401;",
            '    proxy_set_header Authorization "";',
            "    proxy_set_header X-Authenticated-Sub $jwt_claim_sub;",
            "    proxy_set_header X-Authenticated-Client-Id $jwt_claim_client_id;",
            "    proxy_set_header X-Authenticated-Kid $jwt_header_kid;",
            "    proxy_set_header Host $host;",
            "    proxy_set_header X-Request-Id $request_id;",
            *_upstream_tls(settings),
            f"    proxy_pass {settings.upstream_origin};",
            "}",
        ]
    if "/" not in settings.base_paths:
        server += ["location / {", "    return 404;", "}"]
    lines = [
        f"# Generated by Stagegate for {settings.api_version} - NGINX Plus >= R25 "
        "(auth_jwt_type nested).",
        f"# Token profile: alg={profile.alg} enc={profile.enc} "
        f"signing_alg={profile.signing_alg} issuer={profile.issuer}",
        "# Not enforced by NGINX Plus: single use (no shared replay state), revocation.",
        "worker_processes auto;",
        f"error_log {log}/stagegate-error.log warn;",
        "events {",
        "    worker_connections 1024;",
        "}",
        "http {",
        *_indent(http, 1),
        "    server {",
        *_indent(server, 2),
        "    }",
        "}",
        "",
    ]
    return "\n".join(lines)
