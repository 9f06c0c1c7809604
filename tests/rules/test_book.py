"""The rule book: every code lossgap emits is declared there once, and the doc lists them.

Three ways a code could escape the book, each closed by a test: a string compared with
``Finding.code`` somewhere in the package (a renderer matching a misspelt code would never
fire), a finding the commands actually emit on fixtures, and a declared code no rule uses
(or used by a command its entry does not name). The shared codes' severity functions are
checked at their thresholds against hand-computed verdicts.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import lossgap
from lossgap.interpret import interpret
from lossgap.rules import book
from lossgap.rules.book import CODES, Code
from tests.helpers.histories import make_history, write_keras_csv

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "lossgap"
GOLDEN = ROOT / "tests" / "golden"
INPUTS = GOLDEN / "inputs"

#: The command each rule module serves.
RULE_MODULES = {
    "explain": "explain",
    "decision": "explain",
    "slices": "explain",
    "compare": "compare",
    "history": "history",
    "interpret": "interpret",
}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _is_code(node: ast.expr) -> bool:
    """``f.code``, ``code``, ``f_code`` or ``codes``: an expression holding finding codes."""
    if isinstance(node, ast.Attribute):
        return node.attr == "code"
    return isinstance(node, ast.Name) and (node.id.endswith("code") or node.id == "codes")


def _strings(node: ast.expr, constants: dict[str, ast.expr]) -> Iterator[str]:
    """The string constants of a literal, a tuple/set/list of them, or a module constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Tuple | ast.Set | ast.List):
        for element in node.elts:
            yield from _strings(element, constants)
    elif isinstance(node, ast.Call) and node.args:  # frozenset({...})
        yield from _strings(node.args[0], constants)
    elif isinstance(node, ast.Name) and node.id in constants:
        yield from _strings(constants[node.id], constants)


def compared_codes() -> dict[str, set[str]]:
    """code -> the modules that compare a finding's code with it."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        tree = _tree(path)
        constants = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            if not any(_is_code(o) for o in operands):
                continue
            for operand in operands:
                if not _is_code(operand):
                    for text in _strings(operand, constants):
                        found.setdefault(text, set()).add(str(path.relative_to(SRC)))
    return found


def test_every_code_the_package_compares_with_is_registered():
    compared = compared_codes()
    # the scan must see the renderers' matches, or it proves nothing
    assert len(compared) >= 15, sorted(compared)
    unknown = {code: sorted(where) for code, where in compared.items() if code not in CODES}
    assert not unknown, f"codes compared with Finding.code but not in the rule book: {unknown}"


def _findings(value: Any) -> Iterator[dict[str, Any]]:
    """Every finding (a dict with code and severity) anywhere in a JSON document."""
    if isinstance(value, dict):
        if "code" in value and "severity" in value:
            yield value
        for inner in value.values():
            yield from _findings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _findings(inner)


def _check(findings: list[Any]) -> None:
    for f in findings:
        code, severity = (f["code"], f["severity"]) if isinstance(f, dict) else (f.code, f.severity)
        assert code in CODES, f"{code} is emitted but not in the rule book"
        assert severity in CODES[code].severities, (code, severity)


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_every_code_in_the_golden_outputs_is_registered(path):
    """The golden snapshots are each command's ``--json`` on fixtures (kept current by
    ``tests/golden``): every finding in them is the book's, at a severity it allows."""
    findings = list(_findings(json.loads(path.read_text(encoding="utf-8"))))
    _check(findings)


