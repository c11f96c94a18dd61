"""Static verification of an nginx configuration against the gateway rules (issue 11 §3).

:func:`check_nginx` takes a configuration bundle (``{relative path: bytes}``; a single
``nginx.conf`` or an entry file plus includes), parses it with crossplane through
:mod:`policies.gateway.conf` (never reading the server's disk) and evaluates the rules of
:mod:`policies.gateway_rules`.  Every failed finding names the bundle file and line.

How nginx behaves, as modelled here (nginx 1.22; sources in the rule catalog):

* ``auth_request``, ``auth_jwt``, ``auth_jwt_type``, ``ssl_protocols``, ``proxy_cache``,
  ``proxy_cache_key`` and ``*_pass_request_headers`` are inherited http → server → location
  → nested location unless the level sets its own (``off`` switches enforcement off).
* "Array" directives — ``add_header``, ``proxy_set_header``, ``grpc_set_header``,
  ``*_param``, ``access_log``, ``auth_jwt_key_file``/``auth_jwt_key_request`` — are inherited
  only by a level that has none of its own.
* ``return`` and ``rewrite`` run in the (server) rewrite phase, before the access phase where
  ``auth_request``/``auth_jwt`` run; subrequests (the auth subrequest itself) skip the access
  phase.
* A server without ``listen`` listens on port 80 in plaintext; ``listen … ssl`` (or ``quic``,
  or the old ``ssl on;``) is TLS.  Without ``ssl_protocols`` nginx 1.22 enables TLSv1,
  TLSv1.1, TLSv1.2 and TLSv1.3 (TLSv1/1.1 left the default only in 1.23.4).
* Without ``access_log`` nginx logs with the predefined ``combined`` format (``$request``).
* An ``internal`` (or named ``@``) location is never requested by a client: only an
  internal redirect enters it — ``auth_request`` (the auth subrequest: exempt, it must
  forward the token to the validator), ``error_page``, ``try_files``, ``rewrite`` (checked
  at full severity: a client's request can fall into them), or an upstream's
  ``X-Accel-Redirect`` answer, which this check cannot see.  A proxying internal location
  that nothing in the configuration routes to is therefore no GW-ENFORCES-TOKEN bypass:
  only an upstream can send a request there, and every upstream a client reaches is
  checked itself (the ``X-Accel-Redirect`` pattern of protected downloads, or a left-over
  validator location).  If it forwards ``Authorization`` it is a ``low``
  GW-STRIP-AUTHORIZATION finding (an internal redirect keeps the client's headers).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from policies.findings import Finding, Status
from policies.gateway.conf import Directive, ParsedBundle, normalize_name, parse_bundle, walk
from policies.gateway_rules import GATEWAY_RULE_IDS
from policies.rules import Severity, get_rule

PASS_DIRECTIVES = ("proxy_pass", "fastcgi_pass", "grpc_pass", "uwsgi_pass", "scgi_pass",
                   "memcached_pass")
#: the Authorization-stripping directive per pass module (``None``: sends no headers)
_HEADER_PARAM = {"fastcgi_pass": "fastcgi", "uwsgi_pass": "uwsgi", "scgi_pass": "scgi"}
_WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
NGINX_DEFAULT_PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")  # nginx 1.22
HSTS_MIN_AGE = 31_536_000  # one year, seconds
DENY_HEADER = "x-stagegate-deny"
_DENY_VAR = "$upstream_http_x_stagegate_deny"
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_CREDENTIAL_ARG = re.compile(r"token|jwt|auth|bearer|credential|access|session|password|key",
                             re.IGNORECASE)
_LOG_SECRET_VARS = frozenset({"http_authorization", "request", "request_uri", "args",
                              "query_string", "http_cookie", "jwt_payload"})
_COMBINED = "combined"
_COMBINED_TEXT = ('$remote_addr - $remote_user [$time_local] "$request" $status '
                  '$body_bytes_sent "$http_referer" "$http_user_agent"')


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True, slots=True)
class ProtectedLocation:
    """A location that passes requests upstream behind the token check (for the UI).

    :ivar file: bundle path of the ``location`` directive.
    :ivar line: its 1-based line.
    :ivar server_names: the server's ``server_name`` values (``()`` when none).
    :ivar listen: the server's ``listen`` values as written (``("443 ssl",)``).
    :ivar location: the location's modifier and pattern (``"/api/"``, ``"= /v1/ping"``).
    :ivar upstream: the pass directive and target (``"proxy_pass http://backend"``).
    :ivar enforcement: ``"auth_request /_stagegate_check"`` or ``"auth_jwt nested"``.
    :ivar enforcement_file: where the (possibly inherited) enforcing directive is written.
    :ivar enforcement_line: its line.
    """

    file: str
    line: int
    server_names: tuple[str, ...]
    listen: tuple[str, ...]
    location: str
    upstream: str
    enforcement: str
    enforcement_file: str
    enforcement_line: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: every field, tuples as lists."""
        return {"file": self.file, "line": self.line, "server_names": list(self.server_names),
                "listen": list(self.listen), "location": self.location,
                "upstream": self.upstream, "enforcement": self.enforcement,
                "enforcement_file": self.enforcement_file,
                "enforcement_line": self.enforcement_line}


