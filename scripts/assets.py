"""Copy the front-end files Stagegate serves from ``node_modules/`` into
``lifecycle/static/vendor/`` (git-ignored).

Run after ``npm ci``::

    npm ci && python scripts/assets.py

Exit status 0 when every file was copied, 1 with a message naming the missing file (usually:
``npm ci`` has not been run).  ``--check`` only reports whether the vendor files are present.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "lifecycle" / "static" / "vendor"

#: source in node_modules -> file name under lifecycle/static/vendor/
FILES: dict[str, str] = {
    "htmx.org/dist/htmx.min.js": "htmx.min.js",
    "htmx.org/LICENSE": "htmx.LICENSE",
}


def missing() -> list[str]:
    """Vendor file names that are not in ``lifecycle/static/vendor/`` yet."""
    return [name for name in FILES.values() if not (VENDOR / name).is_file()]


def copy(node_modules: Path = ROOT / "node_modules") -> list[Path]:
    """Copy :data:`FILES` into :data:`VENDOR`.

    :returns: the written paths.
    :raise FileNotFoundError: a source file is absent (``npm ci`` not run).
    """
    VENDOR.mkdir(parents=True, exist_ok=True)
    written = []
    for source, name in FILES.items():
        src = node_modules / source
        if not src.is_file():
            raise FileNotFoundError(f"{src} is missing: run `npm ci` in {ROOT} first")
        dest = VENDOR / name
        shutil.copyfile(src, dest)
        written.append(dest)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the files are present")
    args = parser.parse_args(argv)
    if args.check:
        gone = missing()
        for name in gone:
            print(f"missing: {VENDOR / name}", file=sys.stderr)
        return 1 if gone else 0
    try:
        for path in copy():
            print(f"copied {path.relative_to(ROOT)}")
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
