"""A pipeline and a person see the same findings (issue 10, acceptance 4).

The same bytes go through the three entrypoints:

1. ``stagegate check PATH --stage development --format json`` — the command object the
   console entry (:mod:`lifecycle.console`) dispatches ``check`` to, run in-process with a
   click runner (``console.main`` itself ends the process with ``os._exit``); a few documents
   also through the installed ``stagegate`` script in a subprocess;
2. REST: ``PUT /api/v1/apis/{name}/versions/{v}/spec``, then ``GET …/compliance``;
3. the web upload form (a file, multipart), then the version page, whose gate panel is read
   through its ``data-`` attributes (``paritykit.GatePage``; the comparison is
   ``paritykit.assert_same``, shared with the pytest-bdd scenario "A pipeline and a person see
   the same findings").

The gate is the one into ``development`` (a new version's next stage).  Documents: every file
of the public corpus (``tests/corpus/public``, up to 4.2 MB), of our own corpus
(``tests/corpus/own``) and the bad inputs of :data:`BAD_INPUTS` (unreadable, hostile, empty,
binary, wrong version, over the size limit…).  CLI and REST must give the same findings,
message for message (rule, status, severity, pointer, line, column, message); the web page
the same rule, status, severity, pointer, line and column of every finding it lists one by
one (failures, errors) and the same status per rule of the ones it folds (pass,
not-applicable: the first per rule, as :func:`lifecycle.web.presenters.gate_panel` lists
them).  A document that cannot be read gives the same error on all three: code, message,
line and column (the CLI exits 2 and prints REST's error answer; over the size limit each
entrypoint names its own way to raise the limit after the same first sentence).

Every document goes through all three entrypoints (no subset) and the module is not marked
``slow``: an MB-sized document costs about three ``stagegate check`` runs (the four largest
7–23 s each), the whole module 32 s of CPU (70–106 s wall clock on the shared 2-core machine
at load average 8–10; SQLite).  The module shares one app and database (``module_app``), and
each document gets a small version of its own per entrypoint.
Web uploads over ``SPEC_ASYNC_BYTES`` (1 MiB) are checked by a ``spec.check`` job (the
embedded thread), as in production.

Differences this test found, fixed in the product: ``stagegate check`` refused a document of no
version Stagegate reads (exit 2, no line) where REST and the web store it with ``SPEC-VALID``
at its line; the CLI printed no code for a document it could not read (now REST's error
answer with ``--format json``); the CLI listed every rule's finding at the rule's own
severity where REST and the web list the gate's
(:func:`test_a_pack_of_its_own_gives_the_same_findings_everywhere`); the size limit had two
wordings.
"""

from __future__ import annotations

import itertools
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from documents import ORDERS
from flask import Flask
from paritykit import (
    BOUNDARY,
    STAGE,
    GatePage,
    Outcome,
    assert_same,
    cli_outcome,
    finding_of,
    multipart,
    run_check,
)

from lifecycle import jobs
from lifecycle.jobs.backends import ThreadBackend

ROOT = Path(__file__).resolve().parents[1] / "corpus"
PUBLIC = ROOT / "public"
OWN = ROOT / "own"
STAGEGATE = Path(sys.executable).with_name("stagegate")
MIB = 1024 * 1024


