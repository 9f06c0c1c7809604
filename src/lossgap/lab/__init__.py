"""The lab: logistic-regression illustrations of where cross-entropy and accuracy part ways, runnable and plotted.

:func:`logistic_lab` fits one-input logistic regression by cross-entropy, finds the exact
accuracy maximum, and traces both along each parameter; :mod:`lossgap.lab.plots` draws it.
"""

from lossgap.lab.logistic import (
    ILLUSTRATIONS,
    CrossEntropyFit,
    CutInterval,
    LabResult,
    Profile,
    illustration,
    logistic_lab,
    simulate,
)

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
