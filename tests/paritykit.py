"""Findings as each entrypoint shows them, for the parity tests (issue 10, acceptance 4):
``stagegate check --format json`` (:func:`run_check`, :func:`cli_outcome`), REST (findings
as ``GET …/compliance`` lists them) and the version page (:class:`GatePage`, which reads the
gate panel's ``data-`` attributes), and :func:`assert_same`.

Imported like the other kits (``from paritykit import GatePage``); nothing here is a fixture.
"""

from __future__ import annotations

import importlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

from lifecycle import console

#: the gate compared: the one into a new version's next stage
STAGE = "development"
#: the statuses the version page folds into one line per rule
QUIET = frozenset({"pass", "not-applicable", "waived"})


@dataclass(frozen=True)
class Outcome:
    """What one entrypoint answered: the gate's target and findings (dicts with ``rule``,
    ``status``, ``severity``, ``pointer``, ``line``, ``column`` and — CLI and REST — ``message``),
    or the load error (``code``, ``message``, ``line``, ``column``)."""

    target: str | None = None
    findings: tuple[dict[str, Any], ...] | None = None
    quiet: tuple[tuple[str, str], ...] | None = None
    missing: tuple[str, ...] | None = None
    error: dict[str, Any] | None = None


def finding_of(data: dict[str, Any], rule_key: str) -> dict[str, Any]:
    """A finding of a CLI report (``rule_key`` ``rule_id``) or of a REST answer (``rule``) in
    the shape :class:`Outcome` holds."""
    return {"rule": data[rule_key], "status": data["status"], "severity": data["severity"],
            "pointer": data["pointer"], "line": data["line"], "column": data["column"],
            "message": data["message"]}