def test_every_code_emitted_on_fixtures_is_registered(tmp_path):
    """Each command on fixtures: explain with costs and groups, multiclass with a cost
    matrix, compare on three models, history on two synthetic Keras logs, interpret on
    pairs that reach most of its codes: what they emit is the book's."""
    binary = pd.read_csv(INPUTS / "binary.csv")
    groups = np.where(np.arange(len(binary)) % 2 == 0, "even", "odd")
    emitted = []
    for column in ("over", "calibrated", "noisy"):
        ev = lossgap.explain(binary["label"], binary[column], groups=groups, costs=[1, 4])
        emitted += ev.findings
    multi = pd.read_csv(INPUTS / "multiclass.csv")
    columns = [c for c in multi.columns if c.startswith("p_")]
    classes = [c.removeprefix("p_") for c in columns]
    cost = 1 - np.eye(len(classes))
    cost[0, 1] = 5
    ev = lossgap.explain(multi["label"], multi[columns], classes=classes, costs=cost)
    emitted += ev.findings
    emitted += lossgap.compare(
        {k: binary[k] for k in ("over", "calibrated", "noisy")}, binary["label"]
    ).findings
    for seed in range(2):
        log = write_keras_csv(tmp_path / f"log{seed}.csv", make_history(seed))
        emitted += [f for _, f in lossgap.history(log).all_findings()]
    for text in (
        "loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826",
        "loss: 0.1 - acc: 0.5",
        "loss: 0.9 - acc: 0.9",
        "loss: 0.62 - acc: 0.66",
        "loss: 0.2 - acc: 0.8",
        "loss: 0.05 - acc: 0.99 - val_loss: 0.6 - val_acc: 0.8",
    ):
        emitted += interpret(text, n=300).findings
    for text in ("loss: 0.5 - acc: 0.9", "loss: 0.05 - acc: 0.9", "loss: 0.6 - acc: 0.69"):
        emitted += interpret(text, base_rate=0.3).findings
    codes = {f.code for f in emitted}
    assert len(codes) >= 15, sorted(codes)  # the fixtures reach many rules, not one
    _check(emitted)


def _declared() -> dict[str, Code]:
    """The book's module constants that are codes, by constant name."""
    return {name: value for name, value in vars(book).items() if isinstance(value, Code)}


def test_the_registry_is_the_declared_constants():
    declared = _declared()
    assert {c.code for c in declared.values()} == set(CODES)
    assert all(name == code.code.upper() for name, code in declared.items())


def test_every_code_is_used_by_the_commands_it_names():
    """Each code is built by a rule module of each command its entry names, and by no
    other command's (``consistent`` through ``book.conclude``)."""
    declared = _declared()
    used: dict[str, set[str]] = {code: set() for code in CODES}
    for module, command in RULE_MODULES.items():
        tree = _tree(SRC / "rules" / f"{module}.py")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in declared:
                used[declared[node.id].code].add(command)
            if isinstance(node, ast.Attribute) and node.attr == "conclude":
                used["consistent"].add(command)
    mismatched = {
        code: (sorted(commands), list(CODES[code].commands))
        for code, commands in used.items()
        if commands != set(CODES[code].commands)
    }
    assert not mismatched, f"(used by, declared for): {mismatched}"


def test_every_entry_is_complete():
    for code in CODES.values():
        assert re.fullmatch(r"[a-z][a-z_]*[a-z]", code.code)
        assert code.title and code.tests and code.severity and code.doc, code.code
        assert list(code.severities) == sorted(code.severities, key=book.SEVERITIES.index)
        for name in code.limits():
            assert name in code.tests + code.severity, (code.code, name)


# --- the shared codes' one rule each, at their thresholds --------------------------------


def test_calibration_severity_at_its_thresholds():
    floor, high = book.FLOOR_NATS, book.HIGH_NATS
    assert [book.calibration_severity(g) for g in (None, floor / 2, floor, high - 1e-9, high)] == [
        "low",
        None,
        "medium",
        "medium",
        "high",
    ]
    assert book.calibration_severity(floor / 2, proven=True) == "medium"
    assert book.calibration_severity(high, proven=True) == "high"


def test_accuracy_near_majority_severity_at_its_thresholds():
    f = book.FLOOR_ACCURACY
    severity = book.accuracy_near_majority_severity
    assert severity(f, f, True) is None  # beats the majority by the floor, beyond noise
    assert severity(f, f, False) == "low"  # ...but not beyond noise
    assert severity(f / 2, f / 2, True) == "low"
    assert severity(-f, -f, True) == "medium"
    assert severity(-f / 2, -f / 2, True) == "low"
    assert severity(-f / 2, -f / 2, True, proven=True) == "medium"
    assert severity(-0.02, 0.01, True) == "low"  # an interval across the majority


