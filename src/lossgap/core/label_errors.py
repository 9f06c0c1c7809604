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

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from scipy.special import gammainc

from lossgap.core.diagnostics import at_most, class_columns
from lossgap.core.losses import CLIP_EPS, capped_log_loss
from lossgap.core.predictions import Predictions, multiclass_kernels, python_scalar
from lossgap.core.rows import content_order_of, in_content_order, is_in_content_order
from lossgap.core.tally import Tally
from lossgap.core.uncertainty import effective_scale
from lossgap.errors import InputError
from lossgap.results.diagnostics import LabelCandidates, LabelErrors

#: A label whose chance under calibration is at most this counts in the test.
CHANCE_LEVEL = 0.01
#: cleanlab's fuzzy comparison: a probability within this of a threshold reaches it, and a
#: label within this of the argmax is the prediction.
TOLERANCE = 1e-6
#: cleanlab's floor of a threshold (above the tolerance, so a zero probability never counts).
THRESHOLD_FLOOR = 2 * TOLERANCE
#: Threshold of a class no sample is labelled with: no probability reaches it.
ABSENT_THRESHOLD = 2.0
#: Cells (rows x classes) a pass over every sample works on at a time: its temporaries stay
#: in the cache, where ``n x k`` of them would be mapped afresh by malloc and fault in page
#: by page (each row's numbers do not depend on the other rows).
BLOCK_CELLS = 1 << 16


