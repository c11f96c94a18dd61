"""Render a spec check and its gate decision for people (text) and machines (JSON, SARIF).

Used by ``stagegate check`` (and, for nginx configurations, ``stagegate gateway check``);
every function takes plain values and returns a ``str`` (text) or a JSON-ready ``dict``
(JSON, SARIF 2.1.0).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from policies.check import SpecCheck
from policies.findings import Finding
from policies.gate import GateDecision
from policies.rules import Rule, Severity, all_rules, for_document, get_rule, has_rule
from specs.wording import plural, readable_pointer

if TYPE_CHECKING:  # annotations only: `stagegate check` never imports crossplane (issue 10)
    from policies.gateway import GatewayCheck

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "stagegate"

#: SARIF ``level`` per severity (SARIF 2.1.0 §3.27.10)
SARIF_LEVELS = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
}
#: GitHub code scanning reads ``security-severity`` (0.0–10.0) from rule properties
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "2.0"
}

DEFAULT_PATH = "openapi"

#: SARIF ``uriBaseId`` (SARIF 2.1.0 §3.4.4) of the files ``stagegate check`` and ``stagegate
#: jwks check`` report on: their URIs are relative to it — the folder the command ran in,
#: usually the repository root in CI — and ``run.originalUriBaseIds`` says what it stands for.
SRCROOT = "SRCROOT"


def _key(f: Finding) -> tuple[str, str | None, str]:
    return (f.rule_id, f.pointer, f.message)


def _blocking_keys(decision: GateDecision) -> set[tuple[str, str | None, str]]:
    return {_key(f) for f in decision.blocking}


def _location(path: str, finding: Finding) -> str:
    """``file:line:col`` — the finding's own ``file`` (a file of a bundle) when it has one,
    else ``path``."""
    where = finding.file or path
    if finding.line is None:
        return where
    return f"{where}:{finding.line}:{finding.column or 1}"




def _enriched(finding: Finding, blocking: set[tuple[str, str | None, str]],
              openapi_version: str | None = None) -> dict[str, Any]:
    """``finding`` as JSON with its rule's title, remediation and sources (those of the
    document's ``openapi_version``: :func:`policies.rules.sources_for`), and whether it is
    one of the decision's ``blocking`` findings (keys from :func:`_blocking_keys`)."""
    data = finding.to_dict()
    if has_rule(finding.rule_id):
        data.update(_rule_dict(for_document(get_rule(finding.rule_id), openapi_version)))
    data["blocking"] = _key(finding) in blocking
    return data

def _how_to_fix(rule_id: str, explained: set[str],
                openapi_version: str | None = None) -> list[str]:
    """The remediation lines of ``rule_id``'s first finding in a text report (its rule's fix
    and source, for a document of ``openapi_version``), or a pointer back to them for later
    findings; ``explained`` collects the rule ids already explained."""
    rule = for_document(get_rule(rule_id), openapi_version) if has_rule(rule_id) else None
    if rule is None:
        return []
    if rule.id in explained:
        return [f"  How to fix: see {rule.id} above."]
    explained.add(rule.id)
    lines = ["  How to fix:", _indent(rule.remediation, "    ")]
    if rule.help_uri:
        lines.append(f"  Why: {rule.sources[0].label} <{rule.help_uri}>")
    return lines

def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


# ------------------------------------------------------------------------------ text
#: what ``stagegate check`` does not judge (the server's gate does), said after a PASS
NOT_JUDGED = ("Token and key evidence, the gateway proof and approvals are not judged here; "
              "the server's gate judges them before a promotion.")


def render_text(check: SpecCheck, decision: GateDecision, path: str = DEFAULT_PATH) -> str:
    """A verdict line — the document passes (or fails) *the spec rules* of the target
    stage's gate: evidence and approvals are not judged offline — then each blocking
    finding: severity, rule id, file:line:col, message, JSON pointer and remediation.  Ends
    with a newline."""
    doc = check.document
    what = f"{path} ({doc.format}, {_version_label(check)})"
    failed = [f for f in decision.findings if f.status.blocks]
    if decision.passed:
        lines = [f"PASS: {what} passes the spec rules of the {decision.target} gate "
                 f"(policy pack {decision.pack}).", NOT_JUDGED]
        if failed:
            lines.append(f"{plural(len(failed), 'non-blocking finding')} reported; use "
                         "--format json to see them.")
    else:
        lines = [f"BLOCKED: {what} fails the spec rules of the {decision.target} gate: "
                 f"{plural(len(decision.blocking), 'blocking finding')} "
                 f"(policy pack {decision.pack})."]
    explained: set[str] = set()
    for finding in decision.blocking:
        lines.append("")
        lines.append(f"{finding.severity.upper():8} {finding.rule_id}  "
                     f"{_location(path, finding)}")
        lines.append(_indent(finding.message, "  "))
        if finding.pointer:
            lines.append(f"  at {readable_pointer(finding.pointer)}  (JSON pointer "
                         f"{finding.pointer})")
        lines.extend(_how_to_fix(finding.rule_id, explained, doc.openapi_version))
    return "\n".join(lines) + "\n"


