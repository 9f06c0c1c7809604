"""Findings come from the rule book only: no module but ``rules/book.py`` builds a
``Finding`` itself, and none but the book defines a threshold of a finding."""

from __future__ import annotations

import ast
from pathlib import Path

from lossgap.rules import book

SRC = Path(__file__).resolve().parents[2] / "src" / "lossgap"
BOOK = SRC / "rules" / "book.py"

#: The book's thresholds: its upper-case float constants.
THRESHOLDS = {name for name, value in vars(book).items() if name.isupper() and type(value) is float}


def _trees() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(SRC)): ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(SRC.rglob("*.py"))
        if path != BOOK
    }


def _builds_finding(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    return name == "Finding"


def test_only_the_rule_book_builds_a_finding():
    trees = _trees()
    assert len(trees) > 100  # the whole package, not an empty glob
    direct = [
        f"{module}:{node.lineno}"
        for module, tree in trees.items()
        for node in ast.walk(tree)
        if _builds_finding(node)
    ]
    assert not direct, f"Finding(...) outside rules/book.py (use CODE.finding): {direct}"


def test_the_check_sees_a_direct_finding():
    tree = ast.parse('Finding("x", "low", "m")\nev.Finding("x", "low", "m")\nCODE.finding("low")')
    assert [_builds_finding(n) for n in ast.walk(tree) if isinstance(n, ast.Call)] == [
        True,
        True,
        False,
    ]


def test_no_module_but_the_book_defines_a_threshold():
    assert {"ALPHA", "FLOOR_NATS", "HIGH_NATS", "FLOOR_ACCURACY", "WIDE_HALF_WIDTH"} <= THRESHOLDS
    defined = [
        f"{module}: {target.id}"
        for module, tree in _trees().items()
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id in THRESHOLDS
    ]
    assert not defined, f"thresholds of the rule book defined again: {defined}"
