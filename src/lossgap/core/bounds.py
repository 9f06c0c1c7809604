"""What a pair (log loss, accuracy) can and cannot mean, from theory alone.

Pure functions of a few numbers: no data, no printing. Every formula is derived in
``docs/theory.md`` and tested against brute force (linear programs over distributions of
forecasts) in ``tests/test_bounds.py``.

Conventions
-----------
* Natural logarithms (nats).
* Decisions: binary ``p >= 0.5`` predicts the positive class; with K classes the argmax,
  ties to the lowest class index. So a correct prediction gives its true class at least
  ``1/K`` (a loss of at most ``ln K``), and an error gives it at most ``1/2`` (a loss of at
  least ``ln 2``).
* *Calibrated* means canonically calibrated: among the samples that receive the forecast
  ``p``, the labels are distributed as ``p``. The expected log loss of such a model is the
  mean entropy of its forecasts and its expected accuracy the mean of their largest
  probability; the ranges here are about those expectations (a finite sample scatters
  around them, see :func:`accuracy_interval`).

Examples
--------
>>> lo, hi = calibrated_accuracy_range(0.4577)
>>> round(lo, 4), round(hi, 4)
(0.6698, 0.8289)
"""

from __future__ import annotations

import math

from lossgap.core.uncertainty import wilson
from lossgap.errors import InputError

LN2 = math.log(2.0)


def check_classes(classes: int) -> int:
    """The number of classes K as an int, or InputError."""
    if isinstance(classes, bool) or int(classes) != classes or classes < 2:
        msg = f"classes must be an integer of at least 2, got {classes!r}; give --classes K"
        raise InputError(msg)
    return int(classes)


#: A closed-interval value this close outside [0, 1] is a rounding error, and is clipped.
_ROUNDING = 1e-12


def _check_unit(value: float, name: str, *, open_interval: bool = False) -> float:
    value = float(value)
    if not open_interval and -_ROUNDING <= value <= 1.0 + _ROUNDING:
        value = min(max(value, 0.0), 1.0)  # e.g. a weighted mean of ones, 1.0000000000000002
    inside = 0.0 < value < 1.0 if open_interval else 0.0 <= value <= 1.0
    if not inside:
        bounds = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        msg = f"{name} must be {bounds}, got {value!r}; give it as a fraction (0.78, not 78)"
        raise InputError(msg)
    return value


def _check_above_chance(accuracy: float, classes: int, caller: str) -> tuple[int, float]:
    """(K, A) for functions defined on calibrated accuracies, A in [1/K, 1]."""
    classes = check_classes(classes)
    accuracy = _check_unit(accuracy, "accuracy")
    if accuracy < 1.0 / classes:
        msg = f"{caller} needs accuracy >= 1/{classes}, got {accuracy!r}"
        raise InputError(msg)
    return classes, accuracy


def _check_loss(loss: float) -> float:
    loss = float(loss)
    if not (loss >= 0.0 and math.isfinite(loss)):
        msg = f"the log loss must be a finite number >= 0, got {loss!r}"
        raise InputError(msg)
    return loss


def check_base_rate(base_rate: float | None, classes: int) -> float | None:
    """A binary positive-class share strictly inside (0, 1), or InputError."""
    if base_rate is None:
        return None
    if classes != 2:
        msg = (
            f"a base rate is the positive-class share of a binary task, but classes is "
            f"{classes}; leave it out (the no-skill loss is then ln {classes})"
        )
        raise InputError(msg)
    return _check_unit(base_rate, "the base rate", open_interval=True)


def binary_entropy(p: float) -> float:
    """Entropy of a coin with probability ``p``, in nats.

    Parameters
    ----------
    p : float
        A probability in [0, 1].

    Returns
    -------
    float
        ``h(p) = -p ln p - (1 - p) ln(1 - p)``, with ``0 ln 0 = 0``.

    Examples
    --------
    >>> round(binary_entropy(0.5), 6), binary_entropy(1.0)
    (0.693147, 0.0)
    """
    # -x ln x by hand, as scipy.special.entr computes it: scipy.optimize and .special
    # are the slowest imports of `lossgap interpret`, which needs nothing else of them
    return float(sum(-x * math.log(x) for x in (p, 1.0 - p) if x > 0.0))


def baseline_log_loss(*, classes: int = 2, base_rate: float | None = None) -> float:
    """Log loss of the no-skill model that always predicts the base rates.

    Parameters
    ----------
    classes : int, default=2
        Number of classes K.
    base_rate : float or None, default=None
        Binary only: the share of the positive class. None takes the classes as equally
        frequent, which gives the largest no-skill loss, ``ln K``.

    Returns
    -------
    float
        ``h(base_rate)``, or ``ln K`` when no base rate is given.

    Examples
    --------
    >>> round(baseline_log_loss(), 4), round(baseline_log_loss(base_rate=0.1), 4)
    (0.6931, 0.3251)
    >>> round(baseline_log_loss(classes=4), 4)
    1.3863
    """
    classes = check_classes(classes)
    base_rate = check_base_rate(base_rate, classes)
    return math.log(classes) if base_rate is None else binary_entropy(base_rate)