def test_loss_above_baseline_and_wide_intervals_severity_at_their_thresholds():
    floor, alpha = book.FLOOR_NATS, book.ALPHA
    assert book.loss_above_baseline_severity(floor, None) == "high"
    assert book.loss_above_baseline_severity(floor / 2, None) is None
    assert book.loss_above_baseline_severity(1.0, alpha) is None  # p must be below ALPHA
    assert book.loss_above_baseline_severity(1.0, alpha / 2) == "high"
    w = book.WIDE_HALF_WIDTH
    assert book.wide_intervals_severity(w) == "low"
    assert book.wide_intervals_severity(w - 1e-9) is None
    assert book.infinite_loss_severity(True) == "high"
    assert book.infinite_loss_severity(False) == "medium"


def _code(result: Any, code: str) -> Any:
    return next((f for f in result.findings if f.code == code), None)


def test_interpret_and_explain_read_one_floor_for_accuracy_near_majority():
    """The same accuracy against the same majority share: interpret (a rounding interval
    of width 0) and the book give explain's verdict at each side of the floor."""
    for accuracy, expected in ((0.72, None), (0.703, "low"), (0.68, "medium")):
        found = _code(
            interpret(loss=0.6, accuracy=accuracy, base_rate=0.3), "accuracy_near_majority"
        )
        d = accuracy - 0.7
        assert book.accuracy_near_majority_severity(d, d, True) == expected
        assert (found.severity if found else None) == expected, accuracy


def test_interpret_overconfident_severity_follows_the_gain_rule():
    """Loss 0.70 at accuracy 0.55: the printed digits allow 0.695, above the Fano bound
    h(0.55) = 0.6881 by 0.0069 nats: medium (it was high whatever the size); loss 0.75 at
    accuracy 0.9 is far above h(0.9): high."""
    h = -(0.55 * np.log(0.55) + 0.45 * np.log(0.45))
    assert 0.695 - h == pytest.approx(0.0069, abs=5e-5)
    assert _code(interpret(loss=0.70, accuracy=0.55), "overconfident").severity == "medium"
    assert _code(interpret(loss=0.75, accuracy=0.9), "overconfident").severity == "high"


# --- docs/findings.md --------------------------------------------------------------------


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "findings_table", ROOT / "tools" / "findings_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_doc_table_is_the_rule_book():
    tool = _tool()
    doc = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    assert tool.current(doc) == tool.table(), "run: python tools/findings_table.py --write"
    rows = re.findall(r"^\| `(\w+)` \|", tool.current(doc), flags=re.MULTILINE)
    assert rows == list(CODES)


def test_the_doc_sections_name_exactly_the_registered_codes():
    doc = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    headings = re.findall(r"^#{3,4} (.*)$", doc, flags=re.MULTILINE)
    # a code's own section starts with it ("### `overconfident` and `underconfident` (...)")
    named = {code for h in headings for code in re.findall(r"`(\w+)`", h.split("(")[0])}
    assert named == set(CODES), {
        "not registered": named - set(CODES),
        "undocumented": set(CODES) - named,
    }


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("loss: 0.8 - acc: 1.0", "overconfident"),
        ("loss: 0.3 - acc: 1.0", "miscalibrated"),
        ("loss: 0.05 - acc: 0.9", "threshold_fragile"),
    ],
)
def test_interpret_rules_hold_when_the_printed_accuracy_has_no_error_range(text, code):
    """The digits allow the pair while the printed accuracy alone does not (1.0 has no
    errors; 0.05 is below (1 - 0.9) ln 2): the rule speaks without the errors' range (it
    raised an AssertionError, an internal error in the CLI)."""
    found = _code(interpret(text), code)
    assert found is not None
    assert "None" not in found.message and "nan" not in found.message