@dataclass(frozen=True, slots=True)
class GatewayCheck:
    """The outcome of :func:`check_nginx`.

    :ivar entry: the entry file's bundle path.
    :ivar files: the bundle files that were parsed (reachable from the entry), in order.
    :ivar sha256: hex SHA-256 identifying the whole bundle: over the sorted
        ``name NUL sha256(bytes) LF`` lines of every file given.
    :ivar findings: one ``fail`` finding per problem (file + line), then a ``pass`` (or
        ``not-applicable``/``error``) finding for every gateway rule without failures, so a
        gate never mistakes a clean rule for missing evidence.
    :ivar protected: every proxying location that enforces the policy (meaningful for the
        UI when :attr:`passed`).
    """

    entry: str
    files: tuple[str, ...]
    sha256: str
    findings: tuple[Finding, ...]
    protected: tuple[ProtectedLocation, ...]

    @property
    def passed(self) -> bool:
        """True when no finding blocks (``fail``/``error``/``missing-evidence``)."""
        return not any(f.status.blocks for f in self.findings)

    @property
    def failures(self) -> list[Finding]:
        """The blocking findings, in report order."""
        return [f for f in self.findings if f.status.blocks]

    def to_dict(self) -> dict[str, Any]:
        """``{"entry", "files", "sha256", "passed", "findings", "protected"}`` as plain JSON."""
        return {"entry": self.entry, "files": list(self.files), "sha256": self.sha256,
                "passed": self.passed, "findings": [f.to_dict() for f in self.findings],
                "protected": [p.to_dict() for p in self.protected]}


def bundle_sha256(files: Mapping[str, bytes]) -> str:
    """The :attr:`GatewayCheck.sha256` of ``files`` (independent of mapping order)."""
    lines = sorted(f"{name}\0{hashlib.sha256(data).hexdigest()}\n"
                   for name, data in files.items())
    return hashlib.sha256("".join(lines).encode()).hexdigest()


# ------------------------------------------------------------------------------ model
@dataclass(slots=True)
class _Location:
    directive: Directive
    chain: list[Directive]  # main, http, server, location[, nested location …]
    passes: list[Directive]  # own pass directives (also inside `if` blocks)
    auth_target: bool = False
    routed: bool = False  # an error_page / try_files / rewrite of the configuration goes here

    @property
    def internal(self) -> bool:
        """Only internal redirects enter it (``internal;`` or a named ``@`` location)."""
        return (self.directive.first("internal") is not None
                or _pattern(self.directive)[1].startswith("@"))


@dataclass(slots=True)
class _Server:
    directive: Directive
    chain: list[Directive]  # main, http, server
    listens: list[tuple[Directive, bool]]  # (listen, is TLS); empty: implicit port 80
    locations: list[_Location] = field(default_factory=list)

    @property
    def tls(self) -> bool:
        return any(tls for _, tls in self.listens)

    @property
    def plaintext(self) -> list[Directive]:
        if not self.listens:
            return [self.directive]
        return [d for d, tls in self.listens if not tls]

    def names(self) -> tuple[str, ...]:
        return tuple(a for d in self.directive.children("server_name") for a in d.args)


@dataclass(slots=True)
class _Enforcement:
    on: bool
    label: str  # "auth_request /x" | "auth_jwt nested" | why not
    directive: Directive | None  # the deciding directive (for file:line)
    off: bool = False  # explicitly switched off


def _where(d: Directive) -> str:
    return f"{d.file}:{d.line}"


def _show(d: Directive) -> str:
    """A directive as written, roughly (``if`` conditions get their parentheses back)."""
    if d.name == "if":
        return f"if ({' '.join(d.args)})"
    return f"{d.name} {' '.join(d.args)}"


def _loc_label(d: Directive) -> str:
    return " ".join(d.args)


def _own(level: Directive, name: str) -> list[Directive]:
    return list(level.children(name))


def _single(chain: list[Directive], name: str) -> Directive | None:
    """The innermost setting of an inherited single-value directive."""
    for level in reversed(chain):
        own = _own(level, name)
        if own:
            return own[-1]
    return None


def _array(chain: list[Directive], name: str) -> list[Directive]:
    """An array directive: the innermost level that has any of it wins entirely."""
    for level in reversed(chain):
        own = _own(level, name)
        if own:
            return own
    return []


def _with_ifs(level: Directive) -> Iterator[Directive]:
    """A level's own directives plus those inside its ``if`` blocks (not nested locations)."""
    for child in level.block or ():
        yield child
        if child.name == "if":
            yield from _with_ifs(child)


def _listen_is_tls(listen: Directive, ssl_on: bool) -> bool:
    return ssl_on or "ssl" in listen.args[1:] or "quic" in listen.args[1:]


def _build_servers(root: Directive) -> list[_Server]:
    servers: list[_Server] = []
    for http in root.children("http"):
        http_ssl = any(d.args[:1] == ["on"] for d in http.children("ssl"))
        for server in http.children("server"):
            ssl_on = http_ssl or any(d.args[:1] == ["on"] for d in server.children("ssl"))
            listens = [(d, _listen_is_tls(d, ssl_on)) for d in server.children("listen")]
            info = _Server(server, [root, http, server], listens)
            _collect_locations(server, info.chain, info.locations)
            servers.append(info)
    return servers


def _collect_locations(level: Directive, chain: list[Directive], out: list[_Location]) -> None:
    for loc in level.children("location"):
        loc_chain = [*chain, loc]
        passes = [d for d in _with_ifs(loc) if d.name in PASS_DIRECTIVES]
        out.append(_Location(loc, loc_chain, passes))
        _collect_locations(loc, loc_chain, out)


