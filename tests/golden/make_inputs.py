"""Write the fixed inputs of the golden snapshots (run once; the CSVs are committed).

Numbers drawn from numpy's PCG64 with fixed seeds, rounded to 6 decimals so the files are
the same bytes on every machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent / "inputs"


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    names = list(columns)
    rows = zip(*(columns[c] for c in names), strict=True)
    text = ",".join(names) + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows)
    path.write_text(text)


def main() -> None:
    HERE.mkdir(exist_ok=True)
    rng = np.random.default_rng(20261204)
    n = 600
    z = rng.normal(0.0, 1.6, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    over = np.round(1 / (1 + np.exp(-1.8 * z)), 6)
    calibrated = np.round(1 / (1 + np.exp(-z)), 6)
    noisy = np.round(np.clip(calibrated + rng.normal(0, 0.08, n), 0.001, 0.999), 6)
    weight = np.round(rng.uniform(0.5, 2.0, n), 3)
    _write(HERE / "binary.csv", {
        "id": np.array([f"s{i:04d}" for i in range(n)]), "label": y,
        "over": over, "calibrated": calibrated, "noisy": noisy, "w": weight,
    })
    k, m = 4, 500
    logits = rng.normal(0.0, 1.5, (m, k))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(k, p=row) for row in p])
    p = np.round(p, 6)
    p[:, -1] = np.round(1 - p[:, :-1].sum(axis=1), 6)
    cols = {"label": np.array(["ant", "bee", "cat", "dog"])[labels]}
    cols.update({f"p_{c}": p[:, i] for i, c in enumerate(["ant", "bee", "cat", "dog"])})
    _write(HERE / "multiclass.csv", cols)


if __name__ == "__main__":
    main()
