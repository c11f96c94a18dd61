"""Run :func:`specs.validate_document` over a corpus and print issue counts, verdicts, timings.

Documented measurement, not a test.  For each document of the corpus (default
``tests/corpus/public``, with its ``MANIFEST.tsv``) it prints the number of issues by
kind, the verdict (``valid`` when there is no issue other than an external reference), the
expected validity from the manifest, and the median validation time (load excluded) of
``--repeat`` runs.  ``--json FILE`` also writes the results (including every issue) so two
runs (before / after a change) can be compared with ``--compare OLD.json``.

Usage: ``python scripts/validate_corpus.py [--corpus DIR] [--repeat N] [--json OUT]
[--compare OLD.json] [FILE ...]``
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from specs import load_document, validate_document

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "public"


def _manifest(corpus: Path) -> dict[str, str]:
    path = corpus / "MANIFEST.tsv"
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        return {row["file"]: row["expected_validity"]
                for row in csv.DictReader(fh, delimiter="\t")}


def _run(path: Path, repeat: int) -> dict[str, Any]:
    doc = load_document(path.read_bytes())
    times = []
    issues = []
    for _ in range(repeat):
        started = time.perf_counter()
        issues = validate_document(doc)
        times.append(time.perf_counter() - started)
    blocking = [i for i in issues if i.kind != "external-ref"]
    return {
        "file": path.name,
        "verdict": "invalid" if blocking else "valid",
        "kinds": dict(Counter(i.kind for i in issues)),
        "count": len(issues),
        "seconds": statistics.median(times),
        "issues": [i.to_dict() for i in issues],
    }


def main() -> int:
    """Entry point; returns 1 when a verdict disagrees with the manifest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    expected = _manifest(args.corpus)
    files = args.files or sorted(p for p in args.corpus.iterdir() if p.name in expected)
    old: dict[str, Any] = {}
    if args.compare:
        old = {r["file"]: r for r in json.loads(args.compare.read_text())}
    results = []
    mismatches = 0
    header = f"{'file':48} {'expect':8} {'verdict':8} {'issues':>6} {'seconds':>8}"
    if old:
        header += f"  {'old':>6} {'old s':>8} {'ratio':>6} old-verdict"
    print(header)
    for path in files:
        result = _run(path, args.repeat)
        results.append(result)
        want = expected.get(path.name, "unknown")
        bad = want in ("valid", "invalid") and want != result["verdict"]
        mismatches += bad
        line = (f"{path.name:48} {want:8} {result['verdict']:8} {result['count']:6d} "
                f"{result['seconds']:8.3f}")
        if path.name in old:
            before = old[path.name]
            line += (f"  {before['count']:6d} {before['seconds']:8.3f} "
                     f"{result['seconds'] / max(before['seconds'], 1e-9):6.2f} "
                     f"{before['verdict']}")
        print(line + ("  MISMATCH" if bad else "") + f"  {result['kinds']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
