"""Label errors: which labels look wrong, and whether there are more than chance allows.

Two questions, two methods:

* **Which samples** (the candidates): *confident learning* (Northcutt, Jiang & Chuang 2021),
  the method of cleanlab's ``find_label_issues`` with its defaults, reimplemented on numpy
  with sample weights. Each class's threshold is its mean self-confidence (the probability
  the model gives the class, averaged over the samples labelled with it); a sample counts
  as confidently of class ``j`` when ``p_j`` reaches class ``j``'s threshold (the argmax
  among several); these counts form the *confident joint* of given and likely true labels,
  calibrated to the label counts; for each off-diagonal cell ``(given k, true j)`` the
  samples labelled ``k`` with the largest margin ``p_j - p_k`` are pruned, as many as the
  cell counts ("prune by noise rate"), and samples whose argmax is their label are kept.
  Unweighted, the set equals cleanlab's. The candidates listed add every label whose
  chance (below) is at most 1%: labels a calibrated model almost never draws, which
  confident learning can leave out (on digits with 5% of the labels flipped this lifts the
  recall from cleanlab's 0.82 to 0.86-0.90 at a slightly better precision).
* **How many beyond chance** (the test the finding reads): a calibrated model draws each
  label from its own probabilities, and gives a label of probability ``p_y`` a *chance*
  ``sum_{c: p_c <= p_y} p_c``: the probability of a label at most this likely. Under
  calibration a chance at most ``a`` occurs with probability at most ``a``, and the expected
  weight of such labels is exactly ``sum_i w_i sum_c p_ic [chance_ic <= a]``. The observed
  count, in effective samples (Kish), gets a Poisson upper-tail p-value; the capped log loss
  these labels carry beyond what the calibrated model's would carry is the effect size, in
  nats per sample. A model's many small wrong-class probabilities (a random forest's
  ``0.01`` for one tree in a hundred) do not blunt the test as a fixed probability cut
  would: a label at ``0.01`` beside nine other classes at ``0.01`` has chance ``0.1``.

Weights are importance weights: confident learning counts them in units of the mean weight
(so unit weights reproduce cleanlab's integer counts), the test in effective samples; neither
depends on the weights' scale.

References
----------
Northcutt, C. G., Jiang, L., & Chuang, I. L. (2021). Confident learning: estimating
uncertainty in dataset labels. JAIR 70. https://doi.org/10.1613/jair.1.12125
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import gammainc

from lossgap.core.diagnostics import at_most, class_columns
from lossgap.core.losses import CLIP_EPS
from lossgap.core.predictions import Predictions, python_scalar
from lossgap.core.rows import in_content_order
from lossgap.core.tally import Tally
from lossgap.core.uncertainty import effective_scale
from lossgap.errors import InputError
from lossgap.results.diagnostics import LabelCandidate, LabelErrors

#: A label whose chance under calibration is at most this counts in the test.
CHANCE_LEVEL = 0.01
#: cleanlab's fuzzy comparison: a probability within this of a threshold reaches it, and a
#: label within this of the argmax is the prediction.
TOLERANCE = 1e-6
#: cleanlab's floor of a threshold (above the tolerance, so a zero probability never counts).
THRESHOLD_FLOOR = 2 * TOLERANCE
#: Threshold of a class no sample is labelled with: no probability reaches it.
ABSENT_THRESHOLD = 2.0


def _inputs(
    y: npt.ArrayLike, prob: npt.ArrayLike, sample_weight: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class indices, ``(n, k)`` probabilities and weights in units of their mean."""
    labels = np.asarray(y, dtype=np.int64)
    p = np.asarray(prob, dtype=np.float64)
    if p.ndim != 2 or labels.shape != (len(p),):
        msg = (
            f"prob must be (n, k) with one label per row, got prob of shape {p.shape} and "
            f"{labels.shape[0] if labels.ndim else 0} labels: pass class indices and one "
            "probability column per class"
        )
        raise InputError(msg)
    if len(labels) and (labels.min() < 0 or labels.max() >= p.shape[1]):
        msg = f"labels must be class indices in 0..{p.shape[1] - 1}, got {labels.max()!r}"
        raise InputError(msg)
    if sample_weight is None:
        return labels, p, np.ones(len(labels))
    w = np.asarray(sample_weight, dtype=np.float64)
    total = w.sum()
    # units of the mean positive weight: a zero weight is a sample left out
    return labels, p, w * (np.count_nonzero(w > 0) / total) if total > 0 else w