def _version_label(check: SpecCheck) -> str:
    doc = check.document
    if doc.openapi_version is None:
        return "no supported OpenAPI version"
    return f"Swagger {doc.openapi_version}" if doc.openapi_version == "2.0" else (
        f"OpenAPI {doc.declared_version or doc.openapi_version}")


# ------------------------------------------------------------------------------ JSON
def _rule_dict(rule: Rule) -> dict[str, Any]:
    return {
        "title": rule.title,
        "description": rule.description,
        "remediation": rule.remediation,
        "sources": [{"label": s.label, "url": s.url} for s in rule.sources],
    }


def render_json(
    check: SpecCheck, decision: GateDecision, path: str = DEFAULT_PATH
) -> dict[str, Any]:
    """``{"document", "decision", "findings", "issues"}`` as plain JSON values.

    ``findings`` are the gate's (the rules the stage applies, at the stage's severities,
    missing evidence included), each with its rule's title, remediation and sources and
    whether it blocks.
    """
    doc = check.document
    blocking = _blocking_keys(decision)
    version = doc.openapi_version

    return {
        "document": {
            "path": path,
            "format": doc.format,
            "declared_version": doc.declared_version,
            "openapi_version": doc.openapi_version,
            "sha256": doc.sha256,
            "bytes": len(doc.raw),
        },
        "decision": {
            "target": decision.target,
            "passed": decision.passed,
            "pack": decision.pack,
            "pack_sha256": decision.pack_sha256,
            "blocking": [_enriched(f, blocking, version) for f in decision.blocking],
        },
        "findings": [_enriched(f, blocking, version) for f in decision.findings],
        "issues": [issue.to_dict() for issue in check.issues],
    }


