"""Evaluators for the rules that read the OpenAPI document (evidence kind ``spec``).

Each evaluator is a function ``(doc, index, issues) -> list[Finding]`` registered with
:func:`spec_rule` under a rule id of :mod:`policies.rules`.  It returns at least one finding:
a single ``pass``, or one ``fail`` per offending place (with the JSON pointer of that place;
:func:`policies.check.check_spec` fills in line and column afterwards).

:func:`evaluate_spec_rules` runs them all, fail closed: an exception inside a rule becomes one
``error`` finding for that rule, and on a document without a supported OpenAPI version the
rules that need the structure report ``error`` instead of guessing.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from policies import algorithms
from policies.findings import Finding, Status
from policies.rules import Evidence, Severity, get_rule
from specs import pointer as jp
from specs.document import SpecDocument
from specs.index import Operation, SecurityScheme, SpecIndex
from specs.validate import ValidationIssue, external_refs

SpecRuleFn = Callable[[SpecDocument, SpecIndex, Sequence[ValidationIssue]], list[Finding]]

#: rule id → evaluator, filled by :func:`spec_rule`
SPEC_RULES: dict[str, SpecRuleFn] = {}

#: rules that make sense even when the document declares no supported OpenAPI version
_VERSION_INDEPENDENT = frozenset({"SPEC-VALID", "SPEC-NO-EXTERNAL-REF"})

#: most server-variable combinations expanded for one server URL
MAX_URL_EXPANSIONS = 256


def spec_rule(rule_id: str) -> Callable[[SpecRuleFn], SpecRuleFn]:
    """Register the decorated function as the evaluator of ``rule_id``.

    :raises UnknownRule: ``rule_id`` is not in the catalog.
    :raises ValueError: the rule does not read ``spec`` evidence, or already has an evaluator.
    """
    rule = get_rule(rule_id)
    if rule.evidence is not Evidence.SPEC:
        raise ValueError(f"{rule_id} reads {rule.evidence} evidence, not spec")

    def register(fn: SpecRuleFn) -> SpecRuleFn:
        if rule_id in SPEC_RULES:
            raise ValueError(f"{rule_id} already has an evaluator")
        SPEC_RULES[rule_id] = fn
        return fn

    return register


def build_index(doc: SpecDocument) -> SpecIndex | str:
    """The document's :class:`SpecIndex`, or the reason it could not be built (never
    raises: a broken document must not stop the rules from reporting)."""
    try:
        return SpecIndex(doc)
    except Exception as exc:  # noqa: BLE001 - fail closed, reported per rule
        return _describe(exc)


def evaluate_spec_rules(
    doc: SpecDocument, issues: Sequence[ValidationIssue],
    built: SpecIndex | str | None = None,
) -> list[Finding]:
    """Every spec rule's findings for ``doc`` (unsorted, locations not filled in).

    :param built: the result of :func:`build_index` when the caller has it already.
    Never raises: a failing rule or index yields ``error`` findings.
    """
    if built is None:
        built = build_index(doc)
    index = built if isinstance(built, SpecIndex) else None
    index_error = built if isinstance(built, str) else ""
    findings: list[Finding] = []
    for rule_id in sorted(SPEC_RULES):
        if rule_id not in _VERSION_INDEPENDENT and doc.openapi_version is None:
            findings.append(_error(
                rule_id,
                "rule could not be evaluated: the document declares no OpenAPI version "
                "Stagegate can read (see SPEC-VALID)",
            ))
        elif index is None:
            findings.append(_error(rule_id, f"rule could not be evaluated: {index_error}"))
        else:
            findings.extend(evaluate_one(rule_id, doc, index, issues))
    return findings


def evaluate_one(
    rule_id: str, doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """The findings of one spec rule, with any exception turned into an ``error`` finding."""
    try:
        found = SPEC_RULES[rule_id](doc, index, issues)
    except Exception as exc:  # noqa: BLE001 - a rule bug must never pass a gate or crash
        return [_error(rule_id, f"rule could not be evaluated: {_describe(exc)}")]
    if not found:
        return [_error(rule_id, "rule could not be evaluated: it produced no finding")]
    return found


# ------------------------------------------------------------------------------- helpers
def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _finding(
    rule_id: str,
    status: Status,
    message: str,
    pointer: str | None = None,
    severity: Severity | None = None,
) -> Finding:
    return Finding(rule_id, severity or get_rule(rule_id).severity, status, message, pointer)


def _pass(rule_id: str, message: str) -> Finding:
    return _finding(rule_id, Status.PASS, message)


def _fail(
    rule_id: str, message: str, pointer: str | None = None, severity: Severity | None = None
) -> Finding:
    return _finding(rule_id, Status.FAIL, message, pointer, severity)


def _error(rule_id: str, message: str) -> Finding:
    return _finding(rule_id, Status.ERROR, message)


def _op_label(op: Operation) -> str:
    kind = "webhook " if op.webhook else ""
    return f"{kind}{op.method.upper()} {op.path}"


def is_bearer_scheme(scheme: SecurityScheme, swagger2: bool) -> bool:
    """True for a scheme that sends a bearer token in the ``Authorization`` header.

    OpenAPI 3.x: ``type: http`` with ``scheme: bearer`` (case-insensitive, RFC 7235 §2.1).
    Swagger 2.0 has no bearer type; ``type: apiKey, in: header, name: Authorization`` is the
    only way to model it there.
    """
    data = scheme.data
    if swagger2:
        name = data.get("name")
        return (
            data.get("type") == "apiKey"
            and data.get("in") == "header"
            and isinstance(name, str)
            and name.lower() == "authorization"
        )
    kind = data.get("scheme")
    return data.get("type") == "http" and isinstance(kind, str) and kind.lower() == "bearer"


def bearer_schemes(index: SpecIndex) -> list[SecurityScheme]:
    """The bearer schemes of ``index`` in declaration order."""
    return [s for s in index.security_schemes.values() if is_bearer_scheme(s, index.is_swagger2)]


def _requirements(op: Operation) -> list[tuple[int, dict[str, Any]]]:
    """The non-empty requirement objects of an operation's effective security."""
    if not isinstance(op.security, list):
        return []
    return [(i, r) for i, r in enumerate(op.security) if isinstance(r, dict) and r]