def _blocks(n: int, k: int) -> range:
    """The first row of each block of :data:`BLOCK_CELLS` cells."""
    return range(0, n, max(1, BLOCK_CELLS // max(k, 1)))


def _inputs(
    y: npt.ArrayLike, prob: npt.ArrayLike, sample_weight: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Class indices, ``(n, k)`` probabilities and weights in units of their mean (None:
    unit weights)."""
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
        return labels, p, None
    return labels, p, _in_mean_units(np.asarray(sample_weight, dtype=np.float64))


def _in_mean_units(w: np.ndarray) -> np.ndarray:
    """Weights in units of the mean positive weight (a zero weight is a sample left out)."""
    total = w.sum()
    return w * (np.count_nonzero(w > 0) / total) if total > 0 else w


def _own(labels: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The probability each sample's label gets (a take of the flat positions: faster than
    indexing by row and column), by blocks of rows."""
    n, k = p.shape
    flat = p.reshape(-1)
    own = np.empty(n)
    for start in (starts := _blocks(n, k)):
        stop = min(start + starts.step, n)
        at = np.arange(start * k, stop * k, k)
        at += labels[start:stop]
        np.take(flat, at, out=own[start:stop])
    return own


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
    return _thresholds(labels, _own(labels, p), w, p.shape[1])


def _thresholds(labels: np.ndarray, own: np.ndarray, w: np.ndarray | None, k: int) -> np.ndarray:
    """:func:`confident_thresholds` from each sample's own probability (``w`` None: unit
    weights, the same sums without copies)."""
    mass: np.ndarray
    if w is None:
        mass = np.bincount(labels, minlength=k).astype(np.float64)
        sums = np.bincount(labels, weights=own, minlength=k)
    else:
        present = w > 0
        mass = np.bincount(labels[present], weights=w[present], minlength=k)
        sums = np.bincount(labels[present], weights=(w * own)[present], minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        thresholds = np.where(mass > 0, sums / mass, ABSENT_THRESHOLD)
    return np.maximum(thresholds, THRESHOLD_FLOOR)


def _round_preserving_sum(values: np.ndarray) -> np.ndarray:
    """Integers closest to ``values`` with the same (rounded) sum: cleanlab's rounding, so
    unit weights give its counts (the largest remainders move first).

    A row of fewer than 8 finite values whose rounded values keep the sum is returned
    from Python floats: numpy sums so few one after another and rounds half to even, as
    the loop and ``round`` below do (the same doubles; a few numpy calls on a row of 2 or
    3 cost more than their arithmetic, four rows an evaluation).
    """
    if len(values) < 8:
        row = values.tolist()
        if all(map(math.isfinite, row)):
            whole = [math.copysign(round(v), v) for v in row]  # rint's -0.0 kept
            total = rounded = 0.0
            for v, i in zip(row, whole, strict=True):
                total += v
                rounded += i
            if abs(round(total) - rounded) <= TOLERANCE:
                return np.array(whole)
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
    joint = _joint(labels, p, _own(labels, p), w, bound=0.0)
    assert joint is not None  # no bound: every probability is decided
    return joint


def _joint(
    labels: np.ndarray, p: np.ndarray, own: np.ndarray, w: np.ndarray | None, bound: float
) -> np.ndarray | None:
    """:func:`confident_joint`; None when a probability lies within ``bound`` of its class's
    cut (``bound``: how far the thresholds' sums taken in another row order can move it)."""
    k = p.shape[1]
    # the thresholds take the weights in units of their mean once more, as the public
    # function does (a no-op but for the last bits: kept so the counts are its counts)
    thresholds = _thresholds(labels, own, None if w is None else _in_mean_units(w), k)
    table = _joint_table(labels, p, thresholds, w, bound)
    if table is None:
        return None
    joint = table[:, 1:].astype(np.float64)
    np.fill_diagonal(joint, np.maximum(joint.diagonal(), 1.0))
    # unit weights: each label's count is its row of the table, none column included
    label_weight = (
        table.sum(axis=1).astype(np.float64)
        if w is None
        else np.bincount(labels, weights=w, minlength=k)
    )
    # rows to the labels' weights, then the whole to the total (cleanlab's calibration)
    rows = np.maximum(joint.sum(axis=1, keepdims=True), 1e-100)
    calibrated = joint / rows * label_weight[:, None]
    calibrated = calibrated / max(calibrated.sum(), 1e-100) * label_weight.sum()
    return np.array([_round_preserving_sum(row) for row in calibrated])


def _joint_table(
    labels: np.ndarray, p: np.ndarray, thresholds: np.ndarray, w: np.ndarray | None, bound: float
) -> np.ndarray | None:
    """Weight of (given label, likely true class) pairs, ``(k, k + 1)``: column 0 holds the
    samples confident of no class. None when a probability lies within ``bound`` of its cut.

    The likely class reaches its threshold less the tolerance; the argmax when several do.
    Unit weights count block by block while the table is smaller than a block (integers:
    exact); otherwise one bincount over every sample, weights added in the same order as
    ``np.add.at`` into the table (a zero weight adds +0.0).
    """
    n, k = p.shape
    cuts = thresholds - TOLERANCE
    starts = _blocks(n, k)
    by_block = w is None and k * (k + 1) <= starts.step
    table = np.zeros(k * (k + 1))
    cells = None if by_block else np.empty(n, dtype=np.int64)
    for start in starts:
        likely = _likely_classes(p[start : start + starts.step], cuts, bound)
        if likely is None:
            return None
        likely += labels[start : start + starts.step] * (k + 1)
        if cells is None:
            table += np.bincount(likely, minlength=k * (k + 1))
        else:
            cells[start : start + starts.step] = likely
    if cells is not None:
        table = np.bincount(cells, weights=w, minlength=k * (k + 1))
    return table.reshape(k, k + 1)


#: Up to this many classes :func:`_likely_classes` goes a class column at a time.
FEW_CLASSES = 8


def _likely_classes(rows: np.ndarray, cuts: np.ndarray, bound: float) -> np.ndarray | None:
    """Each row's likely true class plus one (0: none reaches its cut), the argmax where
    several do; None when a probability lies within ``bound`` of its cut.

    A few classes go a column at a time: numpy reduces a short row axis one row at a time
    (a sum or argmax over 2 columns costs 10x an elementwise pass); more go row-wise.
    """
    if bound and np.count_nonzero(rows >= cuts - bound) != np.count_nonzero(rows > cuts + bound):
        return None
    if rows.shape[1] > FEW_CLASSES:
        confident = rows >= cuts
        several = confident.sum(axis=1)
        likely = np.where(several > 1, rows.argmax(axis=1), confident.argmax(axis=1)) + 1
        likely[several == 0] = 0
        return likely
    several = np.zeros(len(rows), dtype=np.int32)
    likely = np.zeros(len(rows), dtype=np.int64)
    for c in range(rows.shape[1]):
        confident = rows[:, c] >= cuts[c]
        several += confident
        likely += confident * (c + 1)  # where one class is confident, that class
    tied = np.flatnonzero(several > 1)
    likely[tied] = np.take(rows, tied, axis=0).argmax(axis=1) + 1
    return likely


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
    sample whose label is its argmax (within ``1e-6``) is never flagged. Where samples tied
    in their margin straddle the count, those flagged are the first in the order of a sort
    by margin (cleanlab's).

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
    issues = _label_issues(labels, p, _own(labels, p), w, None)
    assert issues is not None  # the rows' own order decides: nothing to check
    return issues


def _label_issues(
    labels: np.ndarray,
    p: np.ndarray,
    own: np.ndarray,
    w: np.ndarray | None,
    arrange: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray | None:
    """:func:`find_label_issues` on rows whose order is not theirs to set.

    ``arrange`` puts row positions in the order that decides (the content order): the
    samples tied at a cell's count are taken in it, and the thresholds' sums, taken in the
    rows' order, must not decide which side of a cut a probability falls on (None is
    returned when one lies within their rounding of it). ``arrange`` None: the rows' own
    order decides.
    """
    n, k = p.shape
    # a sum of n terms in [0, 1], divided: another order moves it by at most n+1 roundings
    bound = 0.0 if arrange is None else 4.0 * (n + 2) * np.finfo(np.float64).epsneg
    joint = _joint(labels, p, own, None if w is None else _in_mean_units(w), bound)
    if joint is None:
        return None
    prune = _prune_counts(joint)
    cells = []  # (given, its members, the classes it prunes for)
    for given in range(k):
        members = np.flatnonzero(labels == given if w is None else (labels == given) & (w > 0))
        trues = [int(t) for t in np.flatnonzero(prune[:, given]) if t != given]
        if len(members) > 1 and trues:  # cleanlab's min_examples_per_class = 1
            cells.append((given, members, trues))
    # one buffer serves every class's margins in turn (a fresh one each faults in anew)
    space = np.empty(max((len(m) * len(t) for _, m, t in cells), default=0))
    issues = np.zeros(n, dtype=bool)
    unsure = [np.empty(0, dtype=np.intp)]
    for given, members, trues in cells:
        margins = _margins(p, members, trues, given, space)
        for true, margin in zip(trues, margins, strict=True):
            count = prune[true, given]
            chosen = None if w is not None else _largest(margin, count)
            rows = members
            if chosen is None:  # weights, or ties at the count: cleanlab's sort decides
                if arrange is not None:
                    rows = arrange(members)
                    margin = _margins(p, rows, [true], given)[0]
                chosen = _sorted_largest(margin, None if w is None else w[rows], count)
            issues[rows[chosen]] = True
            # a label more than twice the tolerance below another class stays below it when
            # boosted: only the others can be their boosted argmax
            unsure.append(rows[chosen[margin[chosen] <= 2 * TOLERANCE]])
    flagged = np.unique(np.concatenate(unsure))
    boosted = np.take(p, flagged, axis=0)  # whole rows (fancy indexing of rows is 10x slower)
    boosted.ravel()[np.arange(len(flagged)) * k + labels[flagged]] += TOLERANCE
    issues[flagged[boosted.argmax(axis=1) == labels[flagged]]] = False
    return issues


def _margins(
    p: np.ndarray,
    members: np.ndarray,
    trues: list[int],
    given: int,
    space: np.ndarray | None = None,
) -> np.ndarray:
    """``p[members, true] - p[members, given]`` for each class in ``trues``, one row each
    (in ``space`` when given, a buffer of at least that many doubles), from blocks of whole
    rows (a take of whole rows is faster than one column at a time, and a block of them
    stays in the cache)."""
    shape = (len(trues), len(members))
    margins = np.empty(shape) if space is None else space[: shape[0] * shape[1]].reshape(shape)
    for start in (starts := _blocks(len(members), p.shape[1])):
        rows = np.take(p, members[start : start + starts.step], axis=0)
        np.subtract(rows[:, trues].T, rows[:, given], out=margins[:, start : start + starts.step])
    return margins


#: :func:`_largest` first cuts the margins at a quantile of every ``SAMPLE_STEP``-th one.
SAMPLE_STEP = 64


def _largest(margin: np.ndarray, count: float) -> np.ndarray | None:
    """Positions of the ``count`` largest margins (unit weights), by partitions; None when
    the margin at the count is tied with the next (then the order of a sort decides)."""
    m = max(min(len(margin), math.ceil(count - 1e-9)), 0)
    if m in (0, len(margin)):
        return np.arange(m)
    pool = None
    # a low first cut from a sample of the margins, a few standard errors below the share
    # wanted; kept only when at least m + 1 margins reach it (then the m-th and the next
    # largest are among them, and the partition runs over those alone)
    sample = margin[::SAMPLE_STEP]
    if len(sample) > 100:
        share = m / len(margin)
        spare = 6.0 * math.sqrt(len(sample) * share * (1.0 - share)) + 8.0
        at = len(sample) - 1 - min(math.ceil(share * len(sample) + spare), len(sample) - 1)
        low = np.partition(sample, at)[at]
        above = np.flatnonzero(margin >= low)
        if len(above) > m:
            pool = above
    values = margin if pool is None else margin[pool]
    cut = len(values) - m
    part = np.partition(values, (cut - 1, cut))
    if part[cut] == part[cut - 1]:
        return None
    chosen = np.flatnonzero(values >= part[cut])
    return chosen if pool is None else pool[chosen]


def _sorted_largest(margin: np.ndarray, weight: np.ndarray | None, count: float) -> np.ndarray:
    """Positions of the largest margins while the weight before each stays below ``count``,
    in the order of ``argsort(-margin)`` (cleanlab's, ties included)."""
    order = np.argsort(-margin)
    if weight is None:  # the weight before the i-th is i
        return order[: max(math.ceil(count - 1e-9), 0)]
    before = np.cumsum(weight[order]) - weight[order]
    return order[before < count - 1e-9]


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
    starts = _blocks(*p.shape)
    if len(starts) <= 1:
        return _chance_rows(p)
    chance = np.empty_like(p)
    for start in starts:
        chance[start : start + starts.step] = _chance_rows(p[start : start + starts.step])
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
    >>> label_chance([0, 1, 1], [[0.3, 0.7], [0.3, 0.7], [0.5, 0.5]])
    array([0.3, 1. , 1. ])
    """
    labels, p, _ = _inputs(y, prob, None)
    return _label_chance(labels, p)


def _label_chance(labels: np.ndarray, p: np.ndarray) -> np.ndarray:
    """:func:`label_chance` of class indices and an ``(n, k)`` array; binary without the
    chance matrix."""
    own = _own(labels, p)
    if p.shape[1] == 2:
        # the running sum of two sorted probabilities: the lower one alone, else both (a tie
        # counts both), the same bits as chance_matrix's cumsum (a sum of two commutes)
        other = _own(1 - labels, p)
        return np.where(own < other, own, own + other)
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
    loss = capped_log_loss(prob)
    return _test_of_sums(
        float(label_weight.sum()),
        float((mass * prob).sum()),
        float((label_weight * loss).sum()),
        float((mass * prob * loss).sum()),
        scale,
    )


def _test_of_sums(
    observed: float, expected: float, loss: float, expected_loss: float, scale: float
) -> dict[str, float]:
    """:func:`beyond_chance` of the flagged cells' four sums."""
    count = round(observed * scale, 9)
    # the Poisson upper tail P(X >= count) is gammainc(count, mu) for a whole count; for an
    # effective count under weights it interpolates between its neighbours, where rounding
    # the count up would overstate the evidence
    p_value = float(gammainc(count, expected * scale)) if count > 0 else 1.0
    return {
        "count": observed,
        "expected_if_calibrated": expected,
        "p_value": p_value,
        "loss": loss,
        "expected_loss": expected_loss,
    }


def _sample_test(pred: Predictions, level: float, scale: float) -> dict[str, float]:
    """The test on every sample's chance (the samples are in memory): in one pass of the
    numba kernel when :func:`~lossgap.core.predictions.multiclass_kernels` gives it, else
    numpy's chance matrix; the same flagged cells, the sums within ``TOTALS_RTOL``."""
    p = pred.class_prob
    n, k = p.shape
    kernels = multiclass_kernels(p)
    if kernels is not None:
        sums = np.empty(4)
        kernels.chance_test(
            np.ascontiguousarray(p), pred.y, pred.sample_weight, at_most(1.0 - level),
            CLIP_EPS, sums,
        )
        observed, expected, loss, expected_loss = (float(v) for v in sums)
        return _test_of_sums(observed, expected, loss, expected_loss, scale)
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


def candidates(pred: Predictions, level: float = CHANCE_LEVEL) -> LabelCandidates:
    """Every candidate with its scores, the least likely labels first.

    The candidates are confident learning's (:func:`find_label_issues`) and every label whose
    chance under calibration is at most ``level``: such a label is one a calibrated model
    almost never draws, and confident learning can leave it out when its class's prune count
    runs out (on digits with a random forest, flips at probability 0 were left out).
    ``probability`` is the probability given to the label (cleanlab's self-confidence
    score), ``chance`` its :func:`label_chance`, ``suggested`` the most probable class and
    ``confident_learning`` whether confident learning flagged it.

    The result depends on the rows' content, never on their order: the candidates are those
    and in the order the rows in :func:`~lossgap.core.rows.content_order` give (ties in
    confident learning's margins, and candidates equal in chance and probability, are taken
    in it). Only the rows that need it are put in that order (the tied ones); weighted rows
    are ordered first, since their sums depend on the order of their terms, and so are all
    rows in the rare case where a probability lies within the rounding of the thresholds'
    sums of its cut.

    Returns
    -------
    LabelCandidates
        A sequence of :class:`~lossgap.results.diagnostics.LabelCandidate`, held as columns.

    Examples
    --------
    >>> pred = Predictions([0, 0, 1, 1, 1], [0.1, 0.2, 0.9, 0.8, 0.001])
    >>> found = candidates(pred)
    >>> len(found), found[0].id, found.chance.tolist()
    (1, 4, [0.001])
    """
    if pred.sample_weight is not None:
        pred = in_content_order(pred)
    found = _candidate_rows(pred, level)
    if found is None:
        pred = in_content_order(pred)
        found = _candidate_rows(pred, level)
        assert found is not None  # in content order nothing is left to check
    rows, suggested, given, chance, learned = found
    classes = np.asarray(pred.classes)
    return LabelCandidates(
        id=_python_column(np.asarray(pred.ids)[rows]),
        label=_python_column(classes[pred.y[rows]]),
        suggested=_python_column(classes[suggested]),
        probability=given,
        chance=chance,
        confident_learning=learned,
    )


def _candidate_rows(
    pred: Predictions, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The candidates' rows, least likely first, with their most probable class (index),
    probability, chance and whether confident learning flagged them; None when a
    probability lies within the rounding of its cut (rows not in content order only)."""
    labels, p = pred.y, pred.class_prob
    w = None if pred.sample_weight is None else _in_mean_units(pred.sample_weight)
    own = _own(labels, p)
    ordered = is_in_content_order(pred)

    def arrange(rows: np.ndarray) -> np.ndarray:
        return rows[content_order_of(pred, rows)]

    learned = _label_issues(labels, p, own, w, None if ordered else arrange)
    if learned is None:
        return None
    # a label's chance is at least its own probability: only rows at most the level (and
    # a margin for the rounding to 12 digits) can be that unlikely
    cut = at_most(1.0 - level)
    low = own <= cut + 1e-9
    near = np.flatnonzero(low if w is None else low & (w > 0))
    near_chance = _label_chance(labels[near], np.take(p, near, axis=0))
    unlikely = near[np.round(near_chance, 12) <= cut]
    listed = learned.copy()
    listed[unlikely] = True
    flagged = np.flatnonzero(listed)
    block = np.take(p, flagged, axis=0)
    # the chances of the rows near already, the others' now (both ascend: one search)
    at = np.minimum(np.searchsorted(near, flagged), max(len(near) - 1, 0))
    known = near[at] == flagged if len(near) else np.zeros(len(flagged), dtype=bool)
    chance = np.empty(len(flagged))
    chance[known] = near_chance[at[known]]
    rest = np.flatnonzero(~known)
    chance[rest] = _label_chance(labels[flagged[rest]], block[rest])
    given = own[flagged]
    order = _ascending(chance)
    ranked = chance[order]
    tied = ranked[1:] == ranked[:-1]
    if tied.any():
        # runs of equal chance: by probability, then in content order (the rows of the runs
        # alone are put in it; a stable sort keeps that order among equals)
        run = np.concatenate([[0], np.cumsum(~tied)])
        mixed = np.zeros(len(order), dtype=bool)
        mixed[1:] |= tied
        mixed[:-1] |= tied
        mixed = np.flatnonzero(mixed)
        runs = order[mixed]
        runs = runs[content_order_of(pred, flagged[runs])]
        run_of = np.empty(len(order), dtype=np.int64)
        run_of[order] = run
        order[mixed] = runs[np.lexsort((given[runs], run_of[runs]))]
    rows = flagged[order]
    return rows, block.argmax(axis=1)[order], given[order], chance[order], learned[rows]


def _ascending(values: np.ndarray) -> np.ndarray:
    """A stable argsort of non-negative floats, by their bit patterns (which order as the
    values do) in four 16-bit digits, the lowest first: numpy's stable sort of 16-bit
    integers is a radix sort, 2x faster here than its float sort at 1e5 values."""
    bits = (values + 0.0).view(np.uint64)  # + 0.0: -0.0 is 0.0
    order = np.arange(len(values))
    for shift in (0, 16, 32, 48):
        digit = (bits[order] >> np.uint64(shift)).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
    return order


def _python_column(values: np.ndarray) -> np.ndarray:
    """An object array's elements as the Python scalars they hold (:func:`python_scalar`);
    a typed array as it is (its ``tolist`` gives Python values)."""
    if values.dtype != object:
        return values
    out = np.empty(len(values), dtype=object)
    out[:] = [python_scalar(v) for v in values]
    return out
