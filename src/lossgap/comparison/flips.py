"""Samples that flip between two models: right under one, wrong under the other.

The counts of every pair come from whole rows of ``(m, n)`` matrices (one row per model),
never from a loop over samples per pair: with ``C`` the 0/1 matrix of correct decisions,
``C C^T`` counts the samples both models of a pair get right (popcounts of the rows packed
one bit per sample), and everything else of the paired 2x2 table follows from it. A flip
is *near the threshold* when the sample lies within ``near`` of the decision boundary
under both models (:func:`boundary_distance`): 0.51 under one model and 0.49 under the
other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lossgap.core.losses import true_class_prob
from lossgap.core.paired import compiled_kernel
from lossgap.core.predictions import Predictions

#: Samples per block of the matrix products, to bound the memory of the 0/1 copies.
_BLOCK = 1 << 16
#: Samples scanned at a time when collecting the ids of flips: the first scan reads
#: ``_ID_FIRST`` candidates, each next one twice as many, up to ``_ID_BLOCK`` (most pairs
#: have their ids within a few hundred candidates; a scan costs pairs x its width).
_ID_FIRST = 1 << 8
_ID_BLOCK = 1 << 13


def boundary_distance(pred: Predictions, *, out: np.ndarray | None = None) -> np.ndarray:
    """How much probability must move for each sample's decision to change.

    Binary: ``|p - threshold|``. Multiclass: ``|p_true - max_{j != true} p_j| / 2``,
    the probability that must pass from one class to the other for the true class to
    win or lose the argmax (for binary labels at threshold 0.5 both rules agree).
    ``out``: where to write it (float64, shape (n,)).

    Examples
    --------
    >>> boundary_distance(Predictions([0, 1], [0.49, 0.51])).round(4).tolist()
    [0.01, 0.01]
    >>> boundary_distance(Predictions([0, 2], [[0.5, 0.3, 0.2], [0.45, 0.1, 0.45]])).tolist()
    [0.1, 0.0]
    """
    if pred.task == "binary":
        distance = np.subtract(pred.prob, pred.threshold, out=out)
        return np.abs(distance, out=distance)
    rows = np.arange(len(pred))
    others = pred.prob.copy()
    others[rows, pred.y] = -np.inf
    return np.divide(np.abs(true_class_prob(pred) - others.max(axis=1)), 2.0, out=out)


@dataclass(frozen=True)
class FlipTables:
    """Paired counts of every ordered pair of models, as ``(m, m)`` matrices.

    Attributes
    ----------
    n : int
        Samples.
    both : ndarray
        ``both[a, b]``: samples that models ``a`` and ``b`` both get right.
    a_only : ndarray
        ``a_only[a, b]``: samples only ``a`` gets right (``a_only.T`` is ``b_only``).
    near_a_only : ndarray
        Of those, the samples near the threshold under both models.
    near_loss : ndarray
        ``near_loss[a, b]``: sum over the near-threshold flips of ``loss_a - loss_b``.
    near_samples : ndarray of int
        The samples where some near-threshold flip lies (some model right and another
        wrong, both near the boundary), ascending.
    """

    n: int
    both: np.ndarray
    a_only: np.ndarray
    near_a_only: np.ndarray
    near_loss: np.ndarray
    near_samples: np.ndarray

    @property
    def neither(self) -> np.ndarray:
        return self.n - self.both - self.a_only - self.a_only.T


def flip_tables(
    correct: np.ndarray,
    near: np.ndarray,
    loss: np.ndarray | Callable[[int, np.ndarray, np.ndarray], None],
    *,
    compiled: bool = False,
) -> FlipTables:
    """Count the paired 2x2 tables and the near-threshold flips of every pair.

    Parameters
    ----------
    correct, near : ndarray of bool, shape (m, n)
        Whether each model's decision is right, and whether the sample lies near its
        decision boundary; one row per model.
    loss : ndarray of float64, shape (m, n), or callable
        Finite per-sample losses, or a function ``loss(j, index, out)`` that writes model
        ``j``'s losses at an array of sample indices to ``out`` (read only where flips lie
        near the threshold).
    compiled : bool, default=False
        Whether the near-threshold flips may be counted by the numba kernel (when numba
        is installed; ``LOSSGAP_NUMBA=0`` turns it off): the caller says so when it
        loads numba anyway (:data:`~lossgap.core.paired.COMPILED_MIN_TOTAL`).

    Returns
    -------
    FlipTables

    Notes
    -----
    ``both`` counts are popcounts of the AND of two models' correct decisions, packed one
    bit per sample (exact). With ``G1 = C * N`` (right and near) and ``G2 = (1 - C) * N``
    (wrong and near), ``near_a_only = G1 G2^T`` and, with ``P = (G1 L) G2^T`` and
    ``Q = G1 (G2 L)^T`` (elementwise products inside), ``near_loss = P - P^T - Q + Q^T``.
    The products run in float64, exact for counts below 2^53; only samples that some model
    gets right and some other gets wrong near the boundary enter the near-threshold
    products.

    The compiled path visits, sample by sample, only the models near the boundary there
    (at 50 models x 1e6, 3.8 million of the 19 million entries the products read) and
    pairs each right one with each wrong one. Its counts are the products' own; its
    ``near_loss[a, b]`` adds ``loss_a - loss_b`` over the flips ``a`` gets right, in
    sample order, less the same sum over those ``b`` gets right, rather than four sums of
    losses, so it agrees with the products to rounding: both lie within
    ``1e-13 * sum (loss_a + loss_b)`` over the pair's flips of the exact sum (tested
    against ``math.fsum``).

    Examples
    --------
    >>> c = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], bool)
    >>> t = flip_tables(c, np.ones_like(c), np.zeros(c.shape))
    >>> t.both.tolist(), t.a_only.tolist()
    ([[3.0, 1.0], [1.0, 2.0]], [[0.0, 2.0], [1.0, 0.0]])
    """
    m, n = correct.shape
    # one bit per sample: a pair's counts are popcounts of the AND of its two rows' words
    right_bits, near_bits = _packed(correct), _packed(near)
    both = np.empty((m, m))
    common = np.empty(right_bits.shape, np.uint64)  # kept for the call: no page faults
    ones = np.empty(right_bits.shape, np.uint8)
    for a in range(m):
        rest = slice(0, m - a)
        np.bitwise_and(right_bits[a], right_bits[a:], out=common[rest])
        both[a, a:] = np.bitwise_count(common[rest], out=ones[rest]).sum(axis=1)
        both[a:, a] = both[a, a:]
    # the samples some model gets right and another wrong, both near the boundary
    some_right = np.bitwise_or.reduce(np.bitwise_and(right_bits, near_bits, out=common), axis=0)
    wrong_bits = np.bitwise_and(near_bits, np.invert(right_bits, out=common), out=common)
    some_wrong = np.bitwise_or.reduce(wrong_bits, axis=0)
    keep = np.bitwise_and(some_right, some_wrong).view(np.uint8)
    samples = np.flatnonzero(np.unpackbits(keep, count=n, bitorder="little"))
    per_model = _rows_of(loss) if isinstance(loss, np.ndarray) else loss
    kernel = compiled_kernel("near_pairs") if compiled and n < 1 << 31 else None
    if kernel is not None:
        ptr, split, model, slot, where, starts = compiled_kernel("near_entries")(
            right_bits, near_bits, samples, int(np.bitwise_count(near_bits, out=ones).sum())
        )
        values = np.empty(len(model))
        for j in range(m):  # each model's losses at its entries, in one call
            entries = slice(starts[j], starts[j + 1])
            per_model(j, where[entries], values[entries])
        near_a_only, near_loss = kernel(ptr, split, model, values, slot, m)
    else:
        near_a_only, near_loss = _near_products(correct, near, per_model, samples)
    counts = np.diag(both)
    return FlipTables(
        n=n,
        both=both,
        a_only=counts[:, None] - both,
        near_a_only=near_a_only,
        near_loss=near_loss,
        near_samples=samples,
    )


def _packed(bits: np.ndarray) -> np.ndarray:
    """``(m, n)`` bools as ``(m, ceil(n / 64))`` uint64 words, sample ``i`` at bit ``i % 64``
    of word ``i // 64`` (read by the compiled kernel: one word serves 64 samples)."""
    m = bits.shape[0]
    packed = np.packbits(bits, axis=1, bitorder="little")
    if packed.shape[1] % 8:
        packed = np.concatenate([packed, np.zeros((m, -packed.shape[1] % 8), np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view("<u8")


def _rows_of(loss: np.ndarray) -> Callable[[int, np.ndarray, np.ndarray], None]:
    """``loss(j, index, out)`` of :func:`flip_tables` reading an ``(m, n)`` matrix."""

    def write(j: int, index: np.ndarray, out: np.ndarray) -> None:
        np.take(loss[j], index, out=out, mode="clip")  # (valid indices: no buffer)

    return write


def _near_products(
    correct: np.ndarray,
    near: np.ndarray,
    loss: Callable[[int, np.ndarray, np.ndarray], None],
    samples: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``near_a_only`` and ``near_loss`` of :func:`flip_tables` by matrix products over
    ``samples`` (its numpy path)."""
    m = correct.shape[0]
    width = min(_BLOCK, len(samples))
    # buffers kept for the call (no page faults); the loss products keep the layout of a
    # gathered copy, columns contiguous, so they add in the order they always did
    g1, g2, weighted, block_loss = (np.empty((m, width), order="F") for _ in range(4))
    right, close = np.empty((m, width), bool, order="F"), np.empty((m, width), bool, order="F")
    rows = np.empty((m, width))  # each model's losses, contiguous, then copied in
    near_a_only, p, q = np.zeros((m, m)), np.zeros((m, m)), np.zeros((m, m))
    for start in range(0, len(samples), _BLOCK):
        index = samples[start : start + _BLOCK]
        size = len(index)
        r, c = right[:, :size], close[:, :size]
        np.take(correct, index, axis=1, out=r, mode="clip")  # (valid indices: "clip"
        np.take(near, index, axis=1, out=c, mode="clip")  # writes out unbuffered)
        a, b, w, losses = g1[:, :size], g2[:, :size], weighted[:, :size], block_loss[:, :size]
        np.logical_and(r, c, out=a)  # right and near, as 0.0 or 1.0
        np.greater(c, r, out=b)  # wrong and near
        for j in range(m):
            loss(j, index, rows[j, :size])
        np.copyto(losses, rows[:, :size])
        near_a_only += a @ b.T
        p += np.multiply(a, losses, out=w) @ b.T
        q += a @ np.multiply(b, losses, out=w).T
    return near_a_only, p - p.T - q + q.T


def first_rows(
    blocks: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    candidates: np.ndarray,
    ordered: np.ndarray,
    wanted: np.ndarray,
) -> list[np.ndarray]:
    """For each ordered pair ``(a, b)``, the first samples where ``x[a] & y[b]``.

    Parameters
    ----------
    blocks : callable
        ``blocks(samples)`` gives ``(x, y)``, the ``(m, len)`` bool columns of ``x`` and
        ``y`` (one row per model) at an array of sample indices: built a block at a time,
        so no ``(m, n)`` copy is made.
    candidates : ndarray of int
        The samples where some ``x`` and some ``y`` hold, ascending (others are skipped).
    ordered : ndarray of int, shape (p, 2)
    wanted : ndarray of int, shape (p,)
        How many samples to collect per pair; it must not exceed the number that exist
        (the counts of :func:`flip_tables`), which lets the scan stop as soon as every pair
        has its samples.

    Returns
    -------
    list of ndarray
        Sample indices, ascending, one array per pair.

    Examples
    --------
    >>> c = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], bool)
    >>> right_wrong = lambda samples: (c[:, samples], ~c[:, samples])
    >>> first_rows(right_wrong, np.arange(4), np.array([[0, 1], [1, 0]]), np.array([5, 1]))[1]
    array([2])
    >>> first_rows(right_wrong, np.arange(4), np.array([[0, 1]]), np.array([1]))[0].tolist()
    [0]
    """
    found: list[list[np.ndarray]] = [[] for _ in range(len(ordered))]
    remaining = np.asarray(wanted, dtype=np.int64).copy()
    start, width = 0, _ID_FIRST
    while start < len(candidates):
        active = np.flatnonzero(remaining > 0)
        if active.size == 0:
            break
        samples = candidates[start : start + width]
        start, width = start + width, min(2 * width, _ID_BLOCK)
        x, y = blocks(samples)
        hits = x[ordered[active, 0]] & y[ordered[active, 1]]
        pair, column = np.nonzero(hits)  # grouped by pair, samples ascending within each
        per_pair = np.bincount(pair, minlength=len(active))
        rank = np.arange(len(pair)) - (np.cumsum(per_pair) - per_pair)[pair]
        keep = rank < remaining[active][pair]
        kept_pair, kept = pair[keep], samples[column[keep]]
        taken = np.bincount(kept_pair, minlength=len(active))
        pieces = np.split(kept, np.cumsum(taken)[:-1])
        for j in np.flatnonzero(taken):
            found[active[j]].append(pieces[j])
        remaining[active] -= taken
    return [np.concatenate(parts) if parts else np.zeros(0, np.int64) for parts in found]
