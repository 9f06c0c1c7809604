"""The lab: logistic-regression illustrations of where cross-entropy and accuracy part
ways, runnable and plotted.

:func:`logistic_lab` fits one-input logistic regression by cross-entropy, finds the exact
accuracy maximum, and traces both along each parameter; :mod:`lossgap.render.plots.lab` draws it.
"""

from lossgap.lab.logistic import ILLUSTRATIONS, illustration, logistic_lab, simulate
from lossgap.results.lab import CrossEntropyFit, CutInterval, LabResult, Profile

__all__ = [
    "ILLUSTRATIONS",
    "CrossEntropyFit",
    "CutInterval",
    "LabResult",
    "Profile",
    "illustration",
    "logistic_lab",
    "simulate",
]