def _pattern(loc: Directive) -> tuple[str, str]:
    args = loc.args
    if len(args) >= 2:
        return args[0], args[1]
    arg = args[0] if args else ""
    for mod in ("^~", "~*", "=", "~"):
        if arg.startswith(mod) and len(arg) > len(mod):
            return mod, arg[len(mod):]
    return "", arg


#: a group with a quantifier inside that is itself quantified: catastrophic backtracking
_NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*}][^()]*\)[+*{]")
_MAX_URI = 256


def _regex_matches(mod: str, pattern: str, uri: str) -> bool:
    """Whether a regex location matches.  The pattern and the URI both come from the
    uploaded configuration, so patterns that could backtrack catastrophically (nested
    quantifiers) and long URIs are not evaluated (treated as no match)."""
    if len(uri) > _MAX_URI or _NESTED_QUANTIFIER.search(pattern):
        return False
    try:
        return re.search(pattern, uri, re.IGNORECASE if mod == "~*" else 0) is not None
    except re.error:
        return False


def match_location(level: Directive, uri: str) -> Directive | None:
    """The location of ``level`` (a server or location block) nginx picks for ``uri``:
    exact ``=`` first, then the longest prefix (``^~`` stops the regex search; nested
    locations are searched inside it), then the first matching regex, else that prefix.
    Named locations (``@x``) never match a URI.  Regexes use Python's :mod:`re`."""
    best: Directive | None = None
    best_len = -1
    regexes: list[tuple[Directive, str, str]] = []
    for loc in level.children("location"):
        mod, pattern = _pattern(loc)
        if pattern.startswith("@"):
            continue
        if mod == "=":
            if pattern == uri:
                return loc
        elif mod in ("~", "~*"):
            regexes.append((loc, mod, pattern))
        elif uri.startswith(pattern) and len(pattern) > best_len:
            best, best_len = loc, len(pattern)
    if best is not None:
        nested = match_location(best, uri)
        if nested is not None:
            return nested
        if _pattern(best)[0] == "^~":
            return best
    for loc, mod, pattern in regexes:
        if _regex_matches(mod, pattern, uri):
            return loc
    return best


def _uri_of(target: str) -> str:
    """A literal URI for a rewrite replacement or auth_request argument: captures and
    variables become ``x``, the query string is dropped."""
    literal = _VAR.sub("x", re.sub(r"\$\d", "x", target))
    return literal.split("?", 1)[0]


# ------------------------------------------------------------------------------ checker
class _Checker:
    def __init__(self, bundle: ParsedBundle) -> None:
        self.bundle = bundle
        self.root = bundle.root
        self.servers = _build_servers(self.root)
        self.findings: list[Finding] = []
        self.not_applicable: dict[str, str] = {}
        self.protected: list[ProtectedLocation] = []
        self._seen: set[tuple[str, str, int, str]] = set()
        self._locations = {id(loc.directive): loc for server in self.servers
                           for loc in server.locations}
        self._matches: dict[tuple[int, str], Directive | None] = {}
        self._validators: dict[tuple[int, int], str | None] = {}
        self._enforcement: dict[int, _Enforcement] = {}
        self._mark_targets()

    # -- helpers
    def fail(self, rule_id: str, message: str, at: Directive | None,
             severity: Severity | None = None) -> None:
        key = (rule_id, at.file if at else "", at.line if at else 0, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.findings.append(Finding(
            rule_id, severity or get_rule(rule_id).severity, Status.FAIL, message,
            line=at.line if at else None, file=at.file if at else None))

    def _loc_of(self, server: _Server, directive: Directive | None) -> _Location | None:
        return None if directive is None else self._locations.get(id(directive))

    def _match(self, server: _Server, uri: str) -> Directive | None:
        key = (id(server.directive), uri)
        if key not in self._matches:
            self._matches[key] = match_location(server.directive, uri)
        return self._matches[key]

    def _mark_targets(self) -> None:
        """Mark the locations auth subrequests and NGINX Plus key requests go to, and those
        an ``error_page``, ``try_files`` or ``rewrite`` sends requests to (by URI or
        ``@name``; a target built from variables could be any location: then every
        location counts as routed to)."""
        self._mark_routed()
        for server in self.servers:
            levels = [server.directive, *(loc.directive for loc in server.locations),
                      *(d for d in server.chain[:2])]
            for level in levels:
                for d in level.children():
                    if d.name in ("auth_request", "auth_jwt_key_request") and d.args \
                            and d.args[0] != "off":
                        target = self._loc_of(server, self._match(server, _uri_of(d.args[0])))
                        if target is not None:
                            target.auth_target = True

    def _mark_routed(self) -> None:
        for server in self.servers:
            named = {_pattern(loc.directive)[1]: loc for loc in server.locations
                     if _pattern(loc.directive)[1].startswith("@")}
            targets: list[str] = []
            http_level = [d for d in server.chain[1].children() if d.name != "server"]
            for d in [*http_level, *walk(server.directive.block)]:
                if d.name in ("error_page", "try_files") and d.args:
                    targets.append(d.args[-1])
                elif d.name == "rewrite" and len(d.args) >= 2 and not _is_redirect(d):
                    targets.append(d.args[1])
            for target in targets:
                if target.startswith("@"):
                    if target in named:
                        named[target].routed = True
                    continue
                if target.startswith("="):  # try_files =404: a status, no location
                    continue
                if _VAR.search(target) or re.search(r"\$\d", target):
                    for loc in server.locations:
                        loc.routed = True
                    continue
                hit = self._loc_of(server, self._match(server, _uri_of(target)))
                if hit is not None:
                    hit.routed = True

    @staticmethod
    def _unrouted_internal(loc: _Location) -> bool:
        """An internal location that nothing in the configuration sends requests to."""
        return loc.internal and not loc.routed and not loc.auth_target

    def enforcement(self, server: _Server, chain: list[Directive]) -> _Enforcement:
        """Whether the level at the end of ``chain`` enforces the policy, and why not."""
        key = id(chain[-1])
        if key not in self._enforcement:
            self._enforcement[key] = self._enforcement_of(server, chain)
        return self._enforcement[key]

    def _enforcement_of(self, server: _Server, chain: list[Directive]) -> _Enforcement:
        satisfy = _single(chain, "satisfy")
        if satisfy is not None and satisfy.args[:1] == ["any"]:
            return _Enforcement(
                False, f"`satisfy any` at {_where(satisfy)} lets any other access check "
                "(`allow`, `auth_basic`) admit the request without a token", satisfy, True)
        ar = _single(chain, "auth_request")
        aj = _single(chain, "auth_jwt")
        reasons: list[str] = []
        off: Directive | None = None
        if ar is not None and ar.args and ar.args[0] != "off":
            problem = self._validator_problem(server, ar)
            if problem is None:
                return _Enforcement(True, f"auth_request {ar.args[0]}", ar)
            reasons.append(problem)
        elif ar is not None:
            off = ar
            reasons.append(f"`auth_request off` at {_where(ar)} switches the check off")
        if aj is not None and aj.args and aj.args[0] != "off":
            jtype = _single(chain, "auth_jwt_type")
            keys = _array(chain, "auth_jwt_key_file") + _array(chain, "auth_jwt_key_request")
            if jtype is None or jtype.args[:1] != ["nested"]:
                where = f" ({_where(jtype)})" if jtype else ""
                reasons.append(f"`auth_jwt` at {_where(aj)} checks `auth_jwt_type "
                               f"{jtype.args[0] if jtype else 'signed'}`{where}, not `nested` "
                               "(a JWE around a signed JWT)")
            elif not keys:
                reasons.append(f"`auth_jwt` at {_where(aj)} has no `auth_jwt_key_file` or "
                               "`auth_jwt_key_request`, so the signature is never verified")
            else:
                return _Enforcement(True, "auth_jwt nested", aj)
        elif aj is not None:
            off = off or aj
            reasons.append(f"`auth_jwt off` at {_where(aj)} switches the check off")
        if not reasons:
            reasons.append("neither `auth_request` nor `auth_jwt` is set here or inherited "
                           "from the server or http block")
        return _Enforcement(False, "; ".join(reasons), off or ar or aj, off is not None)

    def _validator_problem(self, server: _Server, ar: Directive) -> str | None:
        pair = (id(ar), id(server.directive))
        if pair not in self._validators:
            self._validators[pair] = self._validator_problem_of(server, ar)
        return self._validators[pair]

    def _validator_problem_of(self, server: _Server, ar: Directive) -> str | None:
        target = self._match(server, _uri_of(ar.args[0]))
        if target is None:
            return (f"`auth_request {ar.args[0]}` at {_where(ar)} goes to no location of this "
                    "server")
        info = self._loc_of(server, target)
        passes = info.passes if info else []
        missing = []
        if target.first("internal") is None:
            missing.append("is not `internal` (clients can call the validator directly)")
        if not passes:
            missing.append("does not proxy to the validator")
        if missing:
            return (f"the auth location `location {_loc_label(target)}` at {_where(target)} "
                    + " and ".join(missing))
        return None

    # -- rules
    def run(self) -> None:
        self.check_bundle()
        if not self.root.block:
            return
        self.check_enforcement()
        self.check_early_answers()
        self.check_token_sources()
        self.check_auth_cache()
        self.check_plaintext()
        self.check_tls()
        self.check_authorization_forwarded()
        self.check_logs()
        self.check_deny_reason()

    def check_bundle(self) -> None:
        for problem in self.bundle.problems:
            rule = "GW-CONFIG-SELF-CONTAINED" if problem.kind == "outside" else "GW-CONFIG-VALID"
            fix = (" Put the file into the bundle and include it by a relative path."
                   if problem.kind == "outside" else "")
            self.findings.append(Finding(rule, get_rule(rule).severity, Status.FAIL,
                                         problem.message + fix, line=problem.line,
                                         file=problem.file))

    def _proxying(self) -> Iterator[tuple[_Server, _Location]]:
        for server in self.servers:
            for loc in server.locations:
                if loc.passes and not loc.auth_target:
                    yield server, loc

    def check_enforcement(self) -> None:
        for stream in self.root.children("stream"):
            for block in stream.children("server"):
                for p in block.children("proxy_pass"):
                    self.fail("GW-ENFORCES-TOKEN",
                              f"the `stream` server at {_where(block)} passes raw TCP to "
                              f"`{' '.join(p.args)}` ({_where(p)}): no HTTP access check, so "
                              "no token check, can run there. Fix: remove it, or make sure "
                              "it never reaches the API's upstream.", p)
        any_proxy = False
        for server, loc in self._proxying():
            if self._unrouted_internal(loc):
                continue  # no client request can enter it (see the module docstring)
            any_proxy = True
            enf = self.enforcement(server, loc.chain)
            first = loc.passes[0]
            upstream = f"{first.name} {' '.join(first.args)}"
            if enf.on and enf.directive is not None:
                self.protected.append(ProtectedLocation(
                    loc.directive.file, loc.directive.line, server.names(),
                    tuple(" ".join(d.args) for d, _ in server.listens),
                    _loc_label(loc.directive), upstream, enf.label, enf.directive.file,
                    enf.directive.line))
                continue
            at = enf.directive if enf.off else loc.directive
            self.fail("GW-ENFORCES-TOKEN",
                      f"`location {_loc_label(loc.directive)}` ({_where(loc.directive)}) "
                      f"passes requests upstream (`{upstream}` at {_where(first)}) without "
                      f"the token check: {enf.label}. Any request, with or without a valid "
                      "token, reaches the upstream. Fix: enforce `auth_request` to the "
                      "Stagegate validator (or NGINX Plus `auth_jwt` nested with keys) in "
                      "this location or its server block.", at)
        if not any_proxy and self.servers:
            self.fail("GW-ENFORCES-TOKEN",
                      "no location passes requests to an upstream (`proxy_pass`, "
                      "`fastcgi_pass`, `grpc_pass`, …): this configuration does not put an "
                      "API behind the gateway, so there is nothing whose enforcement could "
                      "be checked.", None)
        elif not self.servers:
            self.fail("GW-ENFORCES-TOKEN", "the configuration has no `http { server { … } }` "
                      "block: there is no API gateway to check.", None)

    def _is_protected(self, server: _Server, loc: _Location) -> bool:
        if loc.auth_target:
            return False
        return bool(loc.passes) or self.enforcement(server, loc.chain).on

    def _rewrite_target_unprotected(self, server: _Server, target: str,
                                    here: _Location | None) -> str | None:
        dest = self._match(server, _uri_of(target))
        info = self._loc_of(server, dest)
        if dest is None or info is None or info is here or not info.passes:
            return None
        if self.enforcement(server, info.chain).on and not info.auth_target:
            return None
        return (f"`location {_loc_label(dest)}` at {_where(dest)}, which passes requests "
                "upstream without the token check")

    def _early(self, server: _Server, level: Directive, here: _Location | None,
               scope: str) -> None:
        for d in _with_ifs(level):
            if d.name == "return" and d.args:
                code = d.args[0]
                if code.isdigit() and int(code) >= 400:
                    continue
                self.fail("GW-NO-EARLY-ANSWER",
                          f"`return {' '.join(d.args)}` at {_where(d)} in {scope} answers in "
                          "the rewrite phase, before the access phase where `auth_request`/"
                          "`auth_jwt` run: the client gets this answer without any token "
                          "check. Fix: remove it, or move it into its own location (with "
                          "`auth_request off` only if it is meant to be public).", d)
            elif d.name == "rewrite" and len(d.args) >= 2:
                flag = d.args[2] if len(d.args) > 2 else ""
                replacement = d.args[1]
                if flag in ("redirect", "permanent") or replacement.startswith(
                        ("http://", "https://", "$scheme")):
                    self.fail("GW-NO-EARLY-ANSWER",
                              f"`rewrite {' '.join(d.args)}` at {_where(d)} in {scope} "
                              "answers with a redirect in the rewrite phase, before the "
                              "token check. Fix: remove the redirect (clients of an API "
                              "must call the right URL) or give it its own location.", d)
                    continue
                if flag == "break" and here is not None:
                    continue  # stays in this (protected) location: the access phase runs
                problem = self._rewrite_target_unprotected(server, replacement, here)
                if problem is not None:
                    self.fail("GW-NO-EARLY-ANSWER",
                              f"`rewrite {' '.join(d.args)}` at {_where(d)} in {scope} "
                              f"moves the request, before the access check, into {problem}."
                              " Fix: rewrite only into locations that enforce the token "
                              "check (or use `break` to stay in this one).", d)

    def check_early_answers(self) -> None:
        for server in self.servers:
            protected = [loc for loc in server.locations if self._is_protected(server, loc)]
            if not protected:
                continue
            self._early(server, server.directive, None,
                        f"the server block ({_where(server.directive)}) in front of its "
                        "protected locations")
            for loc in protected:
                self._early(server, loc.directive, loc,
                            f"the protected `location {_loc_label(loc.directive)}`")

    def check_token_sources(self) -> None:
        for d in walk(self.root.block):
            if d.name in ("log_format", "access_log"):
                continue
            if d.name == "if" and d.block is not None and self._refuses(d):
                continue
            for arg in d.args:
                for name in _VAR.findall(arg):
                    lowered = name.lower()
                    is_arg = lowered.startswith("arg_") and bool(
                        _CREDENTIAL_ARG.search(lowered[4:]))
                    is_cookie = lowered.startswith("cookie_") or lowered == "http_cookie"
                    if is_arg or is_cookie:
                        why = ("the query string: a credential in the URL ends up in logs, "
                               "browser history and Referer headers (RFC 6750 §2.3, RFC 9700 "
                               "§4.3.2)") if is_arg else (
                               "a cookie: browsers send cookies automatically (cross-site "
                               "requests) and the policy allows tokens only in the "
                               "Authorization header (RFC 6750 §2.1)")
                        self.fail("GW-NO-TOKEN-IN-URL",
                                  f"`{_show(d)}` at {_where(d)} takes `${name}` from {why}. "
                                  "Fix: accept the token only from the `Authorization: "
                                  "Bearer` header and refuse requests that carry one "
                                  "elsewhere (`if ($arg_access_token) { return 400; }`).", d)
                        break

    @staticmethod
    def _refuses(block: Directive) -> bool:
        """An ``if`` whose block only refuses (``return 4xx/5xx``)."""
        inner = list(block.children())
        return bool(inner) and all(
            c.name == "return" and c.args[:1] and c.args[0].isdigit() and int(c.args[0]) >= 400
            for c in inner)

    def check_auth_cache(self) -> None:
        targets = [(s, loc) for s in self.servers for loc in s.locations if loc.auth_target]
        if not targets:
            self.not_applicable["GW-AUTH-NOT-CACHED"] = (
                "no `auth_request` subrequest location: nothing to cache")
            return
        for _server, loc in targets:
            cache = _single(loc.chain, "proxy_cache")
            if cache is None or cache.args[:1] == ["off"]:
                continue
            key = _single(loc.chain, "proxy_cache_key")
            name = f"`location {_loc_label(loc.directive)}` ({_where(loc.directive)})"
            if key is None or "$http_authorization" not in " ".join(key.args):
                keytext = (f"`proxy_cache_key {' '.join(key.args)}` ({_where(key)})"
                           if key else "the default key `$scheme$proxy_host$request_uri`")
                self.fail("GW-AUTH-NOT-CACHED",
                          f"the auth subrequest location {name} caches the validator's "
                          f"answer (`proxy_cache {cache.args[0]}` at {_where(cache)}) under "
                          f"{keytext}, which omits the token: after one allowed request "
                          "every request for the same URL is let in, whatever token it "
                          "carries. Fix: remove `proxy_cache` from the auth location.",
                          key or cache)
            else:
                self.fail("GW-AUTH-NOT-CACHED",
                          f"the auth subrequest location {name} caches the validator's "
                          f"answer (`proxy_cache {cache.args[0]}` at {_where(cache)}): a "
                          "cached allow survives revocation and defeats replay detection. "
                          "Fix: remove `proxy_cache` from the auth location.", cache,
                          Severity.HIGH)

    def check_plaintext(self) -> None:
        for server in self.servers:
            plain = server.plaintext
            if not plain:
                continue
            listen = plain[0]
            listen_text = ("no `listen` (port 80)" if listen is server.directive
                           else f"`listen {' '.join(listen.args)}`")
            proxies = [loc for loc in server.locations if loc.passes and not loc.auth_target]
            redirects = [d for level in (server.directive, *(loc.directive for loc in
                                                              server.locations))
                         for d in _with_ifs(level) if _is_redirect(d)]
            for d in redirects:
                self.fail("GW-HTTPS-ONLY",
                          f"the plaintext listener ({listen_text} at {_where(listen)}) "
                          f"redirects (`{d.name} {' '.join(d.args)}` at {_where(d)}): the "
                          "redirect comes after the client already sent its token in clear, "
                          "and teaches clients that http works. Fix: answer plaintext "
                          "requests with `return 403;` (or 421/444) only.", d)
            if proxies:
                names = ", ".join(f"`location {_loc_label(loc.directive)}` at "
                                  f"{_where(loc.directive)}" for loc in proxies)
                self.fail("GW-HTTPS-ONLY",
                          f"the plaintext listener {listen_text} at {_where(listen)} passes "
                          f"requests upstream ({names}): tokens and answers travel in clear. "
                          "Fix: listen with `ssl` only, and give port 80 a separate server "
                          "that only does `return 403;`.", listen)
            elif not redirects and not self._refuse_only(server):
                self.fail("GW-HTTPS-ONLY",
                          f"the plaintext listener {listen_text} at {_where(listen)} answers "
                          "requests instead of refusing them. Fix: `return 403;` (or "
                          "421/444) in its server block and nothing else.", listen,
                          Severity.MEDIUM)

    @staticmethod
    def _refuse_only(server: _Server) -> bool:
        for d in server.directive.children("return"):
            if d.args[:1] and d.args[0].isdigit() and 400 <= int(d.args[0]) < 500:
                return True
        return False

    def check_tls(self) -> None:
        for server in self.servers:
            if not server.tls:
                continue
            tls_listen = next(d for d, tls in server.listens if tls)
            protocols = _single(server.chain, "ssl_protocols")
            if protocols is None:
                self.fail("TRN-TLS-CONFIG",
                          f"the TLS server (`listen {' '.join(tls_listen.args)}` at "
                          f"{_where(tls_listen)}) sets no `ssl_protocols`: nginx 1.22 then "
                          f"allows {' '.join(NGINX_DEFAULT_PROTOCOLS)}, and TLS 1.0/1.1 are "
                          "deprecated (RFC 8996). Fix: `ssl_protocols TLSv1.2 TLSv1.3;`.",
                          tls_listen)
            else:
                weak = [p for p in protocols.args if p in _WEAK_PROTOCOLS]
                if weak:
                    self.fail("TRN-TLS-CONFIG",
                              f"`ssl_protocols {' '.join(protocols.args)}` at "
                              f"{_where(protocols)} allows {' '.join(weak)} (deprecated: RFC "
                              "8996, RFC 9325 §3.1.1). Fix: `ssl_protocols TLSv1.2 TLSv1.3;`.",
                              protocols)
            ciphers = _single(server.chain, "ssl_ciphers")
            if ciphers is not None and re.search(r"@SECLEVEL=0", " ".join(ciphers.args),
                                                 re.IGNORECASE):
                self.fail("TRN-TLS-CONFIG",
                          f"`ssl_ciphers {' '.join(ciphers.args)}` at {_where(ciphers)} lowers "
                          "OpenSSL's security level to 0, which re-enables TLS 1.0/1.1 and "
                          "weak ciphers (OpenSSL 3 refuses them at its default level even when "
                          "`ssl_protocols` lists them). Fix: drop `@SECLEVEL=0` (e.g. "
                          "`ssl_ciphers HIGH:!aNULL:!MD5;` or nginx's default).", ciphers)
            levels = [loc.chain for loc in server.locations
                      if loc.passes and not loc.auth_target] or [server.chain]
            for chain in levels:
                self._hsts(chain)

    def _hsts(self, chain: list[Directive]) -> None:
        level = chain[-1]
        headers = _array(chain, "add_header")
        sts = [h for h in headers if h.args and h.args[0].lower() == "strict-transport-security"]
        what = (f"`location {_loc_label(level)}`" if level.name == "location"
                else "the TLS server")
        if not sts:
            shadow = ""
            if headers and headers[0] not in _own(chain[2], "add_header") and any(
                    h.args and h.args[0].lower() == "strict-transport-security"
                    for lvl in chain[:-1] for h in _own(lvl, "add_header")):
                shadow = (" (the server's HSTS header is not inherited because this level "
                          f"has its own `add_header` at {_where(headers[0])})")
            self.fail("TRN-TLS-CONFIG",
                      f"{what} ({_where(level)}) sends no `Strict-Transport-Security` "
                      f"header{shadow}. Fix: `add_header Strict-Transport-Security "
                      "\"max-age=31536000\" always;` here (RFC 6797).", level)
            return
        header = sts[-1]
        value = header.args[1] if len(header.args) > 1 else ""
        age = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.IGNORECASE)
        problems = []
        if age is None or int(age.group(1)) < HSTS_MIN_AGE:
            problems.append(f"max-age below one year ({HSTS_MIN_AGE} s)")
        if "always" not in header.args[2:]:
            problems.append("no `always` (nginx then omits it from 4xx/5xx answers)")
        if problems:
            self.fail("TRN-TLS-CONFIG",
                      f"`add_header {' '.join(header.args)}` at {_where(header)}: "
                      + "; ".join(problems) + ". Fix: `add_header Strict-Transport-Security "
                      "\"max-age=31536000\" always;`.", header)

    def check_authorization_forwarded(self) -> None:
        for _server, loc in self._proxying():
            for p in loc.passes:
                self._strip(loc, p)

    def _strip(self, loc: _Location, p: Directive) -> None:
        name = f"`location {_loc_label(loc.directive)}` ({_where(loc.directive)})"
        if p.name in ("proxy_pass", "grpc_pass"):
            module = p.name.split("_")[0]
            setter = f"{module}_set_header"
            if module == "proxy":
                off = _single(loc.chain, "proxy_pass_request_headers")
                if off is not None and off.args[:1] == ["off"]:
                    return
            auth = [h for h in _array(loc.chain, setter)
                    if h.args and h.args[0].lower() == "authorization"]
            fix = f"`{setter} Authorization \"\";`"
        elif p.name in _HEADER_PARAM:
            module = _HEADER_PARAM[p.name]
            off = _single(loc.chain, f"{module}_pass_request_headers")
            if off is not None and off.args[:1] == ["off"]:
                return
            setter = f"{module}_param"
            auth = [h for h in _array(loc.chain, setter)
                    if h.args and h.args[0].upper() == "HTTP_AUTHORIZATION"]
            fix = f"`{setter} HTTP_AUTHORIZATION \"\";`"
        else:
            return  # memcached_pass sends no request headers
        if not auth:
            unrouted = self._unrouted_internal(loc)
            self.fail("GW-STRIP-AUTHORIZATION",
                      f"{name} forwards the client's `Authorization` header to the upstream "
                      f"(`{p.name} {' '.join(p.args)}` at {_where(p)}; nginx passes it on "
                      "unless told otherwise): the upstream and its logs see the bearer token"
                      + (" (it is internal and nothing of this configuration routes to it: "
                         "only an upstream's `X-Accel-Redirect` could enter it)"
                         if unrouted else "")
                      + f". Fix: {fix} here (repeat it wherever a level has its own "
                      f"`{setter}`), or remove the location if it is left over.", p,
                      Severity.LOW if unrouted else None)
            return
        header = auth[-1]
        value = " ".join(header.args[1:])
        if "$http_authorization" in value.lower():
            self.fail("GW-STRIP-AUTHORIZATION",
                      f"`{header.name} {' '.join(header.args)}` at {_where(header)} forwards "
                      f"the bearer token to the upstream of {name}. Fix: {fix}.", header)

    def check_logs(self) -> None:
        formats: dict[str, Directive] = {}
        for http in self.root.children("http"):
            for d in http.children("log_format"):
                if d.args:
                    formats[d.args[0]] = d
        used: dict[str, list[Directive]] = {}
        for d in walk(self.root.block):
            if d.name != "access_log" or not d.args or d.args[0] == "off":
                continue
            fmt = d.args[1] if len(d.args) > 1 and "=" not in d.args[1] else _COMBINED
            used.setdefault(fmt, []).append(d)
        for fmt, logs in used.items():
            if fmt == _COMBINED and fmt not in formats:
                for log in logs:
                    self.fail("GW-LOG-NO-TOKEN",
                              f"`access_log {' '.join(log.args)}` at {_where(log)} uses the "
                              "predefined `combined` format, which logs `$request` (the "
                              "request line with its query string: a token sent in the URL "
                              "is written to disk). Fix: log with a format that has `$uri`, "
                              "not `$request`.", log)
                continue
            definition = formats.get(fmt)
            if definition is None:
                continue
            secret = _secret_vars(" ".join(a for a in definition.args[1:]
                                           if not a.startswith("escape=")))
            if secret:
                where = ", ".join(f"`access_log` at {_where(log)}" for log in logs)
                self.fail("GW-LOG-NO-TOKEN",
                          f"`log_format {fmt}` at {_where(definition)} writes "
                          f"{', '.join('$' + v for v in secret)}, which can hold the access "
                          f"token; it is used by {where}. Fix: drop these variables (log "
                          "`$uri` and the validator's token fingerprint instead).",
                          definition)
        for http in self.root.children("http"):
            if any(True for _ in http.children("access_log")):
                continue
            unlogged = [loc for server, loc in self._proxying()
                        if server.chain[1] is http and not _array(loc.chain, "access_log")]
            if unlogged:
                self.fail("GW-LOG-NO-TOKEN",
                          f"no `access_log` is configured for `location "
                          f"{_loc_label(unlogged[0].directive)}` "
                          f"({_where(unlogged[0].directive)}) or its server and http block "
                          f"({_where(http)}), so nginx logs it with the predefined `combined` "
                          "format, which writes `$request` (a token sent in the URL ends up "
                          "on disk). Fix: `access_log logs/api.log api;` in the http block "
                          "with a format that logs `$uri`.", http)

    def check_deny_reason(self) -> None:
        deny_vars = {d.args[0] for d in walk(self.root.block)
                     if d.name == "auth_request_set" and len(d.args) >= 2
                     and d.args[1].lower() == _DENY_VAR}
        for d in walk(self.root.block):
            if d.name not in ("add_header", "add_trailer", "more_set_headers") or not d.args:
                continue
            text = " ".join(d.args).lower()
            leaks = (d.args[0].lower() == DENY_HEADER or _DENY_VAR in text
                     or any(re.search(re.escape(v.lower()) + r"(?![A-Za-z0-9_])", text)
                            for v in deny_vars))
            if leaks:
                self.fail("GW-DENY-REASON-HIDDEN",
                          f"`{d.name} {' '.join(d.args)}` at {_where(d)} sends the "
                          "validator's internal deny reason (`X-Stagegate-Deny`) to the "
                          "client, telling an attacker which check stopped the token. Fix: "
                          "log it (`$sg_deny` in the log format) and remove this header.", d)

    def results(self) -> list[Finding]:
        failed = {f.rule_id for f in self.findings}
        tail: list[Finding] = []
        parsed = bool(self.root.block)
        for rule_id in GATEWAY_RULE_IDS:
            if rule_id in failed:
                continue
            severity = get_rule(rule_id).severity
            if not parsed and rule_id not in ("GW-CONFIG-VALID", "GW-CONFIG-SELF-CONTAINED"):
                tail.append(Finding(rule_id, severity, Status.ERROR,
                                    "not evaluated: the configuration could not be read (see "
                                    "GW-CONFIG-VALID)."))
            elif rule_id in self.not_applicable:
                tail.append(Finding(rule_id, severity, Status.NOT_APPLICABLE,
                                    self.not_applicable[rule_id]))
            else:
                tail.append(Finding(rule_id, severity, Status.PASS,
                                    f"{get_rule(rule_id).title}: no problem found."))
        order = {rule_id: i for i, rule_id in enumerate(GATEWAY_RULE_IDS)}
        fails = sorted(self.findings, key=lambda f: (
            order.get(f.rule_id, 99), f.file or "", f.line or 0, f.message))
        return fails + tail


def _is_redirect(d: Directive) -> bool:
    if d.name == "return" and d.args:
        code = d.args[0]
        return (code.isdigit() and 300 <= int(code) < 400) or not code.isdigit()
    if d.name == "rewrite" and len(d.args) >= 2:
        flag = d.args[2] if len(d.args) > 2 else ""
        return flag in ("redirect", "permanent") or d.args[1].startswith(
            ("http://", "https://", "$scheme"))
    return False


def _secret_vars(text: str) -> list[str]:
    found: list[str] = []
    for name in _VAR.findall(text):
        lowered = name.lower()
        if (lowered in _LOG_SECRET_VARS or lowered.startswith(("arg_", "cookie_"))) \
                and lowered not in found:
            found.append(lowered)
    return found


# ------------------------------------------------------------------------------ entry point
def check_nginx(files: Mapping[str, bytes], *, entry: str = "nginx.conf") -> GatewayCheck:
    """Check an nginx configuration (one file or a bundle of includes) against the gateway
    rules of :mod:`policies.gateway_rules`.

    :param files: ``{bundle path: content}``; paths are relative (``nginx.conf``,
        ``conf.d/api.conf``).  Nothing outside this mapping is ever read: an ``include`` that
        points elsewhere is a ``GW-CONFIG-SELF-CONTAINED`` finding.
    :param entry: the bundle path of the main file (nginx's ``-c``); includes are resolved
        relative to its directory.
    :returns: a :class:`GatewayCheck`; problems are findings, this function does not raise
        for bad configuration input.
    """
    bundle = parse_bundle(files, entry)
    checker = _Checker(bundle)
    checker.run()
    return GatewayCheck(
        entry=normalize_name(entry) or entry,
        files=tuple(bundle.files),
        sha256=bundle_sha256(files),
        findings=tuple(checker.results()),
        protected=tuple(checker.protected),
    )


def failures_of(check: GatewayCheck, rule_id: str) -> list[Finding]:
    """The failed findings of ``rule_id`` in ``check`` (a convenience for callers and tests)."""
    return [f for f in check.findings if f.rule_id == rule_id and f.status is Status.FAIL]
