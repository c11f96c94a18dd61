"""Issue 10 benchmark: the document check against Redocly and the validator, revisions through
REST, and token analysis / authentication against the bare cryptography.

Run on demand (``make bench-check``), never as a test.  Three parts (all by default):

``--cli``
    For each large corpus document, in one run and alternating the order every round, the
    whole-process time of ``stagegate check FILE`` (the console script), Redocly CLI's
    ``redocly lint FILE`` (installed by ``npm ci`` from ``bench/package-lock.json``;
    ``bench/node_modules`` is never committed) and plain ``openapi-spec-validator FILE``.
    Printed per tool: wall seconds and CPU seconds (user + system of the child, which the
    other tenants of a shared machine disturb less), and the ratios stagegate / redocly and
    stagegate / validator for both.  Medians of ``--repeat`` rounds.
``--rest``
    Through the REST API (Flask test client, SQLite, authenticated with an access token):
    the cold upload of a 4 MB document to a new version, re-uploading identical bytes, and
    uploading a revision that changes one operation (its ``description``), each with its
    ratio to the cold upload.
``--tokens``
    Alternating A/B rounds: token analyses through ``POST …/evidence/tokens`` (a managed
    RSA-3072 key, already unsealed in the per-process cache after the first request) next
    to the bare cryptography of the same tokens; and the cost of authenticating one REST
    request with a repeated access token (:func:`lifecycle.accounts.apitokens.verify`),
    with a cold verification and the bare cryptography of that token beside it.

Timings on the shared machines are noisy: only ratios measured in the same run mean
anything.  ``--baseline DIR`` (a checkout of ``lifecycle``, ``policies`` and ``specs``, e.g.
``git archive main lifecycle policies specs | tar -x -C DIR``) times that code beside this
checkout in the same alternating rounds (``--cli``: a fourth tool; ``--rest``: two processes
each).  Usage: ``python scripts/bench_check.py [--cli] [--rest] [--tokens] [--repeat N]
[--baseline DIR] [--skip-npm-ci] [FILE ...]``
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: the checkout whose lifecycle/policies/specs run (``--baseline`` sets it in child processes)
CODE = Path(os.environ.get("STAGEGATE_BENCH_CODE", ROOT))
sys.path.insert(0, str(ROOT))
if CODE != ROOT:
    sys.path.insert(0, str(CODE))
sys.path.insert(0, str(ROOT / "tests"))  # documents.py, evidencekit.py: the test fixtures
sys.path.insert(0, str(ROOT / "scripts"))

from bench import _pem_private, bare_crypto, make_app  # noqa: E402

CORPUS = ROOT / "tests" / "corpus" / "public"
LARGE = ("openai-api.yaml", "osv-bench-kubernetes.yaml", "kubernetes-swagger.json",
         "cloudflare-api-2024-08.json", "box-platform.json", "twilio-api-v2010.json",
         "adyen-checkout-v71.json", "osv-bench-docker-engine-v1.53.yaml")
BIN = Path(sys.executable).parent
BENCH = ROOT / "bench"
REDOCLY = BENCH / "node_modules" / ".bin" / "redocly"
QUIET_NODE = {"REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
              "NO_COLOR": "1"}


# ------------------------------------------------------------------------------ processes
def run_process(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Run ``argv`` to completion: ``(wall seconds, CPU seconds of the child, exit code)``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env={**os.environ, **QUIET_NODE, **(env or {})}, check=False,
                          cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def npm_ci() -> None:
    """Install Redocly CLI exactly as locked (``bench/package-lock.json``)."""
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--silent"], cwd=BENCH, check=True)


def compiled(*trees: Path | None) -> None:
    """Byte-compile the project's packages of each checkout, as installing them does.

    An installed ``stagegate`` never compiles its modules at start-up, but a source checkout
    run with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's environment) compiles ``lifecycle``,
    ``policies`` and ``specs`` from source in every process (about 0.1 s of CPU): both the
    checkout and the baseline are compiled first, so neither pays that.
    """
    for tree in trees:
        if tree is None:
            continue
        for package in ("lifecycle", "policies", "specs"):
            if (tree / package).is_dir():
                compileall.compile_dir(tree / package, quiet=2)


def cli_bench(files: list[Path], repeat: int, baseline: Path | None = None) -> None:
    """Whole-process times per document; with ``baseline`` (a checkout of the code to compare
    with, e.g. ``git archive main lifecycle policies specs | tar -x -C DIR``), the same
    console script run with that checkout first on ``PYTHONPATH`` is a fourth tool, in the
    same alternating rounds."""
    tools: dict[str, Callable[[Path], list[str]]] = {
        "stagegate": lambda f: [str(BIN / "stagegate"), "check", str(f)],
        "redocly": lambda f: [str(REDOCLY), "lint", str(f)],
        "validator": lambda f: [str(BIN / "openapi-spec-validator"), str(f)],
    }
    envs: dict[str, dict[str, str]] = {}
    compiled(ROOT, baseline)
    if baseline is not None:
        tools["baseline"] = tools["stagegate"]
        envs["baseline"] = {"PYTHONPATH": str(baseline.resolve())}
    print(f"\nwhole process, median of {repeat} round(s), order alternating; wall s / CPU s")
    head = (f"{'document':36} {'MB':>5} " + " ".join(f"{t:>12}" for t in tools)
            + f" {'sg/redocly':>11} {'sg/valid.':>10}"
            + (f" {'base/redocly':>12}" if baseline is not None else ""))
    print(head)
    print("-" * len(head))
    for path in files:
        wall: dict[str, list[float]] = {t: [] for t in tools}
        cpu: dict[str, list[float]] = {t: [] for t in tools}
        order = list(tools)
        for round_ in range(repeat):
            for tool in order if round_ % 2 == 0 else reversed(order):
                w, c, _ = run_process(tools[tool](path), envs.get(tool))
                wall[tool].append(w)
                cpu[tool].append(c)
        mw = {t: statistics.median(v) for t, v in wall.items()}
        mc = {t: statistics.median(v) for t, v in cpu.items()}
        cells = " ".join(f"{mw[t]:5.2f}/{mc[t]:5.2f}" for t in tools)
        base = (f" {mw['baseline'] / mw['redocly']:5.2f}/{mc['baseline'] / mc['redocly']:4.2f}"
                if baseline is not None else "")
        print(f"{path.name:36} {path.stat().st_size / 1e6:5.2f} {cells}"
              f" {mw['stagegate'] / mw['redocly']:5.2f}/{mc['stagegate'] / mc['redocly']:4.2f}"
              f" {mw['stagegate'] / mw['validator']:4.2f}/{mc['stagegate'] / mc['validator']:4.2f}"
              f"{base}", flush=True)


def one_operation_changed(raw: bytes, marker: str) -> bytes:
    """``raw`` (JSON) with the description of its first operation changed to ``marker``."""
    data = json.loads(raw)
    for item in data["paths"].values():
        for method in ("get", "put", "post", "delete", "patch"):
            if isinstance(item, dict) and method in item:
                item[method]["description"] = marker
                return json.dumps(data, indent=2).encode()
    raise ValueError("no operation")


def rest_bench(path: Path, repeat: int, as_json: bool = False) -> tuple[float, float, float]:
    from lifecycle.core.extensions import db

    raw = path.read_bytes()
    cold, same, revision = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        app, client, _ = make_app(tmp)
        for i in range(repeat):
            version = f"1.0.{i}"
            url = f"/api/v1/apis/bench/versions/{version}/spec"
            assert client.post("/api/v1/apis/bench/versions",
                               json={"version": version}).status_code == 201
            base = one_operation_changed(raw, f"round {i}")
            changed = one_operation_changed(raw, f"round {i}, revised")
            start = time.perf_counter()
            first = client.put(url, data=base, content_type="application/json")
            cold.append(time.perf_counter() - start)
            assert first.status_code == 201, first.get_json()
            start = time.perf_counter()
            again = client.put(url, data=base, content_type="application/json")
            same.append(time.perf_counter() - start)
            assert again.status_code == 200, again.get_json()
            start = time.perf_counter()
            revised = client.put(url, data=changed, content_type="application/json")
            revision.append(time.perf_counter() - start)
            assert revised.status_code == 201, revised.get_json()
        with app.app_context():
            db.engine.dispose()
    c, s, r = (statistics.median(x) for x in (cold, same, revision))
    if as_json:
        print(json.dumps({"cold": c, "same": s, "revision": r}), flush=True)
        return c, s, r
    print(f"\nREST PUT …/spec, {path.name} ({len(raw) / 1e6:.1f} MB), median of {repeat}")
    print(f"  cold upload (new version)        {c:7.3f} s   1.00")
    print(f"  identical re-upload              {s:7.3f} s   {s / c:.3f}")
    print(f"  revision changing one operation  {r:7.3f} s   {r / c:.3f}", flush=True)
    return c, s, r


def rest_ab(path: Path, repeat: int, baseline: Path) -> None:
    """:func:`rest_bench` (``repeat`` rounds in one process) of this checkout and of
    ``baseline``, two processes each, alternating; medians of both processes' medians."""
    results: dict[str, list[dict[str, float]]] = {"stagegate": [], "baseline": []}
    envs = {"stagegate": {}, "baseline": {"STAGEGATE_BENCH_CODE": str(baseline.resolve())}}
    for round_ in range(2):
        order = ["stagegate", "baseline"] if round_ % 2 == 0 else ["baseline", "stagegate"]
        for name in order:
            done = subprocess.run(
                [sys.executable, __file__, "--rest", "--repeat", str(repeat), "--rest-json",
                 str(path)],
                env={**os.environ, **envs[name]}, capture_output=True, text=True, check=True,
                cwd=ROOT)
            results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\nREST PUT …/spec, {path.name} ({path.stat().st_size / 1e6:.1f} MB), medians of "
          f"{repeat} rounds in each of 2 processes per checkout, alternating")
    print(f"  {'':34} {'stagegate':>18} {'baseline':>18}")
    for key, label in (("cold", "cold upload (new version)"), ("same", "identical re-upload"),
                       ("revision", "revision changing one operation")):
        cells = []
        for name in ("stagegate", "baseline"):
            value = statistics.median(r[key] for r in results[name])
            cold = statistics.median(r["cold"] for r in results[name])
            cells.append(f"{value:7.3f} s  {value / cold:6.3f}")
        print(f"  {label:34} {cells[0]:>18} {cells[1]:>18}", flush=True)


