"""The command line starts fast: listing commands imports none of them."""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from collections.abc import Sequence

import lossgap
from lossgap.cli import COMMANDS, app, load_commands


def test_command_list_matches_each_command_docstring() -> None:
    load_commands()
    # the list shows each command's summary: its docstring's first paragraph
    real = {
        info.name: (inspect.getdoc(info.callback) or "").split("\n\n")[0]
        for info in app.registered_commands
    }
    assert {name: real[name] for name in COMMANDS} == COMMANDS


def run(*code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "\n".join(code)], capture_output=True, text=True, check=True
    )
    return out.stdout


def loaded_by(argv: list[str], modules: Sequence[str]) -> list[str]:
    """Which of ``modules`` a fresh process has imported once ``lossgap ARGV`` ran (its
    output discarded; the command must succeed)."""
    out = run(
        "import sys, io, contextlib",
        "from lossgap.cli import main",
        "with contextlib.redirect_stdout(io.StringIO()):",
        "    try:",
        f"        main({argv!r})",
        "    except SystemExit as exc:",
        "        assert not exc.code, exc.code",
        f"print(sorted(m for m in {tuple(modules)!r} if m in sys.modules))",
    )
    return ast.literal_eval(out.strip().splitlines()[-1])


def test_help_and_version_load_no_numerics() -> None:
    loaded = run(
        "import sys",
        "from lossgap.cli import main",
        "for argv in (['--help'], ['--version']):",
        "    try:",
        "        main(argv)",
        "    except SystemExit:",
        "        pass",
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'scipy', 'pyarrow')))",
    )
    assert loaded.strip().splitlines()[-1] == "[]"


def test_version_flag_and_json_stamp(tmp_path) -> None:
    version = subprocess.run(
        [sys.executable, "-m", "lossgap", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout == f"lossgap {lossgap.__version__}\n"
    out = subprocess.run(
        [sys.executable, "-m", "lossgap", "interpret", "--loss", "0.4", "--accuracy", "0.8",
         "--json"],
        capture_output=True, text=True, check=True,
    )
    data = json.loads(out.stdout)
    assert data["lossgap_version"] == lossgap.__version__
    assert data["schema_version"] == 1


def test_import_lossgap_loads_the_api_on_first_use() -> None:
    loaded = run(
        "import sys, lossgap",
        "before = 'lossgap.explanation' in sys.modules",
        "explain = lossgap.explain",
        "print(before, callable(explain), 'lossgap.explanation' in sys.modules)",
    )
    assert loaded.split() == ["False", "True", "True"]


def test_explain_loads_no_more_than_it_uses(tmp_path) -> None:
    # scipy.stats (its distributions), pandas and matplotlib cost the command line a second
    # or more of start-up; `explain FILE --json` needs none of them, nor the terminal's
    # renderers, nor numba below a few million rows (loading it and its cached kernels
    # costs more than they save there)
    path = tmp_path / "p.csv"
    rows = "".join(f"{i % 2},{0.1 + 0.8 * (i % 7) / 6}\n" for i in range(60))
    path.write_text("label,prob\n" + rows)
    unused = ("scipy.stats", "pandas", "matplotlib", "numba", "lossgap.render.slices")
    assert loaded_by(["explain", str(path), "--json"], unused) == []


def test_small_runs_keep_numpys_kernels_for_every_step(tmp_path) -> None:
    # the evaluation's compiled kernels (bootstrap_kernels) would load numba, 0.5 s of a
    # fresh process: a small compare, and explain's calibrator and report, keep numpy
    # (200 rows: the calibrator's cross-fitting needs 50 of the rarer class, and with 80
    # the command stopped at "no calibrator to save" before writing either)
    rows = [f"{i % 2},{0.1 + 0.8 * (i % 7) / 6},{0.2 + 0.6 * (i % 5) / 4}" for i in range(200)]
    path = tmp_path / "m.csv"
    path.write_text("label,a_prob,b_prob\n" + "\n".join(rows) + "\n")
    one = tmp_path / "p.csv"
    one.write_text("label,prob\n" + "\n".join(r.rsplit(",", 1)[0] for r in rows) + "\n")
    commands = (
        ["compare", str(path), "--json"],
        ["explain", str(one), "--json", "--save-calibrator", str(tmp_path / "c.json"),
         "--md", str(tmp_path / "r.md")],
    )
    for argv in commands:
        assert loaded_by(argv, ["numba"]) == [], argv


def test_compare_runs_without_scipy_stats(tmp_path) -> None:
    """compare's exact McNemar tail, paired t and Kendall's tau come from scipy.special
    and numpy: importing scipy.stats would cost every compare command 0.5 s."""
    path = tmp_path / "models.csv"
    rows = [f"{i % 2},{(i % 7) / 7:.3f},{(i % 5) / 5:.3f},{(i % 3) / 3:.3f}" for i in range(60)]
    path.write_text("label,a_prob,b_prob,c_prob\n" + "\n".join(rows) + "\n")
    assert loaded_by(["compare", str(path), "--json"], ["scipy.stats"]) == []


def test_interpret_and_history_skip_the_slowest_scipy_modules(tmp_path) -> None:
    """`lossgap interpret` needs neither scipy.optimize nor scipy.stats, `lossgap history`
    neither scipy.stats nor scipy.ndimage: together 0.1-0.4 s of each command's start."""
    log = tmp_path / "log.csv"
    rows = "".join(f"{e},{1 / (e + 1)},{0.5 + e / 100}\n" for e in range(30))
    log.write_text("epoch,loss,val_loss\n" + rows)
    heavy = ("scipy.optimize", "scipy.stats", "scipy.ndimage")
    assert loaded_by(["interpret", "--loss", "0.46", "--accuracy", "0.78", "--json"], heavy) == []
    assert loaded_by(["history", str(log), "--json"], heavy) == []
