"""Load the nginx fixtures of ``tests/unit/gateway/fixtures/<name>/`` as check_nginx bundles."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def bundle(name: str) -> dict[str, bytes]:
    """``{relative path: bytes}`` of every file of fixture ``name``."""
    root = FIXTURES / name
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def line_of(name: str, snippet: str, file: str = "nginx.conf") -> int:
    """The 1-based line of the only line of ``file`` in fixture ``name`` containing
    ``snippet`` (fails loudly when there is none or several)."""
    lines = (FIXTURES / name / file).read_text().splitlines()
    hits = [i for i, line in enumerate(lines, 1) if snippet in line]
    assert len(hits) == 1, f"{snippet!r} is on lines {hits} of {name}/{file}"
    return hits[0]