# ------------------------------------------------------------------------------ documents
def _billion_laughs() -> bytes:
    lines = ['lol0: &lol0 "lol"']
    lines += [f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return ("\n".join(lines) + "\n").encode()


_GOOD = ORDERS.replace(b"        200:", b"        '200':", 1)
_NOISE = random.Random(10).randbytes(64 * 1024)

#: bad inputs by id: unreadable, hostile, empty, binary, wrong version, too large, and a few
#: readable oddities (BOM, CRLF) whose lines must agree
BAD_INPUTS: dict[str, bytes] = {
    "compliant-orders": ORDERS,
    "quoted-200": _GOOD,
    "bom": b"\xef\xbb\xbf" + _GOOD,
    "crlf": _GOOD.replace(b"\n", b"\r\n"),
    "openapi-3.1-unquoted": b"# Orders API\n" + _GOOD.replace(b"openapi: 3.1.0", b"openapi: 3.1"),
    "openapi-4.0.0": _GOOD.replace(b"openapi: 3.1.0", b"openapi: 4.0.0"),
    "swagger-1.2": _GOOD.replace(b"openapi: 3.1.0", b"swagger: '1.2'"),
    "not-openapi": b'{"name": "not an API"}',
    "no-version-yaml": b"info: {title: t, version: '1'}\npaths: {}\n",
    "invalid-yaml": b"openapi: 3.1.0\ninfo: [x\n",
    "invalid-json": b'{"openapi": "3.1.0",\n "info": }\n',
    "duplicate-key-json": b'{"openapi": "3.1.0", "openapi": "3.0.0"}',
    "duplicate-key-yaml": _GOOD.replace(b"info:\n", b"info:\n  title: Twice\n", 1),
    "deep-nesting-json": b"[" * 50_000 + b"]" * 50_000,
    "deep-nesting-yaml": b"openapi: 3.1.0\nx: " + b"{a: " * 400 + b"1" + b"}" * 400 + b"\n",
    "python-tag": b"a: !!python/object/apply:os.system ['true']\n",
    "alias-bomb": _billion_laughs(),
    "recursive-alias": b"a: &x\n  b: *x\n",
    "random-bytes": b"\xff\xfe" + _NOISE,
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + _NOISE[:2048],
    "pdf-with-nul": b"%PDF-1.7\n\x00\x01\x02binary\n",
    "utf-16": "openapi: 3.1.0\n".encode("utf-16"),
    "empty": b"",
    "blank": b" \n\t\n",
    "array-json": b'[{"openapi": "3.1.0"}]',
    "array-yaml": b"- openapi: 3.1.0\n",
    "scalar": b"just a sentence\n",
    "huge": b"openapi: 3.1.0\n" + b"#" * (25 * MIB) + b"\n",
}


def _documents() -> Iterator[Any]:
    for path in sorted(PUBLIC.iterdir()):
        if path.suffix in (".json", ".yaml", ".yml"):
            yield pytest.param(path.read_bytes, id=f"public/{path.name}")
    for path in sorted(OWN.rglob("*.yaml")):
        yield pytest.param(path.read_bytes, id=f"own/{path.relative_to(OWN)}")
    for name, raw in BAD_INPUTS.items():
        yield pytest.param(lambda raw=raw: raw, id=f"bad/{name}")


# ------------------------------------------------------------------------------ entrypoints
class Entrypoints:
    """The three ways in, on one app shared by the module (API ``parity``, team ``shop``;
    each call makes a version of its own)."""

    def __init__(self, app: Flask, folder: Path) -> None:
        self.app = app
        self.client = app.test_client()
        self.folder = folder
        self._numbers = itertools.count(1)
        created = self.client.post("/api/v1/apis", json={"name": "parity", "title": "Parity",
                                                         "team": "shop"})
        assert created.status_code == 201, created.get_data(as_text=True)

    def file(self, raw: bytes) -> Path:
        path = self.folder / f"doc-{next(self._numbers)}"
        path.write_bytes(raw)
        return path

    def _version(self, kind: str) -> str:
        version = f"{next(self._numbers)}.0.0-{kind}"
        made = self.client.post("/api/v1/apis/parity/versions", json={"version": version})
        assert made.status_code == 201, made.get_data(as_text=True)
        return version

    def cli(self, path: Path, *options: str) -> Outcome:
        """``stagegate check`` in this process (the console entry's command object)."""
        return run_check(path, *options)

    def cli_process(self, path: Path) -> Outcome:
        """``stagegate check`` as a process of its own (the installed console script)."""
        done = subprocess.run([str(STAGEGATE), "check", str(path), "--stage", STAGE,
                               "--format", "json"], capture_output=True, timeout=120,
                              check=False)
        return cli_outcome(done.stdout.decode(), done.stderr.decode(), done.returncode,
                           str(path))

    def rest(self, raw: bytes) -> Outcome:
        """``PUT …/spec`` then ``GET …/compliance``."""
        url = f"/api/v1/apis/parity/versions/{self._version('rest')}"
        put = self.client.put(f"{url}/spec", data=raw, content_type="application/octet-stream")
        body = put.get_json()
        assert put.status_code != 500 and body is not None, put.get_data(as_text=True)[:2000]
        if put.status_code in (413, 422):
            assert body["error"] in ("spec_unreadable", "too_large"), body
            details = body["details"]
            assert details["message"] == body["message"]
            return Outcome(error={k: details[k] for k in ("code", "message", "line", "column")})
        assert put.status_code == 201, body
        compliance = self.client.get(f"{url}/compliance").get_json()
        assert compliance["findings"] == body["compliance"]["findings"]
        return Outcome(target=compliance["target"],
                       findings=tuple(finding_of(f, "rule") for f in compliance["findings"]))

    def web(self, raw: bytes) -> Outcome:
        """The upload form (a file), then the version page it leads to (for a large
        document, once the background check has run)."""
        page = f"/apis/parity/versions/{self._version('web')}"
        posted = self.client.post(f"{page}/spec", data=multipart(raw),
                                  content_type=f"multipart/form-data; boundary={BOUNDARY}")
        assert posted.status_code in (303, 413, 422), posted.status_code
        if posted.status_code != 303:
            return GatePage.read(posted.get_data(as_text=True))
        location = posted.headers["Location"]
        if "job=" in location:
            backend = self.app.extensions["stagegate.jobs"]
            assert isinstance(backend, ThreadBackend)
            backend.join(timeout=180)
        shown = self.client.get(location)
        assert shown.status_code == 200
        return GatePage.read(shown.get_data(as_text=True))


@pytest.fixture(scope="module")
def entrypoints(module_app: Flask, tmp_path_factory: pytest.TempPathFactory) -> Entrypoints:
    """The entrypoints on the module's app; background checks run in the embedded thread."""
    module_app.config["JOBS_BACKEND"] = "thread"
    jobs.init_app(module_app)
    return Entrypoints(module_app, tmp_path_factory.mktemp("parity"))


# ------------------------------------------------------------------------------ the test
@pytest.mark.parametrize("read", list(_documents()))
def test_cli_rest_and_web_give_the_same_findings(entrypoints, read):
    raw = read()
    path = entrypoints.file(raw)
    assert_same(entrypoints.cli(path), entrypoints.rest(raw), entrypoints.web(raw))


@pytest.mark.parametrize("name", ["public/oai-v3.1-security-scheme-object-examples.yaml",
                                  "own/validate/blame-referenced.yaml", "bad/invalid-yaml",
                                  "bad/openapi-3.1-unquoted"])
def test_the_installed_script_answers_as_the_in_process_command(entrypoints, name):
    folder, _, rest = name.partition("/")
    raw = BAD_INPUTS[rest] if folder == "bad" else (ROOT / folder / rest).read_bytes()
    path = entrypoints.file(raw)
    assert entrypoints.cli_process(path) == entrypoints.cli(path)


#: a pack whose development gate applies two rules, one at a severity of its own
NARROW_PACK = """\
name: narrow
description: Two rules into development, TRN-HTTPS-ONLY lowered.
stages:
  development:
    apply: {rules: [SPEC-VALID, TRN-HTTPS-ONLY]}
    require: [SPEC-VALID]
    block_on: high
    severity_overrides: {TRN-HTTPS-ONLY: low}
  testing: {apply: {evidence: [spec]}, block_on: high}
  deployment: {apply: {evidence: [spec]}, block_on: medium}
  retirement: {apply: {}, block_on: null}
"""


def test_a_pack_of_its_own_gives_the_same_findings_everywhere(entrypoints, tmp_path):
    # The CLI used to list every rule's finding at the rule's own severity, whatever the
    # stage applied; REST and the web list the gate's (issue 10: one answer).
    pack = tmp_path / "narrow.yaml"
    pack.write_text(NARROW_PACK, encoding="utf-8")
    raw = (PUBLIC / "apisguru-xkcd-1.0.0.yaml").read_bytes()  # plain-http server URL
    entrypoints.app.config["POLICY_PACK"] = str(pack)
    try:
        cli = entrypoints.cli(entrypoints.file(raw), "--policy", str(pack))
        assert_same(cli, entrypoints.rest(raw), entrypoints.web(raw))
    finally:
        entrypoints.app.config["POLICY_PACK"] = "default"
    assert cli.findings is not None
    assert {f["rule"] for f in cli.findings} == {"SPEC-VALID", "TRN-HTTPS-ONLY"}
    assert {f["severity"] for f in cli.findings if f["rule"] == "TRN-HTTPS-ONLY"} == {"low"}
