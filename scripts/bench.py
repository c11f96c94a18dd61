"""Ingest benchmark: Stagegate's whole spec check against openapi-spec-validator alone.

Run on demand (``make bench``), never as a test.  For each large corpus document it prints the
median wall time of:

- **baseline**: ``openapi_spec_validator.validate(data)`` on the same parsed document (it
  stops at the first error);
- **baseline-all**: the same validator class iterating *all* errors (what a report needs);
- **ours**: :func:`policies.check.check_spec` on the raw bytes — load (JSON / YAML 1.2 with
  positions and limits), validate, every spec rule, locations of every finding;

and the ratios ``ours / baseline`` (target ≤ 1.0) and ``ours / baseline-all``.  Timings on
these machines are noisy, so only ratios measured in the same run are meaningful.

It also measures re-uploading identical bytes through the REST API (target < 50 ms): the
revision is recognised by its SHA-256 before any parsing.

Usage: ``python scripts/bench.py [--repeat N] [--corpus DIR] [FILE ...]``
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from policies.check import check_spec  # noqa: E402
from specs.validate import VALIDATORS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "specs"
LARGE = [
    "osv-bench-docker-engine-v1.53.yaml",
    "adyen-checkout-v71.json",
    "box-platform.json",
    "twilio-api-v2010.json",
    "openai-api.yaml",
    "osv-bench-kubernetes.yaml",
    "kubernetes-swagger.json",
    "cloudflare-api-2024-08.json",
]


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def baseline(data: dict) -> None:
    try:
        validate(data)
    except OpenAPIValidationError:
        pass
    except Exception:  # noqa: BLE001 - the plain validator crashes on some inputs; time it anyway
        pass


def baseline_all(data: dict, version: str) -> None:
    try:
        for _ in VALIDATORS[version](data).iter_errors():
            pass
    except Exception:  # noqa: BLE001
        pass


def reupload_ms(raw: bytes, repeat: int) -> float:
    """Median milliseconds for PUTting identical bytes again through the REST API."""
    from lifecycle import create_app
    from lifecycle.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
            "SECRET_KEY": "bench-only",
        })
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
        client = app.test_client()
        client.post("/api/v1/apis", json={"name": "bench", "title": "Bench"})
        client.post("/api/v1/apis/bench/versions", json={"version": "1.0.0"})
        url = "/api/v1/apis/bench/versions/1.0.0/spec"
        first = client.put(url, data=raw)
        assert first.status_code == 201, first.get_json()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            again = client.put(url, data=raw)
            times.append(time.perf_counter() - start)
            assert again.status_code == 200, again.get_json()
        with app.app_context():
            db.engine.dispose()
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="corpus file names (default: the large ones)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--corpus", type=Path,
                        default=Path(os.environ.get("STAGEGATE_CORPUS", DEFAULT_CORPUS)))
    args = parser.parse_args()
    names = args.files or LARGE
    print(f"corpus: {args.corpus}   repeat: {args.repeat} (medians)   "
          f"python: {sys.version.split()[0]}")
    header = f"{'document':38} {'size':>8} {'baseline':>9} {'base-all':>9} {'ours':>8} " \
             f"{'ours/base':>9} {'ours/all':>8} {'findings':>8}"
    print(header)
    print("-" * len(header))
    for name in names:
        raw = (args.corpus / name).read_bytes()
        check = check_spec(raw)
        data = check.document.data
        version = check.document.openapi_version or "3.0"
        t_base = median_time(functools.partial(baseline, data), args.repeat)
        t_all = median_time(functools.partial(baseline_all, data, version), args.repeat)
        t_ours = median_time(functools.partial(check_spec, raw), args.repeat)
        failed = sum(1 for f in check.findings if f.status != "pass")
        print(f"{name[:38]:38} {len(raw) / 1e6:7.2f}M {t_base:8.2f}s {t_all:8.2f}s "
              f"{t_ours:7.2f}s {t_ours / t_base:9.2f} {t_ours / t_all:8.2f} {failed:8d}")
    raw = (args.corpus / "kubernetes-swagger.json").read_bytes()
    print(f"\nre-upload of identical bytes (kubernetes-swagger.json, 4.1 MB) through "
          f"PUT …/spec: {reupload_ms(raw, max(args.repeat, 5)):.1f} ms median (target < 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