# ----------------------------------------------------------------------------- SARIF
def render_sarif(
    check: SpecCheck, decision: GateDecision, path: str = DEFAULT_PATH,
    base_uri: str | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run of the ``stagegate`` driver.

    Rules carry ``helpUri`` (first source) and help text (remediation); results are the
    findings that did not pass (``fail``, ``error``, ``missing-evidence``), with ``level``
    critical/high → ``error``, medium → ``warning``, low → ``note``, and a physical location
    in ``path`` (``region.startLine``/``startColumn``) when the finding has a line.

    :param path: the document's URI: relative (a percent-encoded path such as
        ``specs/api.yaml``) when ``base_uri`` is given, else as the user named it.
    :param base_uri: what :data:`SRCROOT` stands for (an absolute ``file:`` URI ending in
        ``/``): every relative artifact URI then carries ``uriBaseId`` ``SRCROOT`` and the run
        ``originalUriBaseIds`` (SARIF 2.1.0 §3.4.4, §3.14.14), so code-scanning tools place
        results in the repository whatever machine ran the check.
    """
    rules = all_rules()
    index = {rule.id: i for i, rule in enumerate(rules)}
    blocking = _blocking_keys(decision)
    results = [
        _sarif_result(f, index, path, _key(f) in blocking)
        for f in decision.findings
        if f.status.blocks
    ]
    run: dict[str, Any] = {
        "tool": {"driver": _sarif_driver(
            [for_document(rule, check.document.openapi_version) for rule in rules])},
        "artifacts": [{
            "location": {"uri": path},
            "length": len(check.document.raw),
            "hashes": {"sha-256": check.document.sha256},
        }],
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {
            "gate": {
                "target": decision.target,
                "passed": decision.passed,
                "pack": decision.pack,
                "pack_sha256": decision.pack_sha256,
            },
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION,
            "runs": [_based(run, base_uri)]}


def render_sarif_refusal(message: str, code: str, path: str = DEFAULT_PATH, *,
                         line: int | None = None, column: int | None = None,
                         base_uri: str | None = None, base_id: str = SRCROOT,
                         exit_code: int = 2) -> dict[str, Any]:
    """A SARIF 2.1.0 log for input that could not be checked at all (exit code 2).

    No results; the run's one invocation has ``executionSuccessful: false``, ``exitCode``
    and a ``toolExecutionNotifications`` error (SARIF 2.1.0 §3.20.21) with ``message``,
    ``code`` as ``descriptor.id`` (e.g. :class:`specs.SpecLoadError`'s ``syntax``,
    ``too_large``) and, when ``line`` is known, a location in ``path``.  So a CI job that
    uploads the SARIF output gets a valid log saying why, not an empty file.

    :param path: the input's URI, relative to ``base_id`` when ``base_uri`` is given (as
        :func:`render_sarif`).
    :param base_id: the ``uriBaseId`` relative URIs carry (:data:`SRCROOT`, or the gateway
        bundle's :data:`BUNDLE_BASE_ID`).
    """
    artifact: dict[str, Any] = {"uri": path}
    if base_uri is not None and _relative(path):
        artifact["uriBaseId"] = base_id
    notification: dict[str, Any] = {"level": "error", "message": {"text": message},
                                    "descriptor": {"id": code}}
    if line is not None:
        region = {"startLine": line} if column is None else {"startLine": line,
                                                             "startColumn": column}
        notification["locations"] = [{"physicalLocation": {
            "artifactLocation": dict(artifact), "region": region}}]
    run: dict[str, Any] = {
        "tool": {"driver": _sarif_driver([])},
        "artifacts": [{"location": artifact}],
        "invocations": [{"executionSuccessful": False, "exitCode": exit_code,
                         "toolExecutionNotifications": [notification]}],
        "results": [],
    }
    if base_uri is not None:
        run["originalUriBaseIds"] = {base_id: {"uri": base_uri}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _relative(uri: str) -> bool:
    """Whether ``uri`` is a relative reference (no scheme before its first ``/``)."""
    return ":" not in uri.split("/", 1)[0]


def _based(run: dict[str, Any], base_uri: str | None) -> dict[str, Any]:
    """``run`` with ``uriBaseId`` :data:`SRCROOT` on every relative artifact location and
    ``originalUriBaseIds`` naming ``base_uri``; unchanged when ``base_uri`` is ``None``."""
    if base_uri is None:
        return run
    locations = [artifact["location"] for artifact in run["artifacts"]]
    locations += [loc["physicalLocation"]["artifactLocation"]
                  for result in run["results"] for loc in result["locations"]]
    for location in locations:
        if _relative(location["uri"]):
            location["uriBaseId"] = SRCROOT
    run["originalUriBaseIds"] = {SRCROOT: {"uri": base_uri}}
    return run


def _tool_version() -> str | None:
    try:
        return metadata.version("stagegate")
    except metadata.PackageNotFoundError:
        return None


def _sarif_driver(rules: Iterable[Rule]) -> dict[str, Any]:
    driver: dict[str, Any] = {
        "name": TOOL_NAME,
        "rules": [_sarif_rule(rule) for rule in rules],
    }
    version = _tool_version()
    if version:
        driver["version"] = version
    return driver


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {"text": rule.remediation},
        "defaultConfiguration": {"level": SARIF_LEVELS[rule.severity]},
        "properties": {
            "tags": ["security", rule.evidence.value],
            "severity": rule.severity.value,
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "sources": [{"label": s.label, "url": s.url} for s in rule.sources],
        },
    }
    if rule.help_uri:
        data["helpUri"] = rule.help_uri
    return data


def _sarif_result(
    finding: Finding, index: dict[str, int], path: str, blocking: bool
) -> dict[str, Any]:
    # a finding in one file of a bundle names that file (no artifact index: the run lists
    # only ``path``); otherwise the run's single artifact
    artifact: dict[str, Any] = (
        {"uri": finding.file} if finding.file is not None and finding.file != path
        else {"uri": path, "index": 0})
    physical: dict[str, Any] = {"artifactLocation": artifact}
    if finding.line is not None:
        physical["region"] = {"startLine": finding.line, "startColumn": finding.column or 1}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.pointer is not None:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.pointer or "/",
                                         "kind": "member"}]
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "level": SARIF_LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [location],
        "properties": {"status": finding.status.value, "severity": finding.severity.value,
                       "blocking": blocking},
    }
    if finding.rule_id in index:
        result["ruleIndex"] = index[finding.rule_id]
    return result


# ------------------------------------------------------------------ token and JWKS evidence
def _evidence_blocks(finding: Finding) -> bool:
    """Whether a token/JWKS finding blocks the evidence (``low`` findings are advisory, as
    in :attr:`policies.tokens.TokenAnalysis.passed` and ``JwksAnalysis.passed``)."""
    return finding.status.blocks and finding.severity.rank > Severity.LOW.rank


def render_evidence_text(kind: str, subject: str, findings: Iterable[Finding],
                         passed: bool, details: Iterable[str] = ()) -> str:
    """Text report of a token or JWKS analysis: a verdict line, ``details`` lines, then every
    finding that did not pass (blocking ones first) with its remediation.

    :param kind: ``"token"`` or ``"JWKS"`` (used in the verdict line).
    :param subject: what was checked, for people (a path, or a token fingerprint).
    """
    items = list(findings)
    bad = sorted((f for f in items if f.status.blocks),
                 key=lambda f: (not _evidence_blocks(f), -f.severity.rank, f.rule_id))
    verdict = "PASS" if passed else "BLOCKED"
    count = sum(1 for f in bad if _evidence_blocks(f))
    lines = [f"{verdict}: {kind} {subject}" + (
        f": {plural(count, 'blocking finding')}." if not passed else
        f" passes every rule ({plural(len(bad), 'advisory finding')}).")]
    lines += [f"  {line}" for line in details]
    explained: set[str] = set()
    for finding in bad:
        lines.append("")
        tag = "" if _evidence_blocks(finding) else " (advisory)"
        where = f"  {_location('', finding)}" if finding.file else ""
        lines.append(f"{finding.severity.upper():8} {finding.rule_id}  {finding.status}{tag}"
                     f"{where}")
        lines.append(_indent(finding.message, "  "))
        if finding.pointer:
            lines.append(f"  at {finding.pointer}")
        if has_rule(finding.rule_id) and finding.rule_id not in explained:
            explained.add(finding.rule_id)
            rule = get_rule(finding.rule_id)
            lines.append("  How to fix:")
            lines.append(_indent(rule.remediation, "    "))
            if rule.help_uri:
                lines.append(f"  Why: {rule.sources[0].label} <{rule.help_uri}>")
    return "\n".join(lines) + "\n"


def render_evidence_json(kind: str, subject: dict[str, Any], findings: Iterable[Finding],
                         passed: bool) -> dict[str, Any]:
    """``{"kind", <kind>: subject, "passed", "findings"}``; each finding carries its rule's
    title, remediation, sources and whether it blocks."""
    out = []
    for finding in findings:
        data = finding.to_dict()
        if has_rule(finding.rule_id):
            data.update(_rule_dict(get_rule(finding.rule_id)))
        data["blocking"] = _evidence_blocks(finding)
        out.append(data)
    return {"kind": kind, kind: subject, "passed": passed, "findings": out}


def render_evidence_sarif(path: str, findings: Iterable[Finding], passed: bool,
                          properties: dict[str, Any] | None = None,
                          base_uri: str | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log of a token or JWKS analysis: results are the findings that did not
    pass, located in ``path`` — or, for a finding that names its own ``file`` (a file of a
    gateway configuration bundle), in that file at its line.  ``base_uri``: as in
    :func:`render_sarif` (``path`` is then relative to it)."""
    rules = all_rules()
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = [_sarif_result(f, index, path, _evidence_blocks(f))
               for f in findings if f.status.blocks]
    run = {
        "tool": {"driver": _sarif_driver(rules)},
        "artifacts": [{"location": {"uri": path}}],
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {"passed": passed, **(properties or {})},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION,
            "runs": [_based(run, base_uri)]}


# ------------------------------------------------------------------ gateway configuration
#: SARIF ``uriBaseId`` of the files of an nginx configuration bundle (``stagegate gateway
#: check``): result and artifact URIs are bundle paths relative to it.
BUNDLE_BASE_ID = "BUNDLEROOT"


def render_gateway_text(check: GatewayCheck, decision: GateDecision,
                        shown: Mapping[str, str] | None = None) -> str:
    """Text report of :func:`policies.gateway.check_nginx` and its gate decision: a verdict
    line, then each blocking finding (severity, rule id, ``file:line:col``, message,
    remediation).  Ends with a newline.

    :param shown: bundle path → the path to print for it (what the user typed); bundle paths
        not in it are printed as they are.
    """
    names = dict(shown or {})
    entry = names.get(check.entry, check.entry)
    what = f"{entry} ({plural(len(check.files), 'file')}, sha256 {check.sha256[:16]}…)"
    if decision.passed:
        advisory = [f for f in check.findings if f.status.blocks]
        lines = [f"PASS: the nginx configuration {what} enforces the token policy "
                 f"({plural(len(check.protected), 'protected location')}; gate "
                 f"{decision.pack})."]
        if advisory:
            lines.append(f"{plural(len(advisory), 'non-blocking finding')} reported; use "
                         "--format json to see them.")
    else:
        lines = [f"BLOCKED: the nginx configuration {what}: "
                 f"{plural(len(decision.blocking), 'blocking finding')} (gate {decision.pack})."]
    explained: set[str] = set()
    for finding in decision.blocking:
        where = names.get(finding.file, finding.file) if finding.file else entry
        if finding.line is not None:
            where = f"{where}:{finding.line}:{finding.column or 1}"
        lines.append("")
        lines.append(f"{finding.severity.upper():8} {finding.rule_id}  {where}")
        lines.append(_indent(finding.message, "  "))
        lines.extend(_how_to_fix(finding.rule_id, explained))
    return "\n".join(lines) + "\n"


def render_gateway_json(check: GatewayCheck, decision: GateDecision) -> dict[str, Any]:
    """``{"kind": "gateway", "gateway": {entry, files, sha256, protected}, "passed",
    "decision", "findings"}`` as plain JSON; each finding carries its rule's title,
    remediation and sources and whether it blocks.  Paths are bundle paths."""
    blocking = _blocking_keys(decision)

    return {
        "kind": "gateway",
        "gateway": {"entry": check.entry, "files": list(check.files), "sha256": check.sha256,
                    "protected": [p.to_dict() for p in check.protected]},
        "passed": decision.passed,
        "decision": {"target": decision.target, "passed": decision.passed,
                     "pack": decision.pack, "pack_sha256": decision.pack_sha256,
                     "blocking": [_enriched(f, blocking) for f in decision.blocking]},
        "findings": [_enriched(f, blocking) for f in check.findings],
    }


def render_gateway_sarif(check: GatewayCheck, decision: GateDecision,
                         files: Mapping[str, bytes],
                         base_uri: str | None = None) -> dict[str, Any]:
    """A SARIF 2.1.0 log of a gateway check: one artifact per bundle file and every result
    located by its bundle path, both relative to ``uriBaseId`` :data:`BUNDLE_BASE_ID`.

    :param files: the bundle (bundle path → bytes), for the artifacts' length and SHA-256.
    :param base_uri: what :data:`BUNDLE_BASE_ID` stands for (an absolute URI ending in
        ``/``, e.g. the folder of the entry file), written to ``originalUriBaseIds``; left
        out when ``None`` (the consumer resolves the relative paths).
    """
    rules = all_rules()
    index = {rule.id: i for i, rule in enumerate(rules)}
    blocking = _blocking_keys(decision)
    names = sorted(files)
    artifact_of = {name: i for i, name in enumerate(names)}
    results = []
    for finding in check.findings:
        if not finding.status.blocks:
            continue
        result = _sarif_result(finding, index, check.entry, _key(finding) in blocking)
        name = finding.file or check.entry
        artifact: dict[str, Any] = {"uri": name, "uriBaseId": BUNDLE_BASE_ID}
        if name in artifact_of:
            artifact["index"] = artifact_of[name]
        result["locations"][0]["physicalLocation"]["artifactLocation"] = artifact
        results.append(result)
    run: dict[str, Any] = {
        "tool": {"driver": _sarif_driver(rules)},
        "artifacts": [{"location": {"uri": name, "uriBaseId": BUNDLE_BASE_ID},
                       "length": len(files[name]),
                       "hashes": {"sha-256": hashlib.sha256(files[name]).hexdigest()}}
                      for name in names],
        "invocations": [{"executionSuccessful": True}],
        "results": results,
        "properties": {"gate": {"target": decision.target, "passed": decision.passed,
                                "pack": decision.pack, "pack_sha256": decision.pack_sha256},
                       "bundle_sha256": check.sha256, "entry": check.entry},
    }
    if base_uri is not None:
        run["originalUriBaseIds"] = {BUNDLE_BASE_ID: {"uri": base_uri}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