# ------------------------------------------------------------------------- SPEC-VALID
@spec_rule("SPEC-VALID")
def spec_valid(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """One ``fail`` per validation issue (external references excepted), else a ``pass``.

    The finding is at the defective place; its message names the references the place is
    reached from, with their lines (:meth:`ValidationIssue.describe`).
    """
    findings = [
        Finding("SPEC-VALID", get_rule("SPEC-VALID").severity, Status.FAIL, issue.describe(),
                issue.pointer, issue.line, issue.column)
        for issue in issues
        if issue.kind != "external-ref"
    ]
    if findings:
        return findings
    external = sum(1 for i in issues if i.kind == "external-ref")
    note = (f" (checked without its {external} external reference(s); see SPEC-NO-EXTERNAL-REF)"
            if external else "")
    name = "Swagger" if index.is_swagger2 else "OpenAPI"
    return [_pass("SPEC-VALID", f"The document is a valid {name} {doc.openapi_version} "
                                f"description{note}.")]


# --------------------------------------------------------------- SPEC-NO-EXTERNAL-REF
@spec_rule("SPEC-NO-EXTERNAL-REF")
def no_external_ref(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """One ``fail`` per ``$ref`` that leaves the document (pointer of the ``$ref`` member)."""
    refs: dict[str | None, str | None] = dict(external_refs(doc))
    messages: dict[str | None, str] = {}
    for issue in issues:
        if issue.kind == "external-ref" and issue.pointer not in refs:
            refs[issue.pointer] = None
            messages[issue.pointer] = issue.message
    findings = []
    for pointer in sorted(refs, key=lambda p: p or ""):
        ref = refs[pointer]
        message = messages.get(pointer) or (
            f"$ref {ref!r} points outside the document. Stagegate never fetches files or URLs, "
            "so the document was checked without it; bundle it into one document."
        )
        findings.append(_fail("SPEC-NO-EXTERNAL-REF", message, pointer))
    return findings or [_pass("SPEC-NO-EXTERNAL-REF", "Every $ref points inside the document.")]


# ----------------------------------------------------------------------- TRN-HTTPS-ONLY
_VARIABLE = re.compile(r"\{([^{}]*)\}")
_SECURE_SCHEMES = frozenset({"https", "wss"})
_PLAIN_SCHEMES = frozenset({"http", "ws"})


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _expand_url(url: str, variables: Mapping[str, Any]) -> tuple[list[str], str | None]:
    """Every URL ``url`` can become with the enum/default values of its variables.

    :returns: ``(urls, problem)``; ``problem`` says why the URL cannot be expanded.
    """
    names = list(dict.fromkeys(_VARIABLE.findall(url)))
    choices: list[list[str]] = []
    for name in names:
        var = variables.get(name)
        if not isinstance(var, dict):
            return [], f"uses the variable {{{name}}}, which is not defined in `variables`"
        enum = var.get("enum")
        values = [v for v in enum if isinstance(v, str)] if isinstance(enum, list) else []
        if isinstance(var.get("default"), str):
            values.append(var["default"])
        values = list(dict.fromkeys(values))
        if not values:
            return [], f"variable {{{name}}} has no string `default` or `enum` value"
        choices.append(values)
    total = 1
    for values in choices:
        total *= len(values)
    if total > MAX_URL_EXPANSIONS:
        return [], (f"its variables allow {total} combinations, more than the "
                    f"{MAX_URL_EXPANSIONS} Stagegate checks")
    urls = []
    for combo in itertools.product(*choices):
        expanded = url
        for name, value in zip(names, combo, strict=True):
            expanded = expanded.replace("{" + name + "}", value)
        urls.append(expanded)
    return urls, None


def _url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute https/wss URL, or ``None`` when it is."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return f"{url!r} is not a valid URL"
    scheme = parts.scheme.lower()
    if scheme in _SECURE_SCHEMES:
        return None
    if scheme in _PLAIN_SCHEMES:
        if _is_loopback(host):
            return (f"{url!r} uses plain {scheme} on a loopback host; plain http is only for "
                    "local development, declare the https server shared stages use")
        return (f"{url!r} uses plain {scheme}: tokens and data would cross the network "
                "unencrypted")
    if not scheme or url.strip().startswith("//"):
        return (f"relative server URL {url!r} cannot prove HTTPS: it is resolved against "
                "wherever the document is served from; declare an absolute https:// URL")
    return f"{url!r} uses the scheme {scheme!r}, not https"


@spec_rule("TRN-HTTPS-ONLY")
def https_only(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """Every server URL (2.0: scheme) is https or wss; relative or undeclared fails closed."""
    rule = "TRN-HTTPS-ONLY"
    if not index.servers:
        if index.is_swagger2:
            return [_fail(rule, "The document declares neither `schemes` nor `host`, so clients "
                                "use whatever served the document and HTTPS cannot be proven. "
                                "Declare https servers: `schemes: [https]` and `host`.")]
        return [_fail(rule, "The document declares no servers: the default server is the "
                            "relative `/`, so HTTPS cannot be proven. Declare https servers, "
                            "e.g. `servers: [{url: 'https://api.example.com'}]`.")]
    findings: list[Finding] = []
    if not index.is_swagger2 and not any(s.level == "root" for s in index.servers):
        findings.append(_fail(rule, "The document declares no root-level `servers`; every "
                                    "operation without its own servers uses the relative "
                                    "default `/`, which cannot prove HTTPS. Declare https "
                                    "servers at the root."))
    seen: set[str] = set()
    for server in index.servers:
        if server.pointer in seen:
            continue
        seen.add(server.pointer)
        if server.swagger:
            problem = _swagger_scheme_problem(index, server.scheme, server.url)
        elif not isinstance(server.url, str):
            problem = "the server `url` is missing or not a string"
        else:
            problem = _server_problem(server.url, server.variables)
        if problem:
            findings.append(_fail(rule, problem, server.url_pointer))
    if findings:
        return findings
    return [_pass(rule, f"All {len(seen)} declared server(s) use https.")]


def _server_problem(url: str, variables: Mapping[str, Any]) -> str | None:
    urls, problem = _expand_url(url, variables)
    if problem:
        return f"Server URL {url!r} cannot be checked: {problem}; HTTPS cannot be proven."
    bad = [p for p in (_url_problem(u) for u in urls) if p]
    if not bad:
        return None
    if urls != [url]:
        return f"Server URL {url!r} can expand to a non-https URL: " + "; ".join(bad) + "."
    return f"Server URL {bad[0]}."


def _swagger_scheme_problem(index: SpecIndex, scheme: str | None, url: str) -> str | None:
    if scheme is None:
        return ("The Swagger 2.0 document declares no `schemes`: clients use the scheme the "
                "document was fetched with, so HTTPS cannot be proven. Declare "
                "`schemes: [https]`.")
    if scheme.lower() in _SECURE_SCHEMES:
        return None
    host = index.document.data.get("host")
    hostname = host.rsplit(":", 1)[0] if isinstance(host, str) else None
    if scheme.lower() in _PLAIN_SCHEMES:
        if _is_loopback(hostname):
            return (f"`schemes` lists {scheme!r} for the loopback host {host!r}; plain http is "
                    "only for local development, declare `schemes: [https]`.")
        return (f"`schemes` lists {scheme!r} ({url}): tokens and data would cross the network "
                "unencrypted. Use `schemes: [https]` only.")
    return f"`schemes` lists {scheme!r}, which is not https."


# -------------------------------------------------------------------- TRN-BEARER-HEADER
@spec_rule("TRN-BEARER-HEADER")
def bearer_header(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """A bearer scheme exists and every secured operation requires it; no apiKey in the query
    string or a cookie is used."""
    rule = "TRN-BEARER-HEADER"
    bearer = {s.name for s in bearer_schemes(index)}
    findings: list[Finding] = []
    if not bearer:
        how = ("`type: apiKey, in: header, name: Authorization`" if index.is_swagger2
               else "`type: http, scheme: bearer`")
        findings.append(_fail(
            rule, f"No bearer security scheme is declared ({how}), so access tokens have no "
                  "declared place in the Authorization header.",
            index.security_schemes_pointer))
    url_keys: dict[str, list[Operation]] = {}
    # one finding per distinct alternative without bearer, not one per operation
    missing: dict[frozenset[str], tuple[str, list[Operation]]] = {}
    secured = 0
    for op in index.api_operations:
        reqs = _requirements(op)
        if reqs:
            secured += 1
        for i, req in reqs:
            for name in req:
                scheme = index.security_schemes.get(name)
                if (scheme is not None and scheme.type == "apiKey"
                        and scheme.data.get("in") in ("query", "cookie")):
                    users = url_keys.setdefault(name, [])
                    if not users or users[-1] is not op:
                        users.append(op)
            defined = all(name in index.security_schemes for name in req)
            # an undefined scheme is SPEC-OPERATIONS-SECURED's finding; don't report it twice
            if bearer and defined and not bearer.intersection(req):
                pointer = jp.child(op.security_pointer or op.pointer, i)
                missing.setdefault(frozenset(req), (pointer, []))[1].append(op)
    for names, (pointer, ops) in missing.items():
        alternative = "{" + ", ".join(sorted(names)) + "}"
        used_by = _op_label(ops[0]) + (f" and {len(ops) - 1} more operation(s)"
                                       if len(ops) > 1 else "")
        findings.append(_fail(
            rule, f"The security alternative {alternative} (used by {used_by}) does not include "
                  f"the bearer scheme ({', '.join(sorted(bearer))}), so a client can call it "
                  "without an Authorization bearer token.",
            pointer))
    for name, ops in url_keys.items():
        scheme = index.security_schemes[name]
        place = scheme.data.get("in")
        findings.append(_fail(
            rule, f"The apiKey security scheme `{name}` sends the credential in the {place} "
                  f"(`{scheme.data.get('name')}`) and is used by {_op_label(ops[0])}"
                  + (f" and {len(ops) - 1} more operation(s)" if len(ops) > 1 else "")
                  + "; credentials belong in the Authorization header only.",
            scheme.pointer))
    if findings:
        return findings
    return [_pass(rule, f"All {secured} secured operation(s) require the bearer scheme "
                        f"({', '.join(sorted(bearer))}).")]


# ------------------------------------------------------------------ TRN-NO-TOKEN-IN-URL
#: credential parameter names, lower case with ``-``, ``_``, ``.`` and spaces removed
CREDENTIAL_NAMES = frozenset({
    "accesstoken", "token", "jwt", "idtoken", "auth", "authorization", "apikey", "bearer",
    "refreshtoken", "clientsecret", "password",
})
_URL_LOCATIONS = frozenset({"query", "path", "querystring"})
#: a compact JWS (3 segments) or JWE (5 segments): base64url JSON header ``{"`` = ``eyJ``
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")


def is_credential_name(name: str) -> bool:
    """True for ``access_token``, ``Access-Token``, ``accessToken``, ``API_KEY`` …"""
    return re.sub(r"[-_.\s]", "", name.lower()) in CREDENTIAL_NAMES


def _jwt_strings(
    index: SpecIndex, node: Any, pointer: str, seen: set[str]
) -> Iterator[tuple[str, str]]:
    """``(pointer, value)`` of every JWT-shaped string in ``node``, following local refs."""
    stack = [(node, pointer)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if JWT_SHAPE.search(value):
                yield where, value
        elif isinstance(value, dict):
            if "$ref" in value:
                target, target_pointer = index.deref(value)
                if target_pointer is not None and target_pointer not in seen:
                    seen.add(target_pointer)
                    stack.append((target, target_pointer))
            stack.extend((v, jp.child(where, k)) for k, v in value.items() if k != "$ref")
        elif isinstance(value, list):
            stack.extend((v, jp.child(where, i)) for i, v in enumerate(value))


def _clip_token(value: str) -> str:
    match = JWT_SHAPE.search(value)
    token = match.group(0) if match else value
    return token[:16] + "…"


@spec_rule("TRN-NO-TOKEN-IN-URL")
def no_token_in_url(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """No credential-named query/path parameter; no JWT in server URLs or parameter examples."""
    rule = "TRN-NO-TOKEN-IN-URL"
    findings: list[Finding] = []
    seen: set[str] = set()
    for op in index.operations:
        for param in op.parameters:
            if param.location not in _URL_LOCATIONS or param.pointer in seen:
                continue
            seen.add(param.pointer)
            if is_credential_name(param.name):
                findings.append(_fail(
                    rule, f"The {param.location} parameter `{param.name}` ({_op_label(op)}) "
                          "carries a credential in the URL, where logs, browser history and "
                          "Referer headers keep it. Send tokens in the Authorization header.",
                    jp.child(param.pointer, "name")))
            for where, value in _jwt_strings(index, param.data, param.pointer, seen):
                findings.append(_fail(
                    rule, f"The {param.location} parameter `{param.name}` ({_op_label(op)}) "
                          f"has a JWT-shaped value ({_clip_token(value)}) in its examples; "
                          "a token in a URL leaks, and a real one must be revoked.",
                    where))
    url_sources: list[tuple[Any, str]] = []
    if index.is_swagger2:
        url_sources += [(doc.data.get(k), f"/{k}") for k in ("host", "basePath")]
    else:
        url_sources += [
            ({"url": s.url, "variables": s.variables}, s.pointer)
            for s in index.servers
        ]
    for node, pointer in url_sources:
        for where, value in _jwt_strings(index, node, pointer, seen):
            findings.append(_fail(
                rule, f"A server URL holds a JWT-shaped value ({_clip_token(value)}); tokens "
                      "must never be part of a URL.", where))
    if findings:
        return findings
    return [_pass(rule, "No credential-named query or path parameter and no JWT in URLs or "
                        "query-parameter examples.")]


# --------------------------------------------------------------- SPEC-OPERATIONS-SECURED
@spec_rule("SPEC-OPERATIONS-SECURED")
def operations_secured(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """One ``fail`` per operation without effective, non-optional, defined security."""
    rule = "SPEC-OPERATIONS-SECURED"
    findings: list[Finding] = []
    operations = index.api_operations
    for op in operations:
        problems, pointer = _security_problems(op, index)
        if problems:
            inherited = " (global `security`)" if op.security_source == "global" else ""
            findings.append(_fail(
                rule, f"{_op_label(op)}{inherited}: " + "; ".join(problems) + ".",
                op.pointer if op.security_source == "global" else pointer))
    if findings:
        return findings
    if not operations:
        return [_pass(rule, "The document declares no operations.")]
    return [_pass(rule, f"All {len(operations)} operation(s) require authentication with "
                        "defined security schemes.")]


def _security_problems(op: Operation, index: SpecIndex) -> tuple[list[str], str]:
    security = op.security
    sec_pointer = op.security_pointer or op.pointer
    if op.security_source == "none":
        return ["no security requirement: neither the operation nor the document declares "
                "`security`, so it is public"], op.pointer
    if not isinstance(security, list):
        return ["`security` must be a list of security requirement objects"], sec_pointer
    if not security:
        return ["`security: []` switches authentication off, so it is public"], sec_pointer
    problems: list[str] = []
    first: str | None = None
    for i, req in enumerate(security):
        where = jp.child(sec_pointer, i)
        if not isinstance(req, dict):
            problems.append(f"security requirement {i + 1} is not an object")
        elif not req:
            problems.append(f"security alternative {i + 1} is `{{}}`, which makes "
                            "authentication optional")
        else:
            undefined = [name for name in req if name not in index.security_schemes]
            if undefined:
                problems.append(
                    "security requirement names the undefined security scheme(s) "
                    + ", ".join(f"`{n}`" for n in undefined))
                where = jp.child(where, undefined[0])
            else:
                continue
        first = first or where
    return problems, first or sec_pointer


# -------------------------------------------------------------------- SPEC-TOKEN-PROFILE
PROFILE_KEY = "x-token-encryption"

_ALGORITHM_FIELDS: tuple[tuple[str, Mapping[str, algorithms.AlgorithmPolicy], str], ...] = (
    ("alg", algorithms.JWE_ALG, "JWE key management algorithm"),
    ("enc", algorithms.JWE_ENC, "JWE content encryption"),
    ("signing-alg", algorithms.JWS_ALG, "inner JWS signing algorithm"),
)
_URL_FIELDS = ("issuer", "audience", "jwks-uri")


def declared_profile(index: SpecIndex) -> dict[str, Any] | None:
    """The first bearer scheme's ``x-token-encryption`` mapping (a copy), or ``None`` when
    no bearer scheme declares one.  What later evidence is checked against."""
    for scheme in bearer_schemes(index):
        ext = scheme.data.get(PROFILE_KEY)
        if isinstance(ext, Mapping):
            return dict(ext)
    return None


@spec_rule("SPEC-TOKEN-PROFILE")
def token_profile(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """Every bearer scheme declares an ``x-token-encryption`` profile within the allow lists."""
    rule = "SPEC-TOKEN-PROFILE"
    schemes = bearer_schemes(index)
    if not schemes:
        return [_fail(rule, "No bearer security scheme is declared, so there is nowhere to "
                            f"declare the `{PROFILE_KEY}` token profile (see TRN-BEARER-HEADER).",
                      index.security_schemes_pointer)]
    findings: list[Finding] = []
    summaries = []
    for scheme in schemes:
        profile = scheme.data.get(PROFILE_KEY)
        pointer = jp.child(scheme.pointer, PROFILE_KEY)
        if profile is None:
            findings.append(_fail(
                rule, f"The bearer security scheme `{scheme.name}` declares no `{PROFILE_KEY}`, "
                      "so nothing says its access tokens are encrypted (nested JWS in JWE) "
                      "or with which algorithms.", scheme.pointer))
        elif not isinstance(profile, dict):
            findings.append(_fail(
                rule, f"`{PROFILE_KEY}` of `{scheme.name}` must be a mapping with alg, enc, "
                      "signing-alg and max-lifetime.", pointer))
        else:
            problems = list(_profile_problems(scheme.name, profile, pointer))
            findings += problems
            summaries.append(
                f"`{scheme.name}`: JWE {profile.get('alg')} / {profile.get('enc')}, "
                f"signed {profile.get('signing-alg')}, at most {profile.get('max-lifetime')} s")
    if findings:
        return findings
    return [_pass(rule, "Token profile declared: " + "; ".join(summaries) + ".")]


def _profile_problems(name: str, profile: Mapping[str, Any], pointer: str) -> Iterator[Finding]:
    rule = "SPEC-TOKEN-PROFILE"
    for key, table, label in _ALGORITHM_FIELDS:
        allowed = ", ".join(algorithms.allowed_values(table))
        if key not in profile:
            yield _fail(rule, f"`{PROFILE_KEY}` of `{name}` has no `{key}` ({label}); "
                              f"allowed: {allowed}.", pointer)
            continue
        value = profile[key]
        policy = algorithms.classify(table, value)
        if policy.verdict is algorithms.Verdict.ALLOW:
            continue
        where = jp.child(pointer, key)
        if policy.verdict is algorithms.Verdict.WARN:
            text = f"`{key}: {value}` is allowed, but {policy.reason}."
        elif policy.verdict is algorithms.Verdict.CONDITIONAL:
            text = f"`{key}: {value}` is allowed only with care: {policy.reason}."
        else:
            text = f"`{key}: {value}` ({label}) is not allowed: {policy.reason}. " \
                   f"Allowed: {allowed}."
        yield _fail(rule, f"`{PROFILE_KEY}` of `{name}`: {text}", where, policy.severity)
    yield from _lifetime_problems(name, profile, pointer)
    for key in _URL_FIELDS:
        if key not in profile:
            continue
        values = profile[key] if isinstance(profile[key], list) else [profile[key]]
        for value in values:
            if not _is_https_url(value):
                yield _fail(rule, f"`{PROFILE_KEY}` of `{name}`: `{key}` must be an absolute "
                                  f"https URL, not {value!r}.", jp.child(pointer, key))
                break


def _lifetime_problems(
    name: str, profile: Mapping[str, Any], pointer: str
) -> Iterator[Finding]:
    rule = "SPEC-TOKEN-PROFILE"
    maximum = algorithms.MAX_TOKEN_LIFETIME
    recommended = algorithms.RECOMMENDED_TOKEN_LIFETIME
    where = jp.child(pointer, "max-lifetime")
    if "max-lifetime" not in profile:
        yield _fail(rule, f"`{PROFILE_KEY}` of `{name}` has no `max-lifetime` (seconds between "
                          f"iat and exp, at most {maximum}).", pointer)
        return
    value = profile["max-lifetime"]
    if not isinstance(value, int) or isinstance(value, bool):
        yield _fail(rule, f"`{PROFILE_KEY}` of `{name}`: `max-lifetime` must be a whole number "
                          f"of seconds (1..{maximum}), not {value!r}.", where)
    elif not 1 <= value <= maximum:
        yield _fail(rule, f"`{PROFILE_KEY}` of `{name}`: `max-lifetime: {value}` is outside "
                          f"1..{maximum} seconds (policy maximum; RFC 6819 §5.1.5.3).", where)
    elif value > recommended:
        yield _fail(rule, f"`{PROFILE_KEY}` of `{name}`: `max-lifetime: {value}` is allowed, "
                          f"but at most {recommended} s is recommended for bearer tokens that "
                          "are not sender-constrained (RFC 9700 §2.2.1).", where, Severity.LOW)


def _is_https_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        return parts.scheme == "https" and bool(parts.hostname)
    except ValueError:
        return False