# ------------------------------------------------------------------------------ tokens
def token_bench(repeat: int, count: int) -> None:
    from documents import ORDERS
    from evidencekit import Issuer

    from lifecycle.accounts import apitokens

    with tempfile.TemporaryDirectory() as tmp:
        app, client, access = make_app(tmp)
        v = "/api/v1/apis/bench/versions/1.0.0"
        assert client.post("/api/v1/apis/bench/versions", json={"version": "1.0.0"}
                           ).status_code == 201
        assert client.put(v + "/spec", data=ORDERS).status_code == 201
        assert client.post(v + "/keys").status_code == 201
        issuer = Issuer()
        assert client.put(v + "/evidence/jwks", json=issuer.jwks()).status_code == 201
        public = client.get(v + "/jwks.json").get_json()
        tokens = [issuer.token(public) for _ in range(2 * count * (repeat + 1))]
        with app.app_context():
            from lifecycle.catalog import services
            from lifecycle.evidence import keys as managed

            (private,) = managed.decryption_keys(services.get_version("bench", "1.0.0"))
            app_keys = apitokens.app_keys()
        analyse_bare = bare_crypto("RSA-OAEP-256", _pem_private(private),
                                   _pem_private(issuer.key).public_key(), "ES256")
        auth_bare = bare_crypto("ECDH-ES+A256KW", _pem_private(app_keys.encryption),
                                _pem_private(app_keys.signing).public_key(), "ES256")
        warm = client.post(v + "/evidence/tokens", json={"token": tokens.pop()})
        assert warm.status_code == 201 and warm.get_json()["analysis"]["passed"], warm.get_json()

        def rest_analyses(batch: list[str], key_cache: bool = True) -> float:
            lifetime = managed.unsealed_keys._seconds
            if not key_cache:  # every analysis unseals the key again (the old behaviour)
                managed.unsealed_keys._seconds = 0.0
                managed.unsealed_keys.clear()  # a key cached by the other mode stays valid
            try:
                start = time.perf_counter()
                for token in batch:
                    assert client.post(v + "/evidence/tokens", json={"token": token}
                                       ).status_code == 201
                return (time.perf_counter() - start) / len(batch)
            finally:
                managed.unsealed_keys._seconds = lifetime

        def bare(run: Callable[[str], bytes], batch: list[str]) -> float:
            start = time.perf_counter()
            for token in batch:
                run(token)
            return (time.perf_counter() - start) / len(batch)

        def verify_repeated(n: int) -> float:
            with app.test_request_context("/api/v1/apis"):
                apitokens.verify(access)  # remembered
                start = time.perf_counter()
                for _ in range(n):
                    apitokens.verify(access)
                return (time.perf_counter() - start) / n

        def verify_cold(n: int) -> float:
            with app.test_request_context("/api/v1/apis"):
                cache = apitokens.verified_tokens()
                start = time.perf_counter()
                for _ in range(n):
                    cache.clear()
                    apitokens.verify(access)
                return (time.perf_counter() - start) / n

        a_rest, a_unsealing, a_bare, v_hot, v_cold, v_bare = [], [], [], [], [], []
        for r in range(repeat):  # A/B alternating, not all A then all B
            batch = tokens[2 * r * count:(2 * r + 1) * count]
            a_rest.append(rest_analyses(batch))
            a_bare.append(bare(analyse_bare, batch))
            a_unsealing.append(rest_analyses(tokens[(2 * r + 1) * count:(2 * r + 2) * count],
                                             key_cache=False))
            v_hot.append(verify_repeated(count * 5))
            v_bare.append(bare(auth_bare, [access] * (count * 5)))
            v_cold.append(verify_cold(count))
        rest_s, bare_s = statistics.median(a_rest), statistics.median(a_bare)
        unsealing = statistics.median(a_unsealing)
        hot, cold, vb = (statistics.median(x) for x in (v_hot, v_cold, v_bare))
        print(f"\ntoken analysis through POST …/evidence/tokens (RSA-OAEP-256/A256GCM, ES256; "
              f"managed key cached), {count} tokens × {repeat} alternating rounds")
        print(f"  REST analyses            {1 / rest_s:8.0f} /s  ({rest_s * 1000:.2f} ms)")
        print(f"  REST, key unsealed each  {1 / unsealing:8.0f} /s  ({unsealing * 1000:.2f} ms)")
        print(f"  bare cryptography        {1 / bare_s:8.0f} /s  ({bare_s * 1000:.2f} ms)"
              f"   REST/bare {rest_s / bare_s:.2f}")
        print("authenticating a REST request with Stagegate's access token "
              "(ECDH-ES+A256KW/A256GCM, ES256)")
        print(f"  repeated token (cached)  {hot * 1000:8.3f} ms   /bare {hot / vb:.2f}")
        print(f"  cold verification        {cold * 1000:8.3f} ms   /bare {cold / vb:.2f}")
        print(f"  bare cryptography        {vb * 1000:8.3f} ms", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--cli", action="store_true")
    parser.add_argument("--rest", action="store_true")
    parser.add_argument("--tokens", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--token-count", type=int, default=20)
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a checkout of lifecycle/, policies/, specs/ to time beside "
                             "(--cli: PYTHONPATH; --rest: its check_spec in the same rounds)")
    parser.add_argument("--rest-json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-npm-ci", action="store_true",
                        help="use bench/node_modules as it is")
    args = parser.parse_args()
    every = not (args.cli or args.rest or args.tokens)
    files = args.files or [CORPUS / name for name in LARGE]
    if not args.rest_json:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
              f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    if every or args.cli:
        if not args.skip_npm_ci or not REDOCLY.exists():
            npm_ci()
        cli_bench(files, args.repeat, args.baseline)
    if every or args.rest:
        document = args.files[0] if args.rest and args.files else \
            CORPUS / "kubernetes-swagger.json"
        if args.baseline is not None and not args.rest_json:
            rest_ab(document, args.repeat, args.baseline)
        else:
            rest_bench(document, args.repeat, as_json=args.rest_json)
    if every or args.tokens:
        token_bench(args.repeat, args.token_count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
