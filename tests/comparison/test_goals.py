"""compare --goal: which model to keep per goal, backed by a paired test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit
from typer.testing import CliRunner

import lossgap
from lossgap import InputError
from lossgap.cli import load_commands

runner = CliRunner()
app = load_commands()


def epochs(seed=0, n=6000, shift=0.6):
    """Two epochs with the same ranking: the second's logits are shifted (and calibrated),
    so the samples just below 0.5 flip, mostly to the right class, and accuracy at 0.5
    moves; yet every threshold of one has its twin in the other."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < expit(z + shift)).astype(int)
    return y, expit(z), expit(z + shift)


def test_threshold_flips_are_no_real_difference_for_decisions():
    y, first, second = epochs()
    c = lossgap.compare({"epoch1": first, "epoch2": second}, y, goals=["decisions"])
    # at 0.5 the accuracy gap is real by McNemar: the flips all go one way
    assert c.pairs[0].accuracy_difference.significant
    (choice,) = c.goals
    assert choice.goal == "decisions" and choice.keep is None
    assert choice.verdict.startswith("decisions: no real difference between")
    assert choice.tests[0].difference == 0.0 and not choice.tests[0].significant


def test_each_goal_keeps_the_model_that_wins_it():
    rng = np.random.default_rng(7)
    n = 3000
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < expit(z)).astype(int)
    good, noisy = expit(z), expit(z + rng.normal(0.0, 1.5, n))
    c = lossgap.compare({"good": good, "noisy": noisy}, y, goals=["all"])
    assert [g.goal for g in c.goals] == ["probabilities", "decisions", "ranking"]
    assert all(g.keep == "good" for g in c.goals)
    assert all(g.tests[0].significant for g in c.goals)
    out = c.to_dict()["goals"]
    assert out["ranking"]["score"] == "roc_auc" and out["ranking"]["keep"] == "good"


def test_goals_with_costs_and_bad_goal():
    y, first, second = epochs(seed=1)
    c = lossgap.compare({"a": first, "b": second}, y, goals=["decisions"], costs=(1, 5))
    assert c.goals[0].keep is None
    with pytest.raises(InputError, match="unknown goal 'speed'"):
        lossgap.compare({"a": first, "b": second}, y, goals=["speed"])
    with pytest.raises(InputError, match="add --goal decisions"):
        lossgap.compare({"a": first, "b": second}, y, costs=(1, 5))


def test_cli_goal(tmp_path):
    y, first, second = epochs(n=1500)
    path = tmp_path / "epochs.csv"
    rows = "\n".join(f"{a},{b},{c}" for a, b, c in zip(y, first, second, strict=True))
    path.write_text("y,e1,e2\n" + rows + "\n")
    result = runner.invoke(
        app, ["compare", str(path), "--prob", "e1", "--prob", "e2", "--goal", "decisions", "--json"]
    )
    assert result.exit_code == 0, result.output
    goals = json.loads(result.stdout)["goals"]
    assert list(goals) == ["decisions"] and goals["decisions"]["keep"] is None
    for full in ([], ["--full"]):  # the short answer and the full comparison
        args = ["compare", str(path), "--prob", "e1", "--prob", "e2", "--goal", "decisions"]
        text = runner.invoke(app, args + full)
        assert "no real difference between e1 and e2" in " ".join(text.stdout.split())


def test_report_says_which_to_keep():
    from lossgap.render.html import comparison_report

    y, first, second = epochs(n=1000)
    c = lossgap.compare({"a": first, "b": second}, y, goals=["decisions"])
    page = comparison_report(c).html()
    assert "Which to keep" in page and "no real difference between a and b" in page
