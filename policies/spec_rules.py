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
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

from policies import algorithms, credentials
from policies.findings import Finding, Status
from policies.rules import Evidence, Severity, get_rule
from specs import LoadLimits, SpecLoadError, load_document
from specs import pointer as jp
from specs.document import SpecDocument
from specs.index import (
    Operation,
    Parameter,
    PathItemPiece,
    SecurityScheme,
    Server,
    SpecIndex,
)
from specs.memo import Reuse
from specs.validate import ValidationIssue, external_refs
from specs.wording import plural

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


def build_index(doc: SpecDocument, *, reuse: Reuse | None = None) -> SpecIndex | str:
    """The document's :class:`SpecIndex`, or the reason it could not be built (never
    raises: a broken document must not stop the rules from reporting).

    :param reuse: the previous revision's results (:class:`specs.memo.Reuse`): unchanged
        path items are indexed from there; the index is the same without it (should
        reusing fail, the index is built without).
    """
    try:
        return SpecIndex(doc, reuse)
    except Exception as exc:  # noqa: BLE001 - fail closed, reported per rule
        return build_index(doc) if reuse is not None else _describe(exc)


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
    """The findings of one spec rule, with any exception turned into an ``error`` finding
    (a rule that fails while reusing the previous revision's results runs again on an index
    built without them: reusing costs time, never the answer)."""
    try:
        found = SPEC_RULES[rule_id](doc, index, issues)
    except Exception as exc:  # noqa: BLE001 - a rule bug must never pass a gate or crash
        if index.reuse is not None:
            return evaluate_one(rule_id, doc, SpecIndex(doc), issues)
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
    """True for a scheme that is literally an ``Authorization: Bearer`` header.

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


#: scheme types whose access tokens travel as ``Authorization: Bearer`` (RFC 6750 §2.1):
#: OAuth 2.0 (RFC 6749 §7.1 with RFC 6750) and OpenID Connect (Core 1.0 §16.7, 3.x only)
TOKEN_SCHEME_TYPES = frozenset({"oauth2", "openIdConnect"})


def is_token_scheme(scheme: SecurityScheme, swagger2: bool) -> bool:
    """True for a token-bearing scheme: a bearer scheme (:func:`is_bearer_scheme`) or an
    ``oauth2`` / ``openIdConnect`` scheme, whose access tokens are sent as
    ``Authorization: Bearer`` (RFC 6750 §2.1).  These are the schemes that may declare
    ``x-token-encryption``."""
    if is_bearer_scheme(scheme, swagger2):
        return True
    kind = scheme.type
    return kind == "oauth2" or (kind == "openIdConnect" and not swagger2)


def bearer_schemes(index: SpecIndex) -> list[SecurityScheme]:
    """The token-bearing schemes of ``index`` (:func:`is_token_scheme`) in declaration
    order: what TRN-BEARER-HEADER requires and where ``x-token-encryption`` is read."""
    return [s for s in index.security_schemes.values() if is_token_scheme(s, index.is_swagger2)]


def is_basic_scheme(scheme: SecurityScheme, swagger2: bool) -> bool:
    """True for HTTP Basic: 3.x ``type: http, scheme: basic`` (RFC 7617), 2.0 ``type: basic``."""
    if swagger2:
        return scheme.type == "basic"
    kind = scheme.data.get("scheme")
    return scheme.type == "http" and isinstance(kind, str) and kind.lower() == "basic"


def _unresolved_findings(rule: str, index: SpecIndex, *, parameters: bool = False
                         ) -> list[Finding]:
    """One ``error`` per path item / operation (and, with ``parameters``, parameter) of
    ``paths`` whose definition is not in the document: it was never seen, so it cannot be
    counted as compliant (fail closed)."""
    found = []
    hidden = len(index.unresolved_api_operations)
    total = hidden + len(index.api_operations)
    for item in index.unresolved:
        if item.webhook or (item.kind == "parameter" and not parameters):
            continue
        if item.kind == "path-item":
            what = f"Path item {item.path}"
        elif item.kind == "operation":
            what = f"Operation {(item.method or '').upper()} {item.path}"
        else:
            what = "A parameter of " + (f"{item.method.upper()} {item.path}" if item.method
                                        else f"path item {item.path}")
        if item.external:
            where = item.ref.split("#", 1)[0] or item.ref
            why = f"defined in {where}, which Stagegate does not fetch"
        else:
            why = f"its $ref {item.ref!r} does not resolve inside the document"
        found.append(_finding(
            rule, Status.ERROR,
            f"{what} cannot be evaluated: {why}. Bundle it into the document ({hidden} of "
            f"{total} path items and operations under `paths` are not in the document).",
            jp.child(item.pointer, "$ref")))
    return found


def _requirements(op: Operation) -> list[tuple[int, dict[str, Any]]]:
    """The non-empty requirement objects of an operation's effective security."""
    if not isinstance(op.security, list):
        return []
    return [(i, r) for i, r in enumerate(op.security) if isinstance(r, dict) and r]