def confident_thresholds(
    y: npt.ArrayLike, prob: npt.ArrayLike, *, sample_weight: npt.ArrayLike | None = None
) -> np.ndarray:
    """Each class's mean self-confidence: the (weighted) mean ``p_c`` over samples labelled ``c``.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class indices.
    prob : array-like of shape (n, k)
        Predicted probabilities, one column per class (binary: ``1 - p, p``).
    sample_weight : array-like of shape (n,), default=None
        Importance weights.

    Returns
    -------
    numpy.ndarray of shape (k,)
        The thresholds, at least ``2e-6``; ``2.0`` for a class no sample is labelled with.

    Examples
    --------
    >>> confident_thresholds([0, 0, 1], [[0.9, 0.1], [0.7, 0.3], [0.4, 0.6]])
    array([0.8, 0.6])
    """
    labels, p, w = _inputs(y, prob, sample_weight)
    k = p.shape[1]
    present = w > 0
    mass = np.bincount(labels[present], weights=w[present], minlength=k)
    own = p[np.arange(len(labels)), labels]
    sums = np.bincount(labels[present], weights=(w * own)[present], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(mass > 0, sums / mass, ABSENT_THRESHOLD)
    return np.maximum(thresholds, THRESHOLD_FLOOR)


def _round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Integers closest to ``values`` with the same (rounded) sum: cleanlab's rounding, so
    unit weights give its counts (the largest remainders move first)."""
    ints = values.round()
    target = np.round(values.sum())
    while abs(target - ints.sum()) > TOLERANCE:
        diff = np.round(target - ints.sum())
        step = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), len(values))
        for i in np.argsort(values - ints)[::-step][:changes]:
            ints[i] += step
    return ints


def confident_joint(
    y: npt.ArrayLike, prob: npt.ArrayLike, *, sample_weight: npt.ArrayLike | None = None
) -> np.ndarray:
    """The calibrated confident joint: weight of (given label, likely true label) pairs.

    A sample counts as confidently of class ``j`` when ``p_j`` reaches ``j``'s
    :func:`confident_thresholds` (less ``1e-6``); when several classes do, the argmax. The
    counts (each diagonal cell at least 1) are then calibrated: each row rescaled to its
    label's weight, and rounded to integers that keep the row totals.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class indices (the given labels).
    prob : array-like of shape (n, k)
        Predicted probabilities, one column per class.
    sample_weight : array-like of shape (n,), default=None
        Importance weights, counted in units of their mean.

    Returns
    -------
    numpy.ndarray of shape (k, k)
        Rows: given label; columns: likely true label. Equals cleanlab's
        ``compute_confident_joint`` when unweighted.

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> p = [[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.9, 0.1]]
    >>> confident_joint(y, p)
    array([[2., 1.],
           [1., 2.]])
    """
    labels, p, w = _inputs(y, prob, sample_weight)
    k = p.shape[1]
    confident = p >= confident_thresholds(labels, p, sample_weight=w) - TOLERANCE
    several = confident.sum(axis=1)
    guess = np.where(several > 1, p.argmax(axis=1), confident.argmax(axis=1))
    keep = (several > 0) & (w > 0)
    joint = np.zeros((k, k))
    np.add.at(joint, (labels[keep], guess[keep]), w[keep])
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1.0))
    label_weight = np.bincount(labels, weights=w, minlength=k)
    # rows to the labels' weights, then the whole to the total (cleanlab's calibration)
    rows = np.maximum(joint.sum(axis=1, keepdims=True), 1e-100)
    calibrated = joint / rows * label_weight[:, None]
    calibrated = calibrated / max(calibrated.sum(), 1e-100) * label_weight.sum()
    return np.array([_round_preserving_sum(row) for row in calibrated])


def _prune_counts(joint: np.ndarray) -> np.ndarray:
    """How many of each (true, given) pair to prune: the joint transposed, every class keeping
    at least one sample (cleanlab's ``_keep_at_least_n_per_class`` with ``n = 1``)."""
    counts = joint.T
    diagonal = counts.diagonal()
    lifted = np.maximum(diagonal, 1.0)
    cells = np.maximum(np.count_nonzero(counts, axis=0) - 1.0, 1.0)
    pruned = np.maximum(counts - (lifted - diagonal) / cells, 0.0)
    np.fill_diagonal(pruned, lifted)
    # cleanlab truncates to integers before it rounds the rows back to their totals
    return np.array([_round_preserving_sum(row) for row in np.trunc(pruned)])


def find_label_issues(
    y: npt.ArrayLike, prob: npt.ArrayLike, *, sample_weight: npt.ArrayLike | None = None
) -> np.ndarray:
    """Samples whose label looks wrong, by confident learning (prune by noise rate).

    For each off-diagonal cell ``(given k, true j)`` of the :func:`confident_joint`, the
    samples labelled ``k`` with the largest margin ``p_j - p_k`` are flagged until their
    weight reaches the cell's count; a class with a single sample is left alone, and a
    sample whose label is its argmax (within ``1e-6``) is never flagged.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class indices (the given labels).
    prob : array-like of shape (n, k)
        Out-of-sample predicted probabilities, one column per class.
    sample_weight : array-like of shape (n,), default=None
        Importance weights, counted in units of their mean.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
        True where the label is a candidate error. Unweighted, equal to cleanlab's
        ``find_label_issues(labels, pred_probs)`` with its defaults.

    See Also
    --------
    label_chance : how likely a calibrated model makes a label this unlikely.

    Examples
    --------
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> p = [[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.9, 0.1]]
    >>> find_label_issues(y, p)
    array([False, False,  True, False, False,  True])
    """
    labels, p, w = _inputs(y, prob, sample_weight)
    prune = _prune_counts(confident_joint(labels, p, sample_weight=w))
    issues = np.zeros(len(labels), dtype=bool)
    for k in range(p.shape[1]):
        members = np.flatnonzero((labels == k) & (w > 0))
        if len(members) <= 1:  # cleanlab's min_examples_per_class = 1
            continue
        for j in np.flatnonzero(prune[:, k]):
            if j == k:
                continue
            margin = p[members, j] - p[members, k]
            order = np.argsort(-margin)  # cleanlab's order, ties included
            before = np.cumsum(w[members][order]) - w[members][order]
            issues[members[order[before < prune[j, k] - 1e-9]]] = True
    boosted = p.copy()
    boosted[np.arange(len(labels)), labels] += TOLERANCE
    return issues & (boosted.argmax(axis=1) != labels)


#: Cells (rows x classes) :func:`chance_matrix` works on at a time.
CHANCE_CELLS = 1 << 18


def chance_matrix(prob: npt.ArrayLike) -> np.ndarray:
    """For every sample and class, the chance a calibrated model gives a label at most as
    likely: ``sum_{c': p_c' <= p_c} p_c'`` (ties included).

    Parameters
    ----------
    prob : array-like of shape (n, k)
        Predicted probabilities.

    Returns
    -------
    numpy.ndarray of shape (n, k)

    Examples
    --------
    >>> chance_matrix([[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]])
    array([[1. , 0.3, 0.1],
           [1. , 0.5, 0.5]])
    """
    p = np.asarray(prob, dtype=np.float64)
    rows = max(1, CHANCE_CELLS // max(p.shape[1], 1))
    if len(p) <= rows:
        return _chance_rows(p)
    # a block of rows at a time: its temporaries stay in the cache, where n x k of them
    # would be mapped afresh by malloc and fault in page by page (a row's numbers do not
    # depend on the other rows, so the result is the same bit for bit)
    chance = np.empty_like(p)
    for start in range(0, len(p), rows):
        chance[start : start + rows] = _chance_rows(p[start : start + rows])
    return chance


def _chance_rows(p: np.ndarray) -> np.ndarray:
    k = p.shape[1]
    order = np.argsort(p, axis=1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=1)
    carried = np.cumsum(ranked, axis=1)
    # a tie counts every equal class: read the sum at the end of each run of equal values
    end = np.ones_like(ranked, dtype=bool)
    end[:, :-1] = ranked[:, 1:] != ranked[:, :-1]
    run_end = np.where(end, np.arange(k), k)
    run_end = np.minimum.accumulate(run_end[:, ::-1], axis=1)[:, ::-1]
    chance = np.empty_like(p)
    np.put_along_axis(chance, order, np.take_along_axis(carried, run_end, axis=1), axis=1)
    return chance


def label_chance(y: npt.ArrayLike, prob: npt.ArrayLike) -> np.ndarray:
    """Each label's chance under calibration: the probability that a calibrated model with
    these probabilities draws a label at most as likely as the given one.

    A per-sample p-value: at most ``a`` with probability at most ``a`` when labels are drawn
    from the probabilities. 0 for a label of probability 0.

    Parameters
    ----------
    y : array-like of shape (n,)
        Class indices.
    prob : array-like of shape (n, k)
        Predicted probabilities.

    Returns
    -------
    numpy.ndarray of shape (n,)

    Examples
    --------
    >>> label_chance([2, 0], [[0.7, 0.2, 0.1], [0.5, 0.25, 0.25]])
    array([0.1, 1. ])
    """
    labels, p, _ = _inputs(y, prob, None)
    return chance_matrix(p)[np.arange(len(labels)), labels]


def beyond_chance(
    prob: np.ndarray,
    label_weight: np.ndarray,
    mass: np.ndarray,
    flagged: np.ndarray,
    scale: float,
) -> dict[str, float]:
    """Weight of flagged labels against its expectation under calibration, over cells.

    A cell is a probability ``prob`` given to some class, the weight ``label_weight`` of
    samples there labelled with that class and the weight ``mass`` of all samples there;
    ``flagged`` marks the cells tested. Under calibration a cell's class is the label with
    probability ``prob``, so the expected flagged weight is ``sum mass * prob``, and the
    same for the capped log loss they carry. ``scale`` turns weights into effective counts.
    """
    # only the flagged cells count: take them first (the same products, in the same order)
    prob, label_weight, mass = prob[flagged], label_weight[flagged], mass[flagged]
    loss = -np.log(np.maximum(prob, CLIP_EPS))
    observed = float(label_weight.sum())
    expected = float((mass * prob).sum())
    count = round(observed * scale, 9)
    # the Poisson upper tail P(X >= count) is gammainc(count, mu) for a whole count; for an
    # effective count under weights it interpolates between its neighbours, where rounding
    # the count up would overstate the evidence
    p_value = float(gammainc(count, expected * scale)) if count > 0 else 1.0
    return {
        "count": observed,
        "expected_if_calibrated": expected,
        "p_value": p_value,
        "loss": float((label_weight * loss).sum()),
        "expected_loss": float((mass * prob * loss).sum()),
    }


def _sample_test(pred: Predictions, level: float, scale: float) -> dict[str, float]:
    """The test on every sample's chance (the samples are in memory)."""
    p = pred.class_prob
    n, k = p.shape
    w = np.ones(n) if pred.sample_weight is None else pred.sample_weight
    chance = chance_matrix(p)
    # the flagged cells alone, in row order (no n x k arrays of labels and weights)
    cells = np.flatnonzero(np.round(chance, 12, out=chance) <= at_most(1.0 - level))
    row, column = np.divmod(cells, k)
    labelled = np.where(column == pred.y[row], w[row], 0.0)
    every = np.ones(len(cells), dtype=bool)
    return beyond_chance(p.ravel()[cells], labelled, w[row], every, scale)


def _column_test(tally: Tally, level: float, scale: float) -> dict[str, float]:
    """The test from the score tables alone: a class column's cell is flagged at probability
    at most ``level``. Binary, this is the per-sample test (a label below 1/2 has chance
    ``p``); multiclass it flags more cells than the chance would, so it is weaker."""
    cells = class_columns(tally)
    prob = np.concatenate([c[0] for c in cells])
    label_weight = np.concatenate([c[2] for c in cells])
    mass = np.concatenate([c[1] + c[2] for c in cells])
    flagged = np.round(prob, 12) <= at_most(1.0 - level)
    return beyond_chance(prob, label_weight, mass, flagged, scale)


def label_errors(
    tally: Tally,
    pred: Predictions | None = None,
    *,
    level: float = CHANCE_LEVEL,
    list_below: float = 1.0,
) -> LabelErrors:
    """The ``label_errors`` section of the diagnostics: the test and the candidates.

    Parameters
    ----------
    tally : Tally
        The predictions' summary (the test when the samples are not in memory).
    pred : Predictions, default=None
        The samples: the per-sample test and the confident-learning candidates.
    level : float, default=0.01
        Labels whose chance under calibration is at most this are counted.
    list_below : float, default=1.0
        The candidates are listed only when the test's p-value is below this (``explain``
        passes the finding's level, 0.001: on data with no more unlikely labels than chance, a
        confident-learning list is mostly a calibrated model's ordinary errors, and would
        make the JSON as long as the data).

    Returns
    -------
    LabelErrors
        ``level``, ``method`` of the test, ``count`` and ``expected_if_calibrated`` (weights),
        ``effective_count`` (the count in effective samples, Kish),
        ``beyond_chance`` (their difference, at least 0), ``p_value``, ``loss_beyond_chance``
        (nats per sample), ``candidate_method`` and ``candidates``: every candidate (id,
        label, suggested, probability, chance, confident_learning; see
        :func:`candidates`), the least likely labels first
        (None when the samples are not in memory or the p-value is not below
        ``list_below``).

    Examples
    --------
    >>> from lossgap.core.tally import Tally
    >>> pred = Predictions([0, 0, 1, 1, 1], [0.1, 0.2, 0.9, 0.8, 0.001])
    >>> facts = label_errors(Tally.from_predictions(pred), pred)
    >>> facts.count, facts.candidates[0].id, facts.candidates[0].chance
    (1.0, 4, 0.001)
    """
    scale = effective_scale(tally)
    # binary, the score tables give the per-sample test exactly (a label below 1/2 has
    # chance p) and in a fraction of the time
    if tally.task == "binary" and level < 0.5:
        test, method = _column_test(tally, level, scale), "per sample"
    elif pred is None:
        test, method = _column_test(tally, level, scale), "class columns"
    else:
        test, method = _sample_test(pred, level, scale), "per sample"
    beyond = max(test["count"] - test["expected_if_calibrated"], 0.0)
    loss_beyond = max(test["loss"] - test["expected_loss"], 0.0) / tally.weight
    return LabelErrors(
        level=level,
        method=method,
        count=test["count"],
        effective_count=test["count"] * scale,
        expected_if_calibrated=test["expected_if_calibrated"],
        beyond_chance=beyond,
        p_value=test["p_value"],
        loss_beyond_chance=loss_beyond,
        candidate_method="confident learning (prune by noise rate, as cleanlab's "
        "find_label_issues) and every label of chance at most the level",
        candidates=None
        if pred is None or test["p_value"] >= list_below
        else candidates(pred, level),
    )


def candidates(pred: Predictions, level: float = CHANCE_LEVEL) -> list[LabelCandidate]:
    """Every candidate with its scores, the least likely labels first.

    The candidates are confident learning's (:func:`find_label_issues`) and every label whose
    chance under calibration is at most ``level``: such a label is one a calibrated model
    almost never draws, and confident learning can leave it out when its class's prune count
    runs out (on digits with a random forest, flips at probability 0 were left out).
    ``probability`` is the probability given to the label (cleanlab's self-confidence
    score), ``chance`` its :func:`label_chance`, ``suggested`` the most probable class and
    ``confident_learning`` whether confident learning flagged it. The rows are taken in
    :func:`~lossgap.core.rows.content_order` (ids travel with them), so ties in confident
    learning's margins and in the scores are broken by content, never by row order.
    """
    pred = in_content_order(pred)
    p = pred.class_prob
    learned = find_label_issues(pred.y, p, sample_weight=pred.sample_weight)
    chance = label_chance(pred.y, p)
    weight = np.ones(len(p)) if pred.sample_weight is None else pred.sample_weight
    unlikely = (np.round(chance, 12) <= at_most(1.0 - level)) & (weight > 0)
    flagged = np.flatnonzero(learned | unlikely)
    given = p[flagged, pred.y[flagged]]
    order = np.lexsort((given, chance[flagged]))
    rows = flagged[order]
    classes = np.asarray(pred.classes)
    # whole columns to Python values at once (a million candidates cost a second one by one)
    fields = zip(
        _python_values(np.asarray(pred.ids)[rows]),
        _python_values(classes[pred.y[rows]]),
        _python_values(classes[p[rows].argmax(axis=1)]),
        given[order].tolist(),
        chance[rows].tolist(),
        learned[rows].tolist(),
        strict=True,
    )
    return [
        LabelCandidate(
            id=i, label=label, suggested=s, probability=g, chance=c, confident_learning=cl
        )
        for i, label, s, g, c, cl in fields
    ]


def _python_values(values: np.ndarray) -> list[Any]:
    """Each element as the Python scalar it holds (what :func:`python_scalar` gives one by
    one): ``tolist`` for typed arrays; object arrays may hold numpy scalars."""
    if values.dtype == object:
        return [python_scalar(v) for v in values]
    return values.tolist()
