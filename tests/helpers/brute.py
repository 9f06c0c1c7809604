"""Brute-force references for lossgap.core.bounds: linear programs over fine grids.

A bound is checked against the extremes of a linear program over distributions of
forecasts (or of (loss, correct) atoms) on a grid far finer than any tolerance tested.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog
from scipy.special import entr, expit, softmax


def lp_extremes(objective, equalities):
    """(min, max) of sum w * objective over w >= 0 meeting sum w * row = rhs; None if none."""
    a_eq = np.array([row for row, _ in equalities])
    b_eq = np.array([rhs for _, rhs in equalities])
    out = []
    for sign in (1.0, -1.0):
        res = linprog(sign * objective, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if res.status == 2:
            return None
        assert res.status == 0, res.message
        out.append(sign * res.fun)
    return out[0], out[1]


#: Binary forecasts q of calibrated models (labels drawn as q), their entropy and accuracy.
BINARY_Q = np.linspace(0.0, 1.0, 4001)
BINARY_H = entr(BINARY_Q) + entr(1 - BINARY_Q)
BINARY_TOP = np.maximum(BINARY_Q, 1 - BINARY_Q)


def brute_binary_range(loss, base_rate=None):
    equalities = [(np.ones_like(BINARY_Q), 1.0), (BINARY_H, loss)]
    if base_rate is not None:
        equalities.append((BINARY_Q, base_rate))
    return lp_extremes(BINARY_TOP, equalities)


def binary_atoms(points=8001):
    z = np.linspace(-40.0, 40.0, points)  # odd: includes z = 0, the tie p = 1/2
    q = expit(z)
    loss = np.concatenate([np.logaddexp(0, -z), np.logaddexp(0, z)])  # y = 1, then y = 0
    correct = np.concatenate([q >= 0.5, q < 0.5]).astype(float)
    return loss, correct


def multiclass_atoms(classes=3):
    axis = np.linspace(-15.0, 15.0, 121)  # includes 0, so exact ties
    logits = np.array(
        [(0.0, *rest) for rest in itertools.product(axis, repeat=classes - 1)]
    )
    prob = softmax(logits, axis=1)
    decision = prob.argmax(axis=1)  # ties to the lowest index, as lossgap decides
    losses, correct = [], []
    for label in range(classes):
        losses.append(-np.log(prob[:, label]))
        correct.append((decision == label).astype(float))
    return np.concatenate(losses), np.concatenate(correct)


def brute_error_loss(atoms, loss, accuracy):
    atom_loss, correct = atoms
    error = 1.0 - correct
    return lp_extremes(
        atom_loss * error / (1.0 - accuracy),
        [(np.ones_like(atom_loss), 1.0), (correct, accuracy), (atom_loss, loss)],
    )