#: marks a read-only operation as intentionally public; the value says why (Redocly's
#: "intentionally public" `security: []`, with the reason required and reads only)
PUBLIC_KEY = "x-stagegate-public"
#: methods that may be public: safe methods (RFC 9110 §9.2.1) that return what anyone may read
PUBLIC_METHODS = frozenset({"get", "head"})


def public_reason(op: Operation) -> str | None:
    """Why ``op`` is intentionally public, or ``None``: a GET or HEAD operation with
    ``security: []`` and a non-empty ``x-stagegate-public`` text (e.g. a JWKS endpoint,
    whose keys exist to be published)."""
    reason = op.data.get(PUBLIC_KEY)
    if (op.method in PUBLIC_METHODS and op.security == [] and isinstance(reason, str)
            and reason.strip()):
        return reason.strip()
    return None


def token_endpoint_paths(index: SpecIndex) -> frozenset[str]:
    """URL paths of the OAuth 2.0 token endpoints the document declares (the path of every
    oauth2 flow's ``tokenUrl``; 2.0: the scheme's ``tokenUrl``), without a trailing ``/``."""
    found: set[str] = set()
    for scheme in index.security_schemes.values():
        if scheme.type != "oauth2":
            continue
        declared = scheme.data.get("flows")
        if index.is_swagger2:
            flows = [scheme.data]
        elif isinstance(declared, dict):
            flows = [flow for flow in declared.values() if isinstance(flow, dict)]
        else:
            flows = []
        for flow in flows:
            url = flow.get("tokenUrl")
            if isinstance(url, str) and url:
                found.add(urlsplit(url).path.rstrip("/") or "/")
    return frozenset(found)


def _server_bases(index: SpecIndex) -> frozenset[str]:
    """The URL paths of every server of ``index`` without a trailing ``/`` (``{""}`` when
    there is none): where :class:`_TokenEndpoints` looks for a token endpoint."""
    return frozenset({urlsplit(server.url).path.rstrip("/") for server in index.servers}
                     or {""})


def _at_token_endpoint(op: Operation, bases: frozenset[str], paths: frozenset[str]) -> bool:
    return any(f"{base}{op.path}".rstrip("/") in paths for base in bases)