def fano_loss(accuracy: float, *, classes: int = 2) -> float:
    """Largest expected log loss of a calibrated model with a given accuracy (Fano).

    Parameters
    ----------
    accuracy : float
        In ``[1/K, 1]`` (a calibrated model is never below ``1/K``).
    classes : int, default=2
        Number of classes K.

    Returns
    -------
    float
        ``F_K(A) = h(A) + (1 - A) ln(K - 1)``: every forecast gives ``A`` to its top class
        and spreads the rest evenly. For K = 2 this is ``h(A)``.

    Notes
    -----
    For a calibrated model the log loss is the conditional entropy ``H(Y | p)`` and the
    error rate that of a decision made from ``p``, so Fano's inequality
    ``H(Y | p) <= h(P_e) + P_e ln(K - 1)`` bounds the loss. See ``docs/theory.md``.

    References
    ----------
    Cover, T. M. & Thomas, J. A. (2006). Elements of Information Theory, 2nd ed., Wiley,
    Theorem 2.10.1 (Fano's inequality). https://doi.org/10.1002/047174882X

    Examples
    --------
    >>> round(fano_loss(0.7826), 4), round(fano_loss(0.5, classes=3), 4)
    (0.5236, 1.0397)
    """
    classes, accuracy = _check_above_chance(accuracy, classes, "fano_loss")
    return binary_entropy(accuracy) + (1.0 - accuracy) * math.log(classes - 1)


def mixture_loss(accuracy: float, *, classes: int = 2) -> float:
    """Smallest expected log loss of a calibrated model with a given accuracy.

    Parameters
    ----------
    accuracy : float
        In ``[1/K, 1]``.
    classes : int, default=2
        Number of classes K.

    Returns
    -------
    float
        The piecewise-linear function through the points ``(1/m, ln m)``, ``m = 1..K``:
        a mix of forecasts that are uniform over ``m`` and ``m + 1`` classes. For K = 2,
        ``2 ln 2 (1 - A)``: coin flips mixed with certainties.

    Examples
    --------
    >>> round(mixture_loss(0.7826), 4), round(mixture_loss(0.4, classes=3), 4)
    (0.3014, 0.9364)
    """
    classes, accuracy = _check_above_chance(accuracy, classes, "mixture_loss")
    m = min(math.floor(1.0 / accuracy), classes - 1)  # accuracy lies in [1/(m+1), 1/m]
    share = (1.0 / m - accuracy) / (1.0 / m - 1.0 / (m + 1))
    return math.log(m) + share * (math.log(m + 1) - math.log(m))


def _mixture_accuracy(loss: float, classes: int) -> float:
    """Inverse of mixture_loss on [0, ln K]."""
    m = min(math.floor(math.exp(loss)), classes - 1)  # loss lies in [ln m, ln(m+1)]
    share = (loss - math.log(m)) / (math.log(m + 1) - math.log(m))
    return 1.0 / m - share * (1.0 / m - 1.0 / (m + 1))


def _fano_accuracy(loss: float, classes: int) -> float:
    """Inverse of fano_loss on [0, ln K] (decreasing, so one root)."""
    if loss <= 0.0:
        return 1.0
    if loss >= math.log(classes):
        return 1.0 / classes
    log_rest = math.log(classes - 1)
    # bisection of the decreasing Fano loss to the doubles' resolution (at most 64 halvings
    # of [1/K, 1]; scipy's brentq to 1e-15 would import scipy.optimize for this alone)
    low, high = 1.0 / classes, 1.0
    for _ in range(64):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if binary_entropy(middle) + (1.0 - middle) * log_rest > loss:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def calibrated_accuracy_range(
    loss: float, *, classes: int = 2, base_rate: float | None = None
) -> tuple[float, float] | None:
    """Lowest and highest accuracy a calibrated model can have at a given log loss.

    Parameters
    ----------
    loss : float
        Log loss in nats.
    classes : int, default=2
        Number of classes K.
    base_rate : float or None, default=None
        Binary only: the positive-class share. None means unknown, which is the same as
        balanced here: the range is then the union over all base rates.

    Returns
    -------
    (low, high) or None
        None when no calibrated model has this loss (``loss`` above the no-skill loss
        ``ln K`` or ``h(base_rate)`` by more than rounding, 1e-12 nats).

    Notes
    -----
    ``high`` solves ``fano_loss(high) = loss``: every forecast equally confident.
    ``low`` solves ``mixture_loss(low) = loss`` (binary: ``1 - loss / (2 ln 2)``, a mix of
    coin flips and certainties), and with a base rate ``p`` it is at least the majority
    share ``max(p, 1 - p)``, which no calibrated model falls below.

    Examples
    --------
    >>> [round(v, 4) for v in calibrated_accuracy_range(0.4011)]
    [0.7107, 0.8621]
    >>> [round(v, 4) for v in calibrated_accuracy_range(0.3, base_rate=0.1)]
    [0.9, 0.9111]
    >>> calibrated_accuracy_range(1.5996) is None
    True
    """
    classes = check_classes(classes)
    loss = _check_loss(loss)
    base_rate = check_base_rate(base_rate, classes)
    no_skill = baseline_log_loss(classes=classes, base_rate=base_rate)
    if loss > no_skill + _ROUNDING:
        return None
    # a no-skill model's loss, summed in floating point, can land an ulp above ln K
    loss = min(loss, no_skill)
    low = _mixture_accuracy(loss, classes)
    if base_rate is not None:
        low = max(low, base_rate, 1.0 - base_rate)
    return low, _fano_accuracy(loss, classes)