def as_page_lists(findings: Iterable[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    """What the version page shows of ``findings`` (in gate order): each failure or error
    one by one, each missing-evidence rule, and the first passing/not-applicable finding of
    each rule as ``(rule, status)``."""
    shown: Counter[tuple[Any, ...]] = Counter()
    folded: set[str] = set()
    for f in findings:
        if f["status"] == "missing-evidence":
            shown[("missing-evidence", f["rule"])] += 1
        elif f["status"] in QUIET:
            if f["rule"] not in folded:
                folded.add(f["rule"])
                shown[(f["rule"], f["status"])] += 1
        else:
            shown[(f["rule"], f["status"], f["severity"], f["pointer"], f["line"],
                   f["column"])] += 1
    return shown


def web_lists(page: Outcome) -> Counter[tuple[Any, ...]]:
    shown: Counter[tuple[Any, ...]] = Counter()
    for f in page.findings or ():
        shown[(f["rule"], f["status"], f["severity"], f["pointer"], f["line"],
               f["column"])] += 1
    for rule in page.missing or ():
        shown[("missing-evidence", rule)] += 1
    for quiet in page.quiet or ():
        shown[quiet] += 1
    return shown


_CLI_ERROR = re.compile(r"^stagegate check: (?P<path>.+?): (?:line (?P<line>\d+)"
                        r"(?:, column (?P<column>\d+))?: )?(?P<message>.*)$", re.S)


def cli_outcome(stdout: str, stderr: str, status: int, path: str) -> Outcome:
    """The outcome of ``stagegate check --format json``: its report (exit 0 or 1) or its load
    error (exit 2: REST's error answer on stdout, the same message and place on stderr)."""
    if status == 2:
        body = json.loads(stdout)
        error = {k: body["details"][k] for k in ("code", "message", "line", "column")}
        assert body["message"] == error["message"]
        assert body["error"] == ("too_large" if error["code"] == "too_large"
                                 else "spec_unreadable")
        match = _CLI_ERROR.match(stderr.strip())
        assert match and match["path"] == path, stderr
        assert (match["message"], _int(match["line"]), _int(match["column"])) == (
            error["message"], error["line"], error["column"]), stderr
        return Outcome(error=error)
    assert status in (0, 1), (status, stderr)
    report = json.loads(stdout)
    return Outcome(target=report["decision"]["target"],
                   findings=tuple(finding_of(f, "rule_id") for f in report["findings"]))


class GatePage(HTMLParser):
    """Reads the version page: the gate panel's target and findings (``data-finding``
    items one by one, ``data-quiet`` items folded per rule, ``data-missing`` groups with
    their ``data-rule`` items) and a load error (``data-load-error`` with its ``data-code``,
    ``data-line``, ``data-column`` and ``data-message`` text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.target: str | None = None
        self.findings: list[dict[str, Any]] = []
        self.quiet: list[tuple[str, str]] = []
        self.missing: list[str] = []
        self.error: dict[str, Any] | None = None
        self._in_gate = False
        self._in_missing = False
        self._message: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("id") == "gate":
            self._in_gate = True
            self.target = a.get("data-target")
        if "data-load-error" in a:
            self.error = {"code": a.get("data-code"), "message": None,
                          "line": _int(a.get("data-line")), "column": _int(a.get("data-column"))}
        if "data-message" in a and self.error is not None and self._message is None:
            self._message = []
        if not self._in_gate or tag != "li":
            return
        if "data-finding" in a:
            self._in_missing = False
            self.findings.append({"rule": a["data-rule"], "status": a["data-status"],
                                  "severity": a["data-severity"],
                                  "pointer": a.get("data-pointer"),
                                  "line": _int(a.get("data-line")),
                                  "column": _int(a.get("data-column"))})
        elif "data-missing" in a:
            self._in_missing = True
        elif "data-quiet" in a:
            self._in_missing = False
            self.quiet.append((str(a["data-rule"]), str(a["data-status"])))
        elif "data-rule" in a and self._in_missing:
            self.missing.append(str(a["data-rule"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._in_gate = False
        if tag == "span" and self._message is not None and self.error is not None:
            if self.error["message"] is None:
                self.error["message"] = " ".join("".join(self._message).split())
            self._message = None

    def handle_data(self, data: str) -> None:
        if self._message is not None:
            self._message.append(data)

    @classmethod
    def read(cls, html: str) -> Outcome:
        page = cls()
        page.feed(html)
        page.close()
        if page.error is not None:
            return Outcome(error=page.error)
        return Outcome(target=page.target, findings=tuple(page.findings),
                       quiet=tuple(page.quiet), missing=tuple(page.missing))


def _int(value: str | None) -> int | None:
    return int(value) if value else None


#: a boundary the multipart body of :func:`multipart` is sure not to contain
BOUNDARY = "stagegate-parity-" + "0123456789abcdef" * 2


def multipart(raw: bytes) -> bytes:
    """``raw`` as the form's ``spec_file`` in a ``multipart/form-data`` body (RFC 7578), as a
    browser sends a picked file (encoded here: the test client's own encoder leaves the
    temporary file of a large body open)."""
    assert BOUNDARY.encode() not in raw
    return (f"--{BOUNDARY}\r\n"
            'Content-Disposition: form-data; name="spec_file"; filename="openapi.yaml"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + raw + \
        f"\r\n--{BOUNDARY}--\r\n".encode()


def assert_same(cli: Outcome, rest: Outcome, web: Outcome) -> None:
    """CLI, REST and web agree (see the module docstring)."""
    if rest.error is not None or cli.error is not None or web.error is not None:
        assert cli.error is not None and rest.error is not None and web.error is not None, (
            f"only some entrypoints refused the document: CLI {cli.error}, REST {rest.error}, "
            f"web {web.error}")
        assert web.error == rest.error
        expected = dict(rest.error)
        if rest.error["code"] == "too_large":  # the same sizes; each says how to raise its limit
            assert str(cli.error["message"]).startswith(rest.error["message"].split("Split")[0])
            expected["message"] = cli.error["message"]
        assert cli.error == expected
        return
    assert cli.target == rest.target == web.target == STAGE
    assert cli.findings is not None and rest.findings is not None
    assert Counter(map(_key, cli.findings)) == Counter(map(_key, rest.findings))
    assert as_page_lists(rest.findings) == web_lists(web)


def _key(finding: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(finding[k] for k in ("rule", "status", "severity", "pointer", "line", "column",
                                      "message"))




def check_command() -> click.Command:
    """The command object the console entry (:mod:`lifecycle.console`) runs for ``check``."""
    module, name = console.OFFLINE_COMMANDS["check"]
    command: click.Command = getattr(importlib.import_module(module), name)
    return command


def run_check(path: Path, *options: str) -> Outcome:
    """``stagegate check PATH --stage development --format json [options]`` in this process
    (``console.main`` itself ends the process with ``os._exit``)."""
    result = CliRunner().invoke(check_command(), [str(path), "--stage", STAGE,
                                                  "--format", "json", *options])
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"the CLI crashed: {result.exception!r}")
    return cli_outcome(result.stdout, result.stderr, result.exit_code, str(path))