class _TokenEndpoints:
    """Whether an operation of one index is a POST to a declared OAuth 2.0 token endpoint
    (:func:`token_endpoint_paths`): the operation's path under one of the document's
    servers is a flow's ``tokenUrl``.  Clients authenticate there with their own credentials
    (RFC 6749 §2.3, §3.2), not with the bearer token they come to obtain.  The server bases
    are worked out once, when first needed (so a failure is raised by the first check that
    needs them).

    :ivar context: what the answers depend on besides the operation, for
        :meth:`SpecIndex.context`: the token endpoint paths and, when there are any, the
        server bases (an object equal to nothing when they cannot be worked out).
    """

    def __init__(self, index: SpecIndex) -> None:
        self._index = index
        self.paths = token_endpoint_paths(index)
        self._bases: frozenset[str] | None = None
        context: Any = None
        if self.paths:
            try:
                context = _server_bases(index)
            except Exception:  # noqa: BLE001 - raised again by the check that needs them
                context = object()
        self.context = (self.paths, context)

    def __call__(self, op: Operation) -> bool:
        if op.method != "post" or op.webhook or not self.paths:
            return False
        if self._bases is None:
            self._bases = _server_bases(self._index)
        return _at_token_endpoint(op, self._bases, self.paths)


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
    note = (f" (checked without its {plural(external, 'external reference')}; see "
            "SPEC-NO-EXTERNAL-REF)"
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
    # a JSON document never shares objects: the memo's results by subtree apply (and the
    # validation of this very document has usually kept them already)
    parts = index.reuse if doc.format == "json" else None
    refs: dict[str | None, str | None] = dict(external_refs(doc, parts))
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
    root = _https_part(index, index.root_servers)
    # a path item's servers are checked once per piece (the 2.0 host it reads is part of
    # the piece's own context): nothing else is read
    parts = [root, *(index.piece_result(piece, rule, None,
                                        lambda p: _https_part(index, p.servers))
                     for piece in index.pieces)]
    for pointers, failed in parts:
        for pointer, finding in failed:
            if pointer not in seen:
                findings.append(finding)
        seen.update(pointers)
    if findings:
        return findings
    return [_pass(rule, f"{_all(len(seen), 'declared server', 'use')} https.")]


def _https_part(index: SpecIndex, servers: Sequence[Server]
                ) -> tuple[tuple[str, ...], tuple[tuple[str, Finding], ...]]:
    """TRN-HTTPS-ONLY for ``servers``: their distinct pointers, in order, and the
    ``(pointer, finding)`` of each that fails (the first server of each pointer counts)."""
    seen: dict[str, None] = {}
    failed = []
    for server in servers:
        if server.pointer in seen:
            continue
        seen[server.pointer] = None
        if server.swagger:
            problem = _swagger_scheme_problem(index, server.scheme, server.url)
        elif not isinstance(server.url, str):
            problem = "the server `url` is missing or not a string"
        else:
            problem = _server_problem(server.url, server.variables)
        if problem:
            failed.append((server.pointer, _fail("TRN-HTTPS-ONLY", problem, server.url_pointer)))
    return tuple(seen), tuple(failed)


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
    """A token-bearing scheme (http bearer, oauth2, openIdConnect; RFC 6750 §2.1) exists and
    every secured operation requires it; no apiKey in the query string or a cookie is used.

    ``not-applicable`` when the document has no operations under ``paths`` (webhooks only);
    one ``error`` per path item or operation defined outside the document.
    """
    rule = "TRN-BEARER-HEADER"
    unseen = _unresolved_findings(rule, index)
    if not index.api_operations and not unseen:
        return [_finding(rule, Status.NOT_APPLICABLE,
                         "The document declares no operations under `paths` (webhooks are "
                         "requests the API sends), so there is no request to carry a token.")]
    bearer = {s.name for s in bearer_schemes(index)}
    findings: list[Finding] = []
    if not bearer:
        how = ("`type: apiKey, in: header, name: Authorization` or `type: oauth2`"
               if index.is_swagger2
               else "`type: http, scheme: bearer`, `type: oauth2` or `type: openIdConnect`")
        findings.append(_fail(
            rule, f"No token-bearing security scheme is declared ({how}), so access tokens "
                  "have no declared place in the Authorization header.",
            _schemes_place(index)))
    url_keys: dict[str, list[Operation]] = {}
    # one finding per distinct alternative without bearer, not one per operation
    missing: dict[frozenset[str], tuple[str, list[Operation]]] = {}
    secured = 0
    endpoints = _TokenEndpoints(index)
    in_url = frozenset(
        name for name, scheme in index.security_schemes.items()
        if scheme.type == "apiKey" and scheme.data.get("in") in ("query", "cookie"))
    context = index.context(rule, (frozenset(bearer), frozenset(index.security_schemes),
                                   in_url, endpoints.context))
    for piece in index.pieces:
        if piece.webhook:
            continue
        count, events = index.piece_result(
            piece, rule, context, lambda p: _bearer_part(p, index, bearer, in_url, endpoints))
        secured += count
        for names, pointer, op in events:
            if pointer is None:  # an apiKey scheme in the URL: ``names`` is its name
                users = url_keys.setdefault(names, [])
                if not users or users[-1] is not op:
                    users.append(op)
            else:
                missing.setdefault(names, (pointer, []))[1].append(op)
    for names, (pointer, ops) in missing.items():
        alternative = "{" + ", ".join(sorted(names)) + "}"
        findings.append(_fail(
            rule, f"The security alternative {alternative} (used by {_used_by(ops)}) does not "
                  f"include a token-bearing scheme ({', '.join(sorted(bearer))}), so a client "
                  "can call it without an Authorization bearer token.",
            pointer))
    for name, ops in url_keys.items():
        scheme = index.security_schemes[name]
        place = scheme.data.get("in")
        findings.append(_fail(
            rule, f"The apiKey security scheme `{name}` sends the credential in the {place} "
                  f"(`{scheme.data.get('name')}`) and is used by {_used_by(ops)}; credentials "
                  "belong in the Authorization header only.",
            scheme.pointer))
    findings += unseen
    if findings:
        return findings
    return [_pass(rule, f"{_all(secured, 'secured operation', 'require')} a token-bearing scheme "
                        f"({', '.join(sorted(bearer))}).")]


def _bearer_part(piece: PathItemPiece, index: SpecIndex, bearer: set[str],
                 in_url: frozenset[str], endpoints: _TokenEndpoints
                 ) -> tuple[int, tuple[tuple[Any, str | None, Operation], ...]]:
    """TRN-BEARER-HEADER for the operations of ``piece``: how many are secured, and in
    order ``(scheme name, None, op)`` for each use of an apiKey scheme ``in_url`` and
    ``(names of an alternative without a bearer scheme, its pointer, op)``."""
    secured = 0
    events: list[tuple[Any, str | None, Operation]] = []
    for op in piece.operations:
        reqs = _requirements(op)
        if reqs:
            secured += 1
        if endpoints(op):
            continue  # client authentication (RFC 6749 §2.3): no bearer token exists yet
        for i, req in reqs:
            events += [(name, None, op) for name in req if name in in_url]
            defined = all(name in index.security_schemes for name in req)
            # an undefined scheme is SPEC-OPERATIONS-SECURED's finding; don't report it twice
            if bearer and defined and not bearer.intersection(req):
                pointer = jp.child(op.security_pointer or op.pointer, i)
                events.append((frozenset(req), pointer, op))
    return secured, tuple(events)


def _schemes_place(index: SpecIndex) -> str:
    """Where security schemes are (or would be) declared: ``/components/securitySchemes`` /
    ``/securityDefinitions``, else ``/components``, else the document root (line 1), so a
    finding about a missing scheme always has a location."""
    if index.security_schemes_pointer is not None:
        return index.security_schemes_pointer
    if not index.is_swagger2 and isinstance(index.document.data.get("components"), dict):
        return "/components"
    return ""


def _all(count: int, noun: str, verb: str = "") -> str:
    """``"All 3 operations require"`` / ``"The one operation requires"`` (``verb`` in its
    plural form; none when empty)."""
    if count == 1:
        return f"The one {noun}" + (f" {verb}s" if verb else "")
    return f"All {plural(count, noun)}" + (f" {verb}" if verb else "")


def _used_by(ops: Sequence[Operation]) -> str:
    more = len(ops) - 1
    return _op_label(ops[0]) + (f" and {plural(more, 'more operation')}" if more else "")


# ------------------------------------------------------------------- TRN-OAUTH-GRANTS
#: OAuth 2.0 flows the Security BCP retires: key (3.x ``flows`` member / 2.0 ``flow`` value)
#: → (severity, why)
DEPRECATED_FLOWS: dict[str, tuple[Severity, str]] = {
    "implicit": (Severity.MEDIUM,
                 "the implicit grant returns the access token in the redirect URI, where it "
                 "leaks (browser history, Referer) and cannot be sender-constrained; "
                 "RFC 9700 §2.1.2: use the authorization code grant with PKCE"),
    "password": (Severity.HIGH,
                 "the resource owner password credentials grant hands the user's password to "
                 "the client; RFC 9700 §2.4: it MUST NOT be used"),
}


@spec_rule("TRN-OAUTH-GRANTS")
def oauth_grants(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """One ``fail`` per OAuth 2.0 implicit or password flow declared by an ``oauth2`` scheme
    (3.x ``flows.implicit`` / ``flows.password``; 2.0 ``flow: implicit|password``); implicit
    is ``medium`` (SHOULD NOT, RFC 9700 §2.1.2), password ``high`` (MUST NOT, §2.4)."""
    rule = "TRN-OAUTH-GRANTS"
    findings: list[Finding] = []
    oauth = [s for s in index.security_schemes.values() if s.type == "oauth2"]
    for scheme in oauth:
        if index.is_swagger2:
            flow = scheme.data.get("flow")
            flows = {flow: jp.child(scheme.pointer, "flow")} if isinstance(flow, str) else {}
        else:
            declared = scheme.data.get("flows")
            flows = ({k: jp.child(scheme.pointer, "flows", k) for k in declared}
                     if isinstance(declared, dict) else {})
        for flow_name, pointer in flows.items():
            if flow_name in DEPRECATED_FLOWS:
                severity, why = DEPRECATED_FLOWS[flow_name]
                findings.append(_fail(
                    rule, f"The oauth2 security scheme `{scheme.name}` declares the "
                          f"{flow_name} flow: {why}.", pointer, severity))
    if findings:
        return findings
    if not oauth:
        return [_pass(rule, "The document declares no oauth2 security scheme, so no implicit "
                            "or password flow.")]
    return [_pass(rule, f"{plural(len(oauth), 'oauth2 scheme')} declare"
                        f"{'s' if len(oauth) == 1 else ''} neither the implicit nor "
                        "the password flow.")]


# ------------------------------------------------------------------- TRN-NO-BASIC-AUTH
@spec_rule("TRN-NO-BASIC-AUTH")
def no_basic_auth(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """One ``fail`` per HTTP Basic scheme used in a security alternative of an operation
    (at the scheme, naming its users); a declared but unused Basic scheme passes."""
    rule = "TRN-NO-BASIC-AUTH"
    basic = {s.name for s in index.security_schemes.values()
             if is_basic_scheme(s, index.is_swagger2)}
    users: dict[str, list[Operation]] = {}
    endpoints = _TokenEndpoints(index)
    at_token_endpoint = False
    context = index.context(rule, (frozenset(basic), endpoints.context))
    for piece in index.pieces:
        if piece.webhook:
            continue
        at_endpoint, events = index.piece_result(
            piece, rule, context, lambda p: _basic_part(p, basic, endpoints))
        at_token_endpoint = at_token_endpoint or at_endpoint
        for name, op in events:
            ops = users.setdefault(name, [])
            if not ops or ops[-1] is not op:
                ops.append(op)
    findings = [
        _fail(rule, f"The HTTP Basic security scheme `{name}` is a credential alternative of "
                    f"{_used_by(ops)}: every request then carries the user's reusable "
                    "password (base64 is no protection, RFC 7617 §4). Require a short-lived "
                    "bearer token instead.", index.security_schemes[name].pointer)
        for name, ops in users.items()
    ]
    if findings:
        return findings
    if at_token_endpoint:
        return [_pass(rule, "HTTP Basic is used only for client authentication at the OAuth "
                            "2.0 token endpoint (RFC 6749 §2.3.1); no API operation accepts "
                            "it.")]
    return [_pass(rule, "No operation accepts HTTP Basic credentials.")]


def _basic_part(piece: PathItemPiece, basic: set[str], endpoints: _TokenEndpoints
                ) -> tuple[bool, tuple[tuple[str, Operation], ...]]:
    """TRN-NO-BASIC-AUTH for the operations of ``piece``: whether one at a token endpoint
    accepts Basic, and in order ``(Basic scheme name, op)`` for each use elsewhere."""
    at_token_endpoint = False
    events: list[tuple[str, Operation]] = []
    for op in piece.operations:
        if endpoints(op):
            at_token_endpoint = at_token_endpoint or any(
                basic.intersection(req) for _, req in _requirements(op))
            continue  # Basic is how OAuth 2.0 clients authenticate there (RFC 6749 §2.3.1)
        for _, req in _requirements(op):
            events += [(name, op) for name in basic.intersection(req)]
    return at_token_endpoint, tuple(events)


# ------------------------------------------------------------------ TRN-NO-TOKEN-IN-URL
_URL_LOCATIONS = frozenset({"query", "path", "querystring"})
#: a compact JWS (3 segments) or JWE (5 segments): base64url JSON header ``{"`` = ``eyJ``
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")

_SIGNALS = {
    "security-scheme": "it is the parameter of the {evidence}",
    "schema": "its schema says {evidence}",
    "description": "its description says \"{evidence}\"",
    "name": "its name reads \"{evidence}\"",
}


def is_credential_name(name: str, location: str = "query") -> bool:
    """True when the name alone marks a ``location`` parameter as a credential
    (``access_token``, ``Access-Token``, ``accessToken``, ``API_KEY``, ``key`` …; not
    ``page_token`` or ``tokenId``); see :func:`policies.credentials.classify_name`."""
    return credentials.classify_name(name, location) is True


class _Seen(Protocol):
    """The pointers TRN-NO-TOKEN-IN-URL has read (a ``set`` or a :class:`_LoggedSeen`)."""

    def __contains__(self, pointer: object) -> bool: ...

    def add(self, pointer: str) -> None: ...


#: ``(ref, target, target pointer)``: a ``$ref`` text and what :meth:`SpecIndex.deref` gave
Followed = list[tuple[str, Any, str | None]]


def _jwt_strings(
    index: SpecIndex, node: Any, pointer: str, seen: _Seen, followed: Followed | None = None
) -> Iterator[tuple[str, str]]:
    """``(pointer, value)`` of every JWT-shaped string in ``node``, following local refs
    (each target once: those in ``seen`` are skipped, those read are added).

    :param followed: when given, gets what each string ``$ref`` met led to (the result also
        depends on those targets: :meth:`_UrlTokenPart.replay`).
    """
    # (value, parent pointer, key): a value's pointer is built only when it is needed (a
    # container's children, a JWT-shaped string) — most values are plain strings
    stack: list[tuple[Any, str, str | int | None]] = [(node, pointer, None)]
    while stack:
        value, parent, key = stack.pop()
        if isinstance(value, str):
            if "eyJ" in value and JWT_SHAPE.search(value):  # the pattern's literal first
                yield (parent if key is None else jp.child(parent, key)), value
        elif isinstance(value, dict):
            where = parent if key is None else jp.child(parent, key)
            if "$ref" in value:
                target, target_pointer = index.deref(value)
                if followed is not None and isinstance(value["$ref"], str):
                    followed.append((value["$ref"], target, target_pointer))
                if target_pointer is not None and target_pointer not in seen:
                    seen.add(target_pointer)
                    stack.append((target, target_pointer, None))
            stack.extend((v, where, k) for k, v in value.items() if k != "$ref")
        elif isinstance(value, list):
            where = parent if key is None else jp.child(parent, key)
            stack.extend((v, where, i) for i, v in enumerate(value))


def _classified(index: SpecIndex, param: Parameter,
                schemes: Mapping[tuple[str, str], tuple[str, str]],
                schemes_key: tuple[Any, ...]) -> credentials.Classification | None:
    """:func:`policies.credentials.classify_parameter`, through ``index.reuse`` (a function
    of the parameter object, its pointer and the schemes, ``schemes_key`` their items)."""
    if index.reuse is None:
        return credentials.classify_parameter(param, schemes)
    return index.reuse.get("rules.credential", param.data, (param.pointer, schemes_key),
                           lambda: credentials.classify_parameter(param, schemes))


def _param_jwt_strings(index: SpecIndex, param: Parameter, seen: _Seen,
                       followed: Followed | None = None) -> list[tuple[str, str]]:
    """:func:`_jwt_strings` of a parameter; through ``index.reuse`` when the parameter
    holds no ``$ref`` it follows (then the result is a function of the parameter object and
    its pointer alone)."""
    if index.reuse is not None:
        kept = index.reuse.get("rules.param-jwt", param.data, param.pointer,
                               lambda: _plain_jwt_strings(index, param.data, param.pointer))
        if kept is not None:
            return kept
    return list(_jwt_strings(index, param.data, param.pointer, seen, followed))


def _plain_jwt_strings(index: SpecIndex, node: Any, pointer: str
                       ) -> list[tuple[str, str]] | None:
    """:func:`_jwt_strings` of ``node`` when it follows no ``$ref``, else ``None``."""
    followed: set[str] = set()
    found = list(_jwt_strings(index, node, pointer, followed))
    return None if followed else found


def _clip_token(value: str) -> str:
    match = JWT_SHAPE.search(value)
    token = match.group(0) if match else value
    return token[:16] + "…"


@spec_rule("TRN-NO-TOKEN-IN-URL")
def no_token_in_url(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """No query/path/cookie parameter classified as a credential
    (:func:`policies.credentials.classify_parameter`; each finding names the deciding signal
    and points at it), no apiKey scheme ``in: query``, no JWT in server URLs or parameter
    examples; one ``error`` per path item, operation or parameter defined outside the
    document."""
    rule = "TRN-NO-TOKEN-IN-URL"
    findings: list[Finding] = []
    seen: set[str] = set()
    schemes = credentials.scheme_parameters(index)
    schemes_key = index.context(rule, tuple(schemes.items()))
    for piece in index.pieces:
        # a piece's findings depend on the pointers read before it (``seen``): kept with the
        # questions it asked about them, and taken when every answer is the same
        findings += index.piece_result(
            piece, rule, schemes_key,
            lambda p: _url_token_part(index, p, schemes, schemes_key, seen),
            lambda part: part.replay(index, seen)).findings
    for scheme in index.security_schemes.values():
        if scheme.type == "apiKey" and scheme.data.get("in") == "query":
            findings.append(_fail(
                rule, f"The apiKey security scheme `{scheme.name}` sends its credential in the "
                      f"query parameter `{scheme.data.get('name')}`, i.e. in the URL "
                      "(RFC 6750 §2.3, RFC 9700 §4.3.2).", jp.child(scheme.pointer, "in")))
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
    findings += _unresolved_findings(rule, index, parameters=True)
    if findings:
        return findings
    return [_pass(rule, "No query, path or cookie parameter carries a credential and no JWT "
                        "is in URLs or query-parameter examples.")]


class _LoggedSeen:
    """The pointers already read (``seen``), noting what is asked and added."""

    __slots__ = ("added", "absent", "present", "seen")

    def __init__(self, seen: set[str]) -> None:
        self.seen = seen
        self.present: set[str] = set()  # asked, found, and not added here
        self.absent: set[str] = set()  # asked, not found
        self.added: set[str] = set()

    def __contains__(self, pointer: object) -> bool:
        key = cast(str, pointer)
        if key in self.added:
            return True
        answer = key in self.seen
        (self.present if answer else self.absent).add(key)
        return answer

    def add(self, pointer: str) -> None:
        self.seen.add(pointer)
        self.added.add(pointer)


class _UrlTokenPart:
    """TRN-NO-TOKEN-IN-URL's findings for one piece, and what they depend on besides the
    piece and the schemes: which pointers had been read before it (:class:`_LoggedSeen`)
    and where the ``$ref`` s met in its parameters' examples led (:data:`Followed`)."""

    __slots__ = ("absent", "added", "findings", "followed", "present")

    def __init__(self, logged: _LoggedSeen, findings: tuple[Finding, ...],
                 followed: Followed) -> None:
        self.present = frozenset(logged.present)
        self.absent = frozenset(logged.absent)
        self.added = frozenset(logged.added)
        self.findings = findings
        self.followed = tuple(followed)

    def replay(self, index: SpecIndex, seen: set[str]) -> bool:
        """Whether ``seen`` answers every question the piece asked as before and every
        ``$ref`` it met leads to the very same object (it would then read the same and find
        the same); if so, what it read is added to ``seen``."""
        for ref, target, pointer in self.followed:
            now, now_pointer = index.deref({"$ref": ref})
            if now is not target or now_pointer != pointer:
                return False
        if self.present <= seen and self.absent.isdisjoint(seen):
            seen |= self.added
            return True
        return False


def _url_token_part(index: SpecIndex, piece: PathItemPiece,
                    schemes: Mapping[tuple[str, str], tuple[str, str]],
                    schemes_key: tuple[Any, ...], seen: set[str]) -> _UrlTokenPart:
    """TRN-NO-TOKEN-IN-URL for the query, path and cookie parameters of ``piece``'s
    operations (each pointer read once: ``seen`` holds those read before, and gets these)."""
    logged = _LoggedSeen(seen)
    followed: Followed = []
    findings = []
    for op in piece.operations:
        for param in op.parameters:
            if param.location in credentials.CREDENTIAL_LOCATIONS and param.pointer not in logged:
                logged.add(param.pointer)
                findings += _url_token_findings(index, op, param, schemes, schemes_key, logged,
                                                followed)
    return _UrlTokenPart(logged, tuple(findings), followed)


def _url_token_findings(index: SpecIndex, op: Operation, param: Parameter,
                        schemes: Mapping[tuple[str, str], tuple[str, str]],
                        schemes_key: tuple[Any, ...], seen: _Seen,
                        followed: Followed | None = None) -> list[Finding]:
    """TRN-NO-TOKEN-IN-URL's findings for the query, path or cookie parameter ``param`` of
    ``op``: a credential, and JWT-shaped strings in its examples (``$ref`` targets in
    ``seen`` are not read again; those read are added; ``followed`` as for
    :func:`_jwt_strings`)."""
    rule = "TRN-NO-TOKEN-IN-URL"
    findings = []
    found = _classified(index, param, schemes, schemes_key)
    if found is not None:
        why = _SIGNALS[found.signal].format(evidence=found.evidence)
        if param.location == "cookie":
            risk = ("a credential in a cookie is sent automatically by browsers "
                    "(cross-site request forgery) and is no bearer header")
        else:
            risk = ("a credential in the URL is kept by logs, browser history and "
                    "Referer headers")
        # the scheme is reported on its own below; here blame the parameter
        where = (jp.child(param.pointer, "name") if found.signal == "security-scheme"
                 else found.pointer)
        findings.append(_fail(
            rule, f"The {param.location} parameter `{param.name}` ({_op_label(op)}) "
                  f"carries a credential ({found.signal}: {why}); {risk}. Send it in "
                  "the Authorization header.",
            where))
    if param.location not in _URL_LOCATIONS:
        return findings
    for where, value in _param_jwt_strings(index, param, seen, followed):
        findings.append(_fail(
            rule, f"The {param.location} parameter `{param.name}` ({_op_label(op)}) "
                  f"has a JWT-shaped value ({_clip_token(value)}) in its examples; "
                  "a token in a URL leaks, and a real one must be revoked.",
            where))
    return findings


# --------------------------------------------------------------- SPEC-OPERATIONS-SECURED
@spec_rule("SPEC-OPERATIONS-SECURED")
def operations_secured(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """One ``fail`` per operation without effective, non-optional, defined security, and one
    ``error`` per path item or operation defined outside the document (never fetched, so
    never counted as secured)."""
    rule = "SPEC-OPERATIONS-SECURED"
    findings: list[Finding] = []
    operations = index.api_operations
    public: list[str] = []
    # an operation's problems read the names of the security schemes, nothing else outside
    names = index.context(rule, frozenset(index.security_schemes))
    for piece in index.pieces:
        if not piece.webhook:
            failed, open_ = index.piece_result(piece, rule, names,
                                               lambda p: _secured_part(p, index))
            findings += failed
            public += open_
    findings += _unresolved_findings(rule, index)
    if findings:
        return findings
    if not operations:
        return [_pass(rule, "The document declares no operations.")]
    secured = len(operations) - len(public)
    message = (f"{_all(secured, 'operation')} that "
               f"{'is' if secured == 1 else 'are'} not intentionally public "
               f"require{'s' if secured == 1 else ''} "
               "authentication with defined security schemes.")
    if public:
        message += (f" Intentionally public (`{PUBLIC_KEY}`, read-only): "
                    + "; ".join(public) + ".")
    return [_pass(rule, message if public else
                  f"{_all(len(operations), 'operation', 'require')} authentication with defined "
                  "security schemes.")]


def _secured_part(piece: PathItemPiece, index: SpecIndex
                  ) -> tuple[tuple[Finding, ...], tuple[str, ...]]:
    """SPEC-OPERATIONS-SECURED for the operations of ``piece``: the failures, and the
    intentionally public operations (label and reason)."""
    rule = "SPEC-OPERATIONS-SECURED"
    findings = []
    public = []
    for op in piece.operations:
        reason = public_reason(op)
        if reason is not None:
            public.append(f"{_op_label(op)} ({reason})")
            continue
        problems, pointer = _security_problems(op, index)
        if problems:
            inherited = " (global `security`)" if op.security_source == "global" else ""
            findings.append(_fail(
                rule, f"{_op_label(op)}{inherited}: " + "; ".join(problems) + ".",
                op.pointer if op.security_source == "global" else pointer))
    return tuple(findings), tuple(public)


def _security_problems(op: Operation, index: SpecIndex) -> tuple[list[str], str]:
    security = op.security
    sec_pointer = op.security_pointer or op.pointer
    if op.security_source == "none":
        return ["no security requirement: neither the operation nor the document declares "
                "`security`, so it is public"], op.pointer
    if not isinstance(security, list):
        return ["`security` must be a list of security requirement objects"], sec_pointer
    if not security:
        if PUBLIC_KEY in op.data and op.method not in PUBLIC_METHODS:
            return [f"`security: []` switches authentication off; `{PUBLIC_KEY}` applies to "
                    "GET and HEAD only, and a write is never public"], sec_pointer
        return ["`security: []` switches authentication off, so it is public (a read-only "
                f"operation meant to be public says why in `{PUBLIC_KEY}`)"], sec_pointer
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
                    "security requirement names the undefined security scheme"
                    + ("s " if len(undefined) > 1 else " ")
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
    """The first token-bearing scheme's ``x-token-encryption`` mapping (a copy), or ``None``
    when none declares one.  Token-bearing: http bearer, oauth2 or openIdConnect
    (:func:`is_token_scheme`; their access tokens are bearer tokens, RFC 6750 §2.1).  What
    later evidence is checked against."""
    for scheme in bearer_schemes(index):
        ext = scheme.data.get(PROFILE_KEY)
        if isinstance(ext, Mapping):
            return dict(ext)
    return None


@spec_rule("SPEC-TOKEN-PROFILE")
def token_profile(
    doc: SpecDocument, index: SpecIndex, issues: Sequence[ValidationIssue]
) -> list[Finding]:
    """Every token-bearing scheme (http bearer, oauth2, openIdConnect) declares an
    ``x-token-encryption`` profile within the allow lists; ``not-applicable`` for a document
    without operations under ``paths`` and without such a scheme."""
    rule = "SPEC-TOKEN-PROFILE"
    schemes = bearer_schemes(index)
    if not schemes and not index.api_operations and not index.unresolved_api_operations:
        return [_finding(rule, Status.NOT_APPLICABLE,
                         "The document declares no operations under `paths` and no "
                         "token-bearing scheme, so there is no token profile to declare.")]
    if not schemes:
        return [_fail(rule, "No token-bearing security scheme is declared, so there is nowhere "
                            f"to declare the `{PROFILE_KEY}` token profile (see "
                            "TRN-BEARER-HEADER).",
                      _schemes_place(index))]
    findings: list[Finding] = []
    summaries = []
    for scheme in schemes:
        profile = scheme.data.get(PROFILE_KEY)
        pointer = jp.child(scheme.pointer, PROFILE_KEY)
        if profile is None:
            findings.append(_fail(
                rule, f"The token-bearing security scheme `{scheme.name}` declares no "
                      f"`{PROFILE_KEY}`, "
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


def extension_of(raw: bytes, limits: LoadLimits | None = None) -> dict[str, Any] | None:
    """The first bearer scheme's ``x-token-encryption`` mapping in a document's bytes, or
    ``None`` (unreadable document, no bearer scheme, no or ill-typed extension).  For the
    offline CLI; uploads store it with the revision."""
    try:
        return declared_profile(SpecIndex(load_document(raw, limits)))
    except (SpecLoadError, RecursionError, ValueError, TypeError):
        return None
