"""The dependency direction is a test: the import-linter contracts of ``pyproject.toml`` hold,
a reverse import breaks them, and ``lifecycle`` has no import cycle (counting imports inside
functions, which grimp sees too)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lifecycle", "policies", "specs")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the tree at ``cwd`` (its own pyproject.toml), no cache."""
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"})


def copy_tree(tmp_path: Path) -> Path:
    """A copy of the three packages and pyproject.toml (no tests, assets or caches)."""
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package,
                        ignore=shutil.ignore_patterns("__pycache__", "static", "templates",
                                                      "*.yaml", "*.json"))
    return tree


def test_the_contracts_hold_and_a_reverse_import_breaks_them(tmp_path: Path) -> None:
    kept = lint_imports(ROOT)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "0 broken" in kept.stdout

    tree = copy_tree(tmp_path)
    # a core module reaching up into a feature (catalog) -- the kind of import that once
    # made services <-> evidence <-> keys a cycle
    errors = tree / "lifecycle" / "core" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom lifecycle.catalog import stages  # noqa\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0
    assert "lifecycle: entrypoints -> features -> core BROKEN" in broken.stdout
    assert "lifecycle.core is not allowed to import lifecycle.catalog" in broken.stdout


def test_a_framework_import_in_policies_breaks_the_contracts(tmp_path: Path) -> None:
    tree = copy_tree(tmp_path)
    gate = tree / "policies" / "gate.py"
    gate.write_text(gate.read_text() + "\nimport flask  # noqa\n")
    broken = lint_imports(tree)
    assert broken.returncode != 0
    assert "framework-free" in broken.stdout and "BROKEN" in broken.stdout


def lifecycle_cycles() -> list[tuple[str, ...]]:
    graph = grimp.build_graph("lifecycle", cache_dir=None)
    modules = sorted(m for m in graph.modules if m.startswith("lifecycle"))
    # Tarjan's strongly connected components over module-level edges (function-level
    # imports included: grimp reads every import statement).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[tuple[str, ...]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.find_modules_directly_imported_by(node)):
            if not succ.startswith("lifecycle"):
                continue
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.find_modules_directly_imported_by(node):
                found.append(tuple(sorted(component)))

    sys.setrecursionlimit(10000)
    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_lifecycle_has_no_import_cycle() -> None:
    assert lifecycle_cycles() == []
