"""Seeded data that no test was tuned to, named cases, and the real logs kept with the tests."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

#: Real training logs and prediction files from public repositories (provenance and
#: licences in its SOURCES.md).
#: Third-party training logs and predictions, read where the workplace keeps them and never
#: copied into the project (their SOURCES.md: "read them in tests from ../shared/real-logs/,
#: never copy them into the project"); LOSSGAP_REAL_LOGS names another place.
REAL_LOGS = Path(
    os.environ.get(
        "LOSSGAP_REAL_LOGS", Path(__file__).resolve().parents[3] / "shared" / "real-logs"
    )
)
#: Marks a test that reads them; outside the workplace (no such folder) it is skipped.
needs_real_logs = pytest.mark.skipif(
    not REAL_LOGS.is_dir(), reason=f"the third-party logs are not at {REAL_LOGS}"
)


def random_binary(rng: np.random.Generator, n: int, *, ties: bool = False):
    """Labels drawn from the probabilities (so roughly calibrated), optionally tied."""
    p = rng.beta(0.7, 0.7, size=n)
    if ties:
        p = np.round(p, 1)
    y = (rng.random(n) < p).astype(int)
    return y, p


def random_multiclass(rng: np.random.Generator, n: int, k: int):
    prob = rng.dirichlet(np.full(k, 0.6), size=n)
    y = np.array([rng.choice(k, p=row) for row in prob])
    return y, prob


def calibrated_logits(seed: int, n: int = 2000):
    """Labels drawn from sigmoid(t): a perfectly calibrated model with logits t."""
    rng = np.random.default_rng(seed)
    t = rng.normal(0.0, 2.0, n)
    return (rng.uniform(size=n) < expit(t)).astype(int), t


def mri_case():
    """Shaped like the brain-MRI question: 108 balanced samples, accuracy about 0.87, a few
    errors made with near-certainty by an overconfident network (temperature 15)."""
    rng = np.random.default_rng(3)
    y = np.repeat([0, 1], 54)
    t = rng.normal(np.where(y == 1, 1.2, -1.2), 1.0)
    return y, 15.0 * t


#: scikit-learn's bundled datasets with label noise put in (benchmarks/label_errors.py).
FLIP_DATASETS = ("digits", "breast_cancer", "wine")
FLIP_MODELS = ("logistic", "forest")


def flipped_labels(name: str, model: str, seed: int, rate: float = 0.05):
    """One of scikit-learn's bundled datasets with ``rate`` of its labels moved to another
    class (uniformly), and out-of-fold probabilities of a model trained on the noisy labels
    (5 stratified folds): ``(noisy labels, probabilities (n, k), flipped mask)``."""
    from sklearn import datasets
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    rng = np.random.default_rng([seed, len(y)])
    k = int(y.max()) + 1
    flipped = np.zeros(len(y), dtype=bool)
    flipped[rng.choice(len(y), round(rate * len(y)), replace=False)] = True
    noisy = np.where(flipped, (y + rng.integers(1, k, len(y))) % k, y)
    estimator = (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
        if model == "logistic"
        else RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    )
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    prob = cross_val_predict(estimator, x, noisy, cv=folds, method="predict_proba")
    return noisy, prob, flipped
