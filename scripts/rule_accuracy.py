"""Per-rule accuracy of Stagegate's spec rules against hand-checked expectations.

Runs :func:`policies.check.check_spec` over Stagegate's own documents (``tests/corpus/own``,
expectations in its ``EXPECTED.tsv``) and the public corpus (default
``tests/corpus/public``, expectations in ``tests/corpus/public-expected.tsv``) and prints,
per rule, true positives (an expected finding reported at its pointer with its status), false
positives (a reported finding not expected) and false negatives (an expected finding not
reported), then every false positive and negative::

    python scripts/rule_accuracy.py [--public DIR]

Scored: every non-``pass`` finding of TRN-NO-TOKEN-IN-URL, TRN-BEARER-HEADER,
TRN-OAUTH-GRANTS, TRN-NO-BASIC-AUTH and SPEC-TOKEN-PROFILE, and the ``error`` findings of
SPEC-OPERATIONS-SECURED (operations defined outside the document).  ``quiet`` rows (near-misses
that must stay silent) are reported as their own count; one reported at or below such a
pointer is also a false positive.  Exit status 0 when there is no false positive or negative,
1 otherwise, 2 when an expectation file is missing.  The Spectral comparison the issue
mentions is not part of this script.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from policies.check import check_spec  # noqa: E402
from specs.errors import SpecLoadError  # noqa: E402

OWN = ROOT / "tests" / "corpus" / "own"
PUBLIC_EXPECTED = ROOT / "tests" / "corpus" / "public-expected.tsv"
DEFAULT_PUBLIC = Path(__file__).resolve().parents[1] / "tests" / "corpus" / "public"
#: rule id -> the finding statuses scored for it
SCORED: dict[str, frozenset[str]] = {
    "TRN-NO-TOKEN-IN-URL": frozenset({"fail", "error", "not-applicable"}),
    "TRN-BEARER-HEADER": frozenset({"fail", "error", "not-applicable"}),
    "TRN-OAUTH-GRANTS": frozenset({"fail", "error", "not-applicable"}),
    "TRN-NO-BASIC-AUTH": frozenset({"fail", "error", "not-applicable"}),
    "SPEC-TOKEN-PROFILE": frozenset({"fail", "error", "not-applicable"}),
    "SPEC-OPERATIONS-SECURED": frozenset({"error"}),
}


class Key(NamedTuple):
    """One finding as scored: document, rule, status and pointer (``None``: no pointer)."""

    file: str
    rule_id: str
    status: str
    pointer: str | None


def read_expected(path: Path) -> tuple[set[Key], set[Key]]:
    """``(expected findings, quiet near-misses)`` of an expectation TSV (``#`` comments;
    columns file, rule_id, status, severity, pointer (``-``: none), line, note)."""
    expected: set[Key] = set()
    quiet: set[Key] = set()
    for text in path.read_text(encoding="utf-8").splitlines():
        if not text.strip() or text.startswith("#"):
            continue
        file, rule_id, status, _severity, pointer, *_ = text.split("\t")
        key = Key(file, rule_id, status, None if pointer == "-" else pointer)
        (quiet if status == "quiet" else expected).add(key)
    return expected, quiet


def reported(path: Path) -> set[Key]:
    """The scored findings ``check_spec`` reports for the document at ``path``."""
    try:
        check = check_spec(path.read_bytes())
    except SpecLoadError:
        return set()
    return {
        Key(path.name, f.rule_id, str(f.status), f.pointer) for f in check.findings
        if str(f.status) in SCORED.get(f.rule_id, frozenset())
    }


def _under(key: Key, quiet: Key) -> bool:
    return key.file == quiet.file and key.rule_id == quiet.rule_id and (
        quiet.pointer in ("", None) or key.pointer == quiet.pointer
        or (key.pointer or "").startswith(f"{quiet.pointer}/"))


def main(argv: list[str] | None = None) -> int:
    """Print the table; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--public", type=Path, default=DEFAULT_PUBLIC,
                        help="directory of the public corpus documents")
    args = parser.parse_args(argv)
    sources = [(OWN, OWN / "EXPECTED.tsv"), (args.public, PUBLIC_EXPECTED)]
    expected: set[Key] = set()
    quiet: set[Key] = set()
    found: set[Key] = set()
    for folder, expectations in sources:
        if not expectations.is_file() or not folder.is_dir():
            print(f"missing {expectations} or {folder}", file=sys.stderr)
            return 2
        exp, qui = read_expected(expectations)
        expected |= exp
        quiet |= qui
        for path in sorted(folder.iterdir()):
            if path.suffix in (".yaml", ".yml", ".json"):
                found |= reported(path)
    true_pos = found & expected
    false_pos = found - expected
    false_neg = expected - found
    silent = [q for q in quiet if not any(_under(k, q) for k in found)]
    counts: dict[str, Counter[str]] = {rule: Counter() for rule in SCORED}
    for name, keys in (("tp", true_pos), ("fp", false_pos), ("fn", false_neg)):
        for key in keys:
            counts[key.rule_id][name] += 1
    print(f"{'rule':26} {'TP':>5} {'FP':>5} {'FN':>5}")
    for rule, count in counts.items():
        print(f"{rule:26} {count['tp']:5} {count['fp']:5} {count['fn']:5}")
    print(f"near-misses that stayed quiet: {len(silent)}/{len(quiet)}")
    for title, keys in (("false positive", false_pos), ("false negative", false_neg)):
        for key in sorted(keys, key=lambda k: (k.file, k.rule_id, k.pointer or "")):
            print(f"{title}: {key.file} {key.rule_id} {key.status} {key.pointer}")
    return 1 if false_pos or false_neg else 0


if __name__ == "__main__":
    sys.exit(main())