def calibrated_loss_range(
    accuracy: float, *, classes: int = 2, base_rate: float | None = None
) -> tuple[float, float] | None:
    """Lowest and highest log loss a calibrated model can have at a given accuracy.

    Parameters
    ----------
    accuracy : float
        Accuracy in [0, 1].
    classes : int, default=2
        Number of classes K.
    base_rate : float or None, default=None
        Binary only: the positive-class share.

    Returns
    -------
    (low, high) or None
        ``(mixture_loss(A), fano_loss(A))``; None when no calibrated model has this
        accuracy (below ``1/K``, or below the majority share when the base rate is known).

    Examples
    --------
    >>> [round(v, 4) for v in calibrated_loss_range(0.7826)]
    [0.3014, 0.5236]
    >>> calibrated_loss_range(0.55, base_rate=0.3) is None
    True
    """
    classes = check_classes(classes)
    accuracy = _check_unit(accuracy, "accuracy")
    base_rate = check_base_rate(base_rate, classes)
    floor = 1.0 / classes if base_rate is None else max(base_rate, 1.0 - base_rate)
    if accuracy < floor:
        return None
    return mixture_loss(accuracy, classes=classes), fano_loss(accuracy, classes=classes)


def calibrated_feasible(
    loss: float | tuple[float, float],
    accuracy: float | tuple[float, float],
    *,
    classes: int = 2,
    base_rate: float | None = None,
) -> bool:
    """Whether some calibrated model has this loss and accuracy (or a pair in the boxes).

    Parameters
    ----------
    loss : float or (low, high)
        The log loss, or an interval of it (for instance the rounding of a printed value).
    accuracy : float or (low, high)
        The accuracy, or an interval of it (rounding, an F1 conversion, sampling noise).
    classes : int, default=2
    base_rate : float or None, default=None
        Binary only: the positive-class share.

    Returns
    -------
    bool
        True when the box meets the calibrated region
        ``{A >= A_0, mixture_loss(A) <= L <= fano_loss(A)}`` (``A_0`` is ``1/K`` or the
        majority share).

    Examples
    --------
    >>> calibrated_feasible(0.4577, 0.7826), calibrated_feasible(0.5, 0.9)
    (True, False)
    >>> calibrated_feasible((0.40, 0.45), (0.85, 0.9))
    True
    """
    classes = check_classes(classes)
    base_rate = check_base_rate(base_rate, classes)
    loss_low, loss_high = (_check_loss(v) for v in _as_interval(loss))
    acc_low, acc_high = (_check_unit(v, "accuracy") for v in _as_interval(accuracy))
    if loss_low > baseline_log_loss(classes=classes, base_rate=base_rate) + _ROUNDING:
        return False
    floor = 1.0 / classes if base_rate is None else max(base_rate, 1.0 - base_rate)
    ln_k = math.log(classes)
    # both bounds decrease in A: F(A) >= L_low iff A <= F^-1(L_low); P(A) <= L_high iff
    # A >= P^-1(L_high)
    low = max(acc_low, floor, _mixture_accuracy(min(loss_high, ln_k), classes))
    high = min(acc_high, _fano_accuracy(loss_low, classes))
    return low <= high + _ROUNDING


#: Slack for floating-point rounding on the edge of the calibrated region (a pair computed
#: from an exactly calibrated model can land one ulp outside it).
_ROUNDING = 1e-12


