"""Golden snapshots: each command's ``--json`` output on fixed inputs.

They pin what users get, so a refactoring that should change no output (a module moved, a
result retyped) is checked against the answer from before it. A change that is meant to
alter an output regenerates them on purpose, and the diff of ``tests/golden/*.json`` is
then reviewed like code::

    python tests/golden/test_golden.py --update
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.helpers.data import REAL_LOGS, needs_real_logs

HERE = Path(__file__).parent
INPUTS = HERE / "inputs"
LOGS = REAL_LOGS  # third-party logs, never copied into the project

# name -> argv (paths relative to the inputs or the third-party real logs)
CASES: dict[str, list[str]] = {
    "explain_binary": ["explain", "{in}/binary.csv", "--prob", "over", "--id", "id"],
    "explain_weighted": ["explain", "{in}/binary.csv", "--prob", "noisy", "--weight", "w"],
    "explain_multiclass": ["explain", "{in}/multiclass.csv", "--prob", "p_*"],
    "explain_stream": ["explain", "{in}/binary.csv", "--prob", "calibrated", "--engine", "stream"],
    "compare_binary": [
        "compare", "{in}/binary.csv", "--prob", "over", "--prob", "calibrated",
        "--prob", "noisy", "--id", "id",
    ],
    "history_keras": ["history", "{logs}/keras/BrandtKaufmann__CatClassifier__training.log"],
    "history_lightning": [
        "history",
        "{logs}/lightning/chandanreddy10__Fashion-MNIST__logs__lightning_logs__version_16__metrics.csv",
    ],
    "interpret_pair": [
        "interpret", "loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826",
    ],
    "interpret_numbers": ["interpret", "--loss", "1.5996", "--f1", "87.38%", "--n", "108"],
    "lab_illustration": ["lab", "logistic", "--illustration", "1"],
}

# keys whose values name the machine or the version, not the answer
VOLATILE = {"lossgap_version", "schema_version", "path", "source", "sources", "file", "files"}


def argv(name: str) -> list[str]:
    fill = {"{in}": str(INPUTS), "{logs}": str(LOGS)}
    out = []
    for arg in CASES[name]:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return [*out, "--json"]


def run(name: str) -> Any:
    from lossgap.cli import load_commands

    result = CliRunner().invoke(load_commands(), argv(name))
    assert result.exit_code == 0, result.output
    return strip(json.loads(result.stdout))


def strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [strip(v) for v in node]
    if isinstance(node, str):  # paths inside messages
        return node.replace(str(INPUTS), "{in}").replace(str(LOGS), "{logs}")
    return node


def assert_same(got: Any, want: Any, where: str = "$") -> None:
    """Equal structure, equal strings, floats equal to 1e-9 relative (BLAS sums may differ).

    Keys are compared as sets: a JSON object has no order.
    """
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys differ"
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: lengths differ"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and isinstance(got, (int, float)):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(case, marks=needs_real_logs) if "{logs}" in " ".join(CASES[case]) else case
        for case in sorted(CASES)
    ],
)
def test_golden(name: str) -> None:
    want = json.loads((HERE / f"{name}.json").read_text())
    assert_same(run(name), want)


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit("usage: python tests/golden/test_golden.py --update")
    for case in sorted(CASES):
        (HERE / f"{case}.json").write_text(json.dumps(run(case), indent=1) + "\n")
        print("wrote", case)