def _as_interval(value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, tuple):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def possible(loss: float, accuracy: float) -> bool:
    """Whether any predictions at all have this log loss and accuracy.

    Every error costs at least ``ln 2`` (its true class got at most one half), so the log
    loss is at least ``(1 - A) ln 2`` whatever the number of classes; any larger loss is
    reachable.

    Examples
    --------
    >>> possible(0.4011, 0.8224), possible(0.01, 0.9)
    (True, False)
    """
    loss = _check_loss(loss)
    accuracy = _check_unit(accuracy, "accuracy")
    return loss >= (1.0 - accuracy) * LN2


def error_loss_range(
    loss: float, accuracy: float, *, classes: int = 2
) -> tuple[float, float] | None:
    """What a log loss and an accuracy imply for the mean loss on the errors.

    Parameters
    ----------
    loss : float
        Mean log loss in nats.
    accuracy : float
        Accuracy.
    classes : int, default=2
        Number of classes K.

    Returns
    -------
    (low, high) or None
        The range of the mean log loss over the misclassified samples. None when there
        are no errors (accuracy 1) or when the pair is not :func:`possible`.

    Notes
    -----
    ``L = A L_c + (1 - A) L_e`` with the mean loss on correct predictions
    ``L_c in [0, ln K]`` and on errors ``L_e >= ln 2``. Hence
    ``L_e in [max(ln 2, (L - A ln K) / (1 - A)), L / (1 - A)]``; the upper end is reached
    when every correct prediction is certain, the lower one when each costs ``ln K``.
    ``exp(-L_e)`` is the geometric mean of the probability the errors give their true
    class.

    Examples
    --------
    >>> [round(v, 4) for v in error_loss_range(1.5996, 0.8738)]
    [7.8758, 12.6751]
    >>> [round(v, 4) for v in error_loss_range(0.4577, 0.7826)]
    [0.6931, 2.1053]
    """
    classes = check_classes(classes)
    if accuracy >= 1.0 or not possible(loss, accuracy):
        return None
    high = loss / (1.0 - accuracy)
    low = max(LN2, (loss - accuracy * math.log(classes)) / (1.0 - accuracy))
    return low, high


def accuracy_range_from_f1(f1: float, *, base_rate: float = 0.5) -> tuple[float, float]:
    """The accuracies a binary classifier with a given F1 can have at a base rate.

    Parameters
    ----------
    f1 : float
        F1 of the positive class, in (0, 1].
    base_rate : float, default=0.5
        Share of the positive class, in (0, 1).

    Returns
    -------
    (low, high)
        With true positives ``t`` (as a share of all samples), false positives
        ``x = 2t/F - t - p`` and accuracy ``A = 1 - 2t (1 - F) / F``; ``t`` ranges over
        ``[pF / (2 - F), min(p, F / (2 - F))]``.

    Examples
    --------
    >>> [round(v, 4) for v in accuracy_range_from_f1(0.8738)]
    [0.8556, 0.8879]
    """
    f1 = _check_unit(f1, "F1")
    if f1 == 0.0:
        msg = "F1 is 0: it says nothing about accuracy; give the accuracy instead"
        raise InputError(msg)
    p = _check_unit(base_rate, "the base rate", open_interval=True)
    t_low, t_high = p * f1 / (2.0 - f1), min(p, f1 / (2.0 - f1))
    slope = 2.0 * (1.0 - f1) / f1
    return 1.0 - slope * t_high, 1.0 - slope * t_low


def accuracy_interval(
    accuracy: float, n: int, *, confidence: float = 0.95
) -> dict[str, float | int | str]:
    """Sampling noise of an accuracy measured on ``n`` samples.

    Parameters
    ----------
    accuracy : float
        The observed accuracy.
    n : int
        Number of samples it was measured on.
    confidence : float, default=0.95
        Level of the interval.

    Returns
    -------
    dict
        ``n``, ``standard_error`` (``sqrt(A (1 - A) / n)``), ``ci_low``, ``ci_high``
        (Wilson score interval), ``confidence``, ``method`` and ``one_sample`` (``1/n``,
        the change one flipped prediction makes).

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and statistical
    inference. JASA 22(158). https://doi.org/10.1080/01621459.1927.10502953

    Examples
    --------
    >>> noise = accuracy_interval(0.7826, 1000)
    >>> round(noise["standard_error"], 4), round(noise["ci_low"], 4)
    (0.013, 0.7559)
    """
    accuracy = _check_unit(accuracy, "accuracy")
    if isinstance(n, bool) or int(n) != n or n < 1:
        msg = f"n (the number of samples) must be a positive integer, got {n!r}"
        raise InputError(msg)
    low, high = wilson(accuracy, n, confidence)
    return {
        "n": int(n),
        "standard_error": math.sqrt(accuracy * (1.0 - accuracy) / n),
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "method": "wilson",
        "one_sample": 1.0 / n,
    }
