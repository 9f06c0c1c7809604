"""Predictions: validated labels and probabilities, the only place input is checked.

Everything downstream (Tally, metrics, findings, renderers) takes a :class:`Predictions`
and trusts it. Every check raises :class:`lossgap.InputError` with a one-line message
that names the column, the row (counted from 0, header excluded) and the value, and
says how to fix it.

Conventions
-----------
* Binary: ``y_prob`` is the probability of the positive class (1-D, or two columns whose
  second is the positive class). The positive class is the larger of the two labels in
  sorted order unless ``positive=`` names it. A probability ``p >= threshold`` predicts
  the positive class.
* Multiclass: ``y_prob`` is ``n x k``, rows summing to 1 within :data:`ROW_SUM_TOLERANCE`
  (then renormalised exactly); the decision is the argmax, ties to the lowest class index.
* Logits (``from_logits=True``): binary logits are log-odds of the positive class,
  multiclass logits are turned into log-probabilities with a log-sum-exp, in log space.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit, log_softmax

from lossgap.core.binning import kernel_module
from lossgap.errors import InputError

#: Largest allowed ``|row sum - 1|`` for multiclass probabilities (CSV files often round
#: to 4 decimals); rows within it are renormalised to sum to exactly 1.
ROW_SUM_TOLERANCE = 1e-3
#: Most cells of the probability rows that one BLAS call sums (:func:`row_sums`): below
#: 9,216, where OpenBLAS starts splitting a matrix-vector product among its threads
#: (2,304 times its ``GEMM_MULTITHREAD_THRESHOLD`` of 4).
ROW_SUM_CELLS = 8192

_LOGIT_HINT = (
    "these look like logits: pass from_logits=True (CLI: --logit COL instead of --prob COL)"
)
_PERCENT_HINT = "these look like percentages: divide by 100"


def _describe(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def to_numpy(values: Any, name: str) -> np.ndarray:
    """Convert an array-like (list, numpy, pandas, polars, pyarrow, torch) to numpy.

    Parameters
    ----------
    values : array-like
        The input.
    name : str
        Its name in error messages.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> to_numpy([1, 0, 1], "y_true")
    array([1, 0, 1])
    """
    if values is None:
        msg = f"{name} is missing: pass an array of values"
        raise InputError(msg)
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch tensor
        values = _torch_to_numpy(values, name)
    elif type(values).__module__.startswith("pyarrow"):
        if hasattr(values, "dictionary_decode"):  # dictionary-encoded: the values it codes
            values = values.dictionary_decode()
        if hasattr(values, "combine_chunks"):
            values = values.combine_chunks()
        values = values.to_numpy(zero_copy_only=False)  # nulls become None or NaN
    elif hasattr(values, "to_numpy"):  # pandas / polars Series or DataFrame
        values = values.to_numpy()
    if isinstance(values, np.ma.MaskedArray):
        # np.asarray would drop the mask and read the hidden values as data
        hidden = np.ma.getmaskarray(values)
        if hidden.any():
            row, count = _first_bad_row(hidden.reshape(len(hidden), -1))
            msg = (
                f"{name} is a masked array with a masked value at row {row} ({count} row(s) in "
                "all): drop those rows, or fill them (array.filled(value))"
            )
            raise InputError(msg)
        values = values.data
    try:
        array = np.asarray(values)
    except ValueError as exc:
        msg = f"{name} is ragged or not array-like ({exc}): pass one value per sample"
        raise InputError(msg) from exc
    if array.ndim == 0:
        msg = f"{name} is a single value ({_describe(array)}): pass one value per sample"
        raise InputError(msg)
    return array


def _torch_to_numpy(tensor: Any, name: str) -> np.ndarray:
    """A torch tensor's values as numpy: dense, on the CPU, bfloat16 widened to float32."""
    if getattr(tensor, "is_meta", False):
        msg = f"{name} is a tensor on the meta device, which holds no values: pass real data"
        raise InputError(msg)
    tensor = tensor.detach()
    if getattr(tensor, "is_sparse", False) or str(getattr(tensor, "layout", "")) != "torch.strided":
        tensor = tensor.to_dense()
    tensor = tensor.cpu()
    if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16
        tensor = tensor.float()
    return np.asarray(tensor.numpy())


def _column_names(values: Any) -> list[str] | None:
    """Column names of a DataFrame-like ``y_prob``, else None."""
    columns = getattr(values, "columns", None)
    if columns is None:
        return None
    return [str(c) for c in columns]


def _first_bad_row(mask: np.ndarray) -> tuple[int, int]:
    """(first row index, number of rows) where a row-wise ``mask`` is true."""
    rows = mask if mask.ndim == 1 else mask.any(axis=1)
    return int(np.argmax(rows)), int(rows.sum())


def _column_of(names: Sequence[str], mask: np.ndarray, row: int) -> str:
    if mask.ndim == 1 or len(names) == 1:
        return names[0]
    return names[int(np.argmax(mask[row]))]


def _as_float(values: np.ndarray, names: Sequence[str], what: str) -> np.ndarray:
    """Cast to float64, naming the first text cell or missing value on failure."""
    if values.dtype.kind in "biuf":
        return values.astype(np.float64, copy=False)
    if values.dtype.kind == "c":  # a cast would drop the imaginary part without a word
        flat = values.reshape(len(values), -1)
        row = int(np.argmax((flat.imag != 0).any(axis=1)))
        col = int(np.argmax(flat[row].imag != 0))
        column = names[col] if col < len(names) else names[0]
        msg = (
            f"column {column!r} holds a complex number ({_describe(flat[row, col])} at row "
            f"{row}): {what} are real numbers; pass the real part if that is meant"
        )
        raise InputError(msg)
    flat = values.reshape(len(values), -1)
    for row in range(flat.shape[0]):
        for col in range(flat.shape[1]):
            cell = flat[row, col]
            column = names[col] if col < len(names) else names[0]
            if cell is None or (isinstance(cell, float) and np.isnan(cell)):
                msg = (
                    f"column {column!r} has an empty value at row {row}: "
                    f"drop or fill the rows with missing {what}"
                )
                raise InputError(msg)
            try:
                float(cell)
            except (TypeError, ValueError):
                msg = (
                    f"column {column!r} holds text ({_describe(cell)} at row {row}) where "
                    f"{what} belong: point the option at a numeric column"
                )
                raise InputError(msg) from None
    return values.astype(np.float64)


def _checked_values(raw: np.ndarray, names: Sequence[str], from_logits: bool) -> np.ndarray:
    """Probabilities (or logits) as float64, checked finite (and within [0, 1])."""
    what = "logits" if from_logits else "probabilities"
    values = _as_float(raw, names, what)
    # the extremes decide both checks in the common case: taken once (two passes over the
    # values, not four)
    extremes = (values.min(), values.max()) if values.size else None
    _check_finite(values, names, what, extremes)
    if not from_logits:
        _check_unit_interval(values, names, extremes)
    return values


def _check_finite(
    values: np.ndarray,
    names: Sequence[str],
    what: str,
    extremes: tuple[float, float] | None = None,
) -> None:
    """Raise on the first NaN or infinity (``extremes``: the values' minimum and maximum,
    when the caller took them)."""
    if values.size:
        lo, hi = extremes if extremes is not None else (values.min(), values.max())
        if np.isfinite(lo) and np.isfinite(hi):
            return  # a NaN or an infinity would show in the minimum or the maximum
    for bad, label, fix in (
        (np.isnan(values), "NaN", "drop or fill those rows"),
        (np.isinf(values), "an infinite value", "drop those rows or fix the model output"),
    ):
        if bad.any():
            row, count = _first_bad_row(bad)
            column = _column_of(names, bad, row)
            msg = (
                f"column {column!r} has {label} at row {row} ({count} row(s) in all); "
                f"{what} must be finite: {fix}"
            )
            raise InputError(msg)


def _check_unit_interval(
    values: np.ndarray, names: Sequence[str], extremes: tuple[float, float] | None = None
) -> None:
    # two reductions (or the caller's extremes) decide the common case; values are finite
    # here (_check_finite)
    lo, hi = extremes if extremes is not None else (values.min(), values.max())
    if lo >= 0 and hi <= 1:
        return
    bad = (values < 0) | (values > 1)
    row, count = _first_bad_row(bad)
    column = _column_of(names, bad, row)
    value = values[row] if values.ndim == 1 else values[row][np.argmax(bad[row])]
    lo, hi = float(values.min()), float(values.max())
    # Percentages are mostly above 1 and never negative; anything else reads as logits.
    percent = lo >= 0 and hi <= 100 and float(np.median(values)) > 1
    hint = _PERCENT_HINT if percent else _LOGIT_HINT
    msg = (
        f"column {column!r} holds {_describe(value)} at row {row}, outside [0, 1] "
        f"({count} row(s) in all, range {lo:g} to {hi:g}): {hint}"
    )
    raise InputError(msg)


#: Floats hold every integer up to this magnitude exactly; a float label beyond it (or an
#: infinity) cannot name a class (its int64 cast would wrap or round).
_EXACT_FLOAT_INT = 2.0**53
#: Cell types that cannot be a label or an id (np.unique cannot even sort them).
_UNHASHABLE = frozenset({"list", "dict", "ndarray", "tuple", "set"})
#: Cell types read from files (dates, times, bytes, decimals) that name a class by their text.
_TEXT_LIKE = frozenset({"date", "datetime", "time", "timedelta", "Timestamp", "bytes", "Decimal"})


def _as_text(value: Any) -> Any:
    """A bytes, date or decimal cell as text; other cells unchanged."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if type(value).__name__ in _TEXT_LIKE:
        return str(value)
    return value


def _labels_array(y_true: Any, name: str) -> np.ndarray:
    y = to_numpy(y_true, name)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        msg = (
            f"{name} has shape {y.shape}: pass one label per sample "
            "(class labels, not one-hot rows)"
        )
        raise InputError(msg)
    if len(y) == 0:
        msg = f"{name} is empty: there are no samples to evaluate"
        raise InputError(msg)
    if y.dtype.kind in "Mm":  # dates and durations: classes named by their text
        return y.astype(str)
    if y.dtype.kind == "S":  # bytes: their text, undecodable bytes escaped
        return np.array([v.decode("utf-8", "backslashreplace") for v in y.tolist()])
    if y.dtype.kind == "c":
        msg = (
            f"column {name!r} holds complex numbers ({_describe(y[0])} at row 0): "
            "labels must be classes"
        )
        raise InputError(msg)
    if y.dtype.kind == "f":
        beyond = ~(np.abs(y) <= _EXACT_FLOAT_INT)  # also true for inf; NaN is refused below
        if beyond.any() and not np.isnan(y[beyond]).all():
            row, count = _first_bad_row(beyond & ~np.isnan(y))
            msg = (
                f"column {name!r} holds {_describe(y[row])} at row {row} ({count} row(s) in all), "
                "beyond the integers a float holds exactly (|label| <= 2**53): labels must be "
                "classes; store the labels as text or as integers"
            )
            raise InputError(msg)
        if np.isnan(y).any():
            row, count = _first_bad_row(np.isnan(y))
            msg = (
                f"column {name!r} has an empty or NaN label at row {row} "
                f"({count} row(s) in all): drop those rows"
            )
            raise InputError(msg)
        if not np.all(y == np.round(y)):
            row = int(np.argmax(y != np.round(y)))
            msg = (
                f"column {name!r} holds {_describe(y[row])} at row {row}, not a class label: "
                "labels must be classes (ints, bools or strings); is this the probability column?"
            )
            raise InputError(msg)
        return y.astype(np.int64)
    if y.dtype.kind == "O":
        missing = np.array([v is None or (isinstance(v, float) and np.isnan(v)) for v in y])
        if missing.any():
            row, count = _first_bad_row(missing)
            msg = (
                f"column {name!r} has an empty label at row {row} ({count} row(s) in all): "
                "drop those rows"
            )
            raise InputError(msg)
        kinds = {type(v).__name__ for v in y}
        if kinds & _UNHASHABLE:
            row = next(i for i, v in enumerate(y) if type(v).__name__ in _UNHASHABLE)
            msg = (
                f"column {name!r} holds a {type(y[row]).__name__} at row {row}: labels must be "
                "single values (ints, bools or strings), not lists or records"
            )
            raise InputError(msg)
        if "int" in kinds and any(isinstance(v, int) and abs(v) > 2**63 - 1 for v in y):
            row = next(i for i, v in enumerate(y) if isinstance(v, int) and abs(v) > 2**63 - 1)
            msg = (
                f"column {name!r} holds {y[row]} at row {row}, beyond 64-bit integers: "
                "store such labels as text"
            )
            raise InputError(msg)
        if kinds & _TEXT_LIKE:  # dates, times, bytes, decimals: classes named by their text
            y = np.array([_as_text(v) for v in y], dtype=object)
            kinds = {type(v).__name__ for v in y}
        if len(kinds) > 1 and not kinds <= {"int", "bool"}:
            msg = (
                f"column {name!r} mixes label types ({', '.join(sorted(kinds))}): "
                "use one type for every label"
            )
            raise InputError(msg)
        return y.astype(str) if kinds == {"str"} else y
    return y


def _ids_array(ids: Any, n: int, name: str) -> np.ndarray:
    """Sample ids as a 1-D array of printable values: dates and bytes become text."""
    array = to_numpy(ids, name)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        msg = f"{name} has shape {array.shape}: pass one id per sample"
        raise InputError(msg)
    if len(array) != n:
        msg = f"lengths differ: {n} labels but {len(array)} ids in {name!r}"
        raise InputError(msg)
    if array.dtype.kind in "McmS":
        if array.dtype.kind == "S":
            return np.array([_as_text(v) for v in array.tolist()])
        return array.astype(str)
    if array.dtype.kind == "O":
        bad = [i for i, v in enumerate(array) if type(v).__name__ in _UNHASHABLE]
        if bad:
            msg = (
                f"column {name!r} holds a {type(array[bad[0]]).__name__} at row {bad[0]} "
                f"({len(bad)} row(s) in all): ids must be single values (numbers or text)"
            )
            raise InputError(msg)
        array = np.array([_as_text(v) for v in array], dtype=object)
    return array


#: Positive weights outside this range would overflow or vanish in weighted sums of squares.
_WEIGHT_RANGE = (1e-100, 1e100)

#: Integer labels spanning fewer values than this are counted with a bincount, not sorted.
_DENSE_LABEL_SPAN = 1 << 16


def _distinct_labels(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct labels, ascending, and each label's index among them.

    The same as ``np.unique(labels, return_inverse=True)``, without a sort for integer and
    boolean labels of a small span; labels that already are ``0 .. k-1`` (int64) are their
    own indices, uncopied.

    Examples
    --------
    >>> distinct, index = _distinct_labels(np.array([3, 1, 3, 7]))
    >>> distinct.tolist(), index.tolist()
    ([1, 3, 7], [1, 0, 1, 2])
    """
    if labels.dtype.kind in "biu":
        lo, hi = int(labels.min()), int(labels.max())
        if hi - lo < _DENSE_LABEL_SPAN and -(2**62) < lo and hi < 2**62:  # fits an intp
            as_intp = labels.astype(np.intp, copy=False)
            offset = as_intp if lo == 0 else as_intp - lo
            present = np.bincount(offset, minlength=hi - lo + 1) > 0
            distinct = (np.flatnonzero(present) + lo).astype(labels.dtype)
            if present.all():
                return distinct, offset.astype(np.int64, copy=False)
            return distinct, (np.cumsum(present) - 1)[offset]
    distinct, inverse = np.unique(labels, return_inverse=True)
    return distinct, inverse.reshape(-1)


def _match_label(value: Any, classes: Sequence[Any]) -> Any | None:
    """The class equal to ``value``, comparing as text when types differ (CLI passes text)."""
    for c in classes:
        if c == value or str(c) == str(value):
            return c
    return None


def _label_texts(value: Any) -> set[str]:
    """The texts a column name may use for a label (``True`` also as ``true``)."""
    text = str(value)
    return {text, text.lower()} if isinstance(value, bool | np.bool_) else {text}


def _common_prefix(names: Sequence[str]) -> str:
    first, last = min(names), max(names)  # the common prefix of all is that of these two
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _name_readings(
    names: Sequence[str], observed: Sequence[Any]
) -> tuple[list[tuple[Any, ...]], list[list[Any]]]:
    """How the column names can name the observed labels.

    Each prefix shared by every name is tried: without it, the names either name every
    observed label (a *reading*: the class of each column, the rest of its name where it
    names a class absent from these labels) or only some of them (a *partial* reading: the
    labels it leaves without a column). Exact text is compared, never a guess.

    Examples
    --------
    >>> _name_readings(["p_class_2", "p_class_10"], ["class_10", "class_2"])[0]
    [('class_2', 'class_10')]
    >>> _name_readings(["p_a", "p_b", "p_c"], ["a", "b", "d"])[1]
    [['d']]
    """
    full: list[tuple[Any, ...]] = []
    partial: list[list[Any]] = []
    for size in range(len(_common_prefix(names)) + 1):
        suffixes = [n[size:] for n in names]
        if "" in suffixes or len(set(suffixes)) < len(suffixes):
            continue
        column = {suffix: j for j, suffix in enumerate(suffixes)}
        reading: list[Any] = list(suffixes)
        missing = []
        for value in observed:
            j = next((column[t] for t in _label_texts(value) if t in column), None)
            if j is None:
                missing.append(value)
            else:
                reading[j] = value
        if not missing:
            if tuple(reading) not in full:
                full.append(tuple(reading))
        elif len(missing) < len(observed):
            partial.append(missing)
    return full, partial


def _typed_like(reading: tuple[Any, ...], observed: Sequence[Any]) -> tuple[Any, ...]:
    """A reading whose columns name absent classes, typed like the observed labels."""
    texts = [str(c) for c in reading]
    kinds = {type(v) for v in observed}
    if kinds <= {int} and all(re.fullmatch(r"-?[0-9]+", t) for t in texts):
        return tuple(int(t) for t in texts)
    if kinds <= {bool} and all(t.lower() in ("true", "false") for t in texts):
        return tuple(t.lower() == "true" for t in texts)
    return tuple(texts)


def _show(values: Sequence[Any], most: int = 6) -> str:
    shown = ", ".join(repr(python_scalar(v)) for v in values[:most])
    return shown + (f" and {len(values) - most} more" if len(values) > most else "")


def python_scalar(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


class Predictions:
    """Labels and predicted probabilities, validated once.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        Class labels: ints, bools or strings.
    y_prob : array-like of shape (n,) or (n, k)
        Probability of the positive class (binary), or one column per class.
        With ``from_logits=True``, logits instead.
    from_logits : bool, default=False
        ``y_prob`` holds logits (log-odds for binary, unnormalised log-probabilities
        for multiclass).
    sample_weight : array-like of shape (n,), default=None
        Non-negative weights.
    classes : sequence, default=None
        The classes in column order. Inferred from the labels (sorted) or from the
        probability column names when not given.
    positive : label, default=None
        The positive class (binary only); default the larger label in sorted order.
    ids : array-like of shape (n,), default=None
        Sample identifiers, shown for the worst samples; default the row index.
    threshold : float, default=0.5
        Binary decision threshold: ``p >= threshold`` predicts the positive class.
    label_name, prob_names, weight_name, id_name : str or list of str
        Column names used in error messages.

    Attributes
    ----------
    y : ndarray of int64, shape (n,)
        Class index of each label into ``classes``.
    prob : ndarray of float64
        Binary: shape (n,), probability of ``classes[1]``. Multiclass: shape (n, k).
    logits : ndarray of float64 or None
        The logits, when given (binary: log-odds; multiclass: log-probabilities).
    classes : tuple
        Class labels in column order; for binary ``classes[1]`` is the positive class.

    Examples
    --------
    >>> p = Predictions(["cat", "dog", "dog"], [0.3, 0.8, 0.4])
    >>> p.classes, p.y.tolist(), p.task
    (('cat', 'dog'), [0, 1, 1], 'binary')
    >>> Predictions([0, 1], [0.2, 1.7])
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: column 'y_prob' holds 1.7 at row 1, outside [0, 1] ...
    """

    def __init__(
        self,
        y_true: npt.ArrayLike,
        y_prob: npt.ArrayLike,
        *,
        from_logits: bool = False,
        sample_weight: npt.ArrayLike | None = None,
        classes: Sequence[Any] | None = None,
        positive: Any = None,
        ids: npt.ArrayLike | None = None,
        threshold: float = 0.5,
        label_name: str = "y_true",
        prob_names: Sequence[str] | None = None,
        weight_name: str = "sample_weight",
        id_name: str = "ids",
    ) -> None:
        if not isinstance(threshold, int | float | np.number) or not 0.0 < float(threshold) < 1.0:
            msg = f"threshold must lie strictly between 0 and 1, got {threshold!r}"
            raise InputError(msg)
        self.threshold = float(threshold)
        self.from_logits = bool(from_logits)
        names = list(prob_names) if prob_names else _column_names(y_prob)
        labels = _labels_array(y_true, label_name)
        raw = to_numpy(y_prob, "y_prob")
        if raw.ndim == 2 and raw.shape[1] == 1:
            raw = raw[:, 0]
        if raw.ndim not in (1, 2) or (raw.ndim == 2 and raw.shape[1] == 0):
            msg = f"y_prob has shape {raw.shape}: pass (n,) or (n, k) probabilities"
            raise InputError(msg)
        width = 1 if raw.ndim == 1 else raw.shape[1]
        named = names is not None and len(names) == width  # names that may name classes
        if names is None or not named:
            names = ["y_prob"] if width == 1 else [f"y_prob[:, {j}]" for j in range(width)]
        self.prob_names = names
        if len(raw) != len(labels):
            msg = (
                f"lengths differ: {len(labels)} labels in {label_name!r} but {len(raw)} rows "
                f"of probabilities in {', '.join(map(repr, names))}: pass one row per label"
            )
            raise InputError(msg)
        values = _checked_values(raw, names, from_logits)
        self.classes, self.y = self._resolve_classes(
            labels, width, names if named else None, classes, label_name
        )
        self.task = "binary" if len(self.classes) == 2 else "multiclass"
        if self.task == "multiclass" and width == 1:
            msg = (
                f"{label_name!r} holds {len(self.classes)} classes but there is one probability "
                "column: pass one column per class (--prob 'p_*')"
            )
            raise InputError(msg)
        if positive is not None and self._set_positive(positive) and values.ndim == 2:
            values, names = values[:, ::-1], names[::-1]  # keep columns in class order
        self.prob, self.logits = self._probabilities(values, from_logits, names)
        self.positive = self.classes[1] if self.task == "binary" else None
        n = len(self.y)
        self.sample_weight = self._weights(sample_weight, n, weight_name)
        self.ids = np.arange(n) if ids is None else _ids_array(ids, n, id_name)

    @classmethod
    def on_same_samples(
        cls,
        first: Predictions,
        y_prob: npt.ArrayLike,
        *,
        from_logits: bool = False,
        prob_names: Sequence[str] | None = None,
    ) -> Predictions:
        """Another model's probabilities of the positive class on ``first``'s samples.

        ``first``'s labels, classes, ids, weights and threshold are shared, not validated
        again (a comparison of 50 models at 1e6 samples spent 2 s re-reading the same
        labels); ``y_prob`` is validated as the constructor validates it. For binary
        ``first`` and one column (1-D) only: other shapes go through the constructor.

        Examples
        --------
        >>> a = Predictions(["cat", "dog", "dog"], [0.3, 0.8, 0.4])
        >>> b = Predictions.on_same_samples(a, [0.6, 0.9, 0.2])
        >>> b.y is a.y, b.classes, b.prob.tolist()
        (True, ('cat', 'dog'), [0.6, 0.9, 0.2])
        """
        raw = to_numpy(y_prob, "y_prob")
        if first.task != "binary" or raw.ndim != 1:
            msg = "on_same_samples takes one column of a binary model's probabilities"
            raise ValueError(msg)
        names = list(prob_names) if prob_names else ["y_prob"]
        if len(raw) != len(first):
            msg = (
                f"lengths differ: {len(first)} labels but {len(raw)} rows of probabilities "
                f"in {', '.join(map(repr, names))}: pass one row per label"
            )
            raise InputError(msg)
        new = copy.copy(first)  # shares first's arrays; none is ever written
        new.__dict__.pop("_argmax", None)
        new.prob_names = names
        new.from_logits = bool(from_logits)
        new.prob, new.logits = new._probabilities(
            _checked_values(raw, names, from_logits), from_logits, names
        )
        return new

    def take(self, rows: slice | np.ndarray) -> Predictions:
        """These predictions on some samples only: views of the arrays for a slice.

        Examples
        --------
        >>> p = Predictions(["cat", "dog", "dog"], [0.3, 0.8, 0.4])
        >>> part = p.take(slice(1, 3))
        >>> len(part), part.prob.tolist(), part.ids.tolist(), part.classes
        (2, [0.8, 0.4], [1, 2], ('cat', 'dog'))
        """
        part = copy.copy(self)
        if "_argmax" in self.__dict__:
            part._argmax = self._argmax[rows]
        part.y, part.prob, part.ids = self.y[rows], self.prob[rows], self.ids[rows]
        part.logits = None if self.logits is None else self.logits[rows]
        part.sample_weight = None if self.sample_weight is None else self.sample_weight[rows]
        return part

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"Predictions(task={self.task!r}, n={len(self)}, classes={self.classes!r})"

    @property
    def n_classes(self) -> int:
        """Number of classes ``k``."""
        return len(self.classes)

    @property
    def class_prob(self) -> np.ndarray:
        """Probabilities as an ``n x k`` matrix, for binary too."""
        if self.task == "binary":
            # written in place: column_stack of ``1 - p`` and ``p`` made a temporary of n
            # doubles too, and each fresh array faults in page by page (1.6 -> 0.9 ms at 1e6)
            both = np.empty((len(self.prob), 2))
            np.subtract(1.0, self.prob, out=both[:, 0])
            both[:, 1] = self.prob
            return both
        return self.prob

    def class_rows(self) -> np.ndarray:
        """Probabilities as contiguous class rows, ``(k, n)`` (binary: ``(2, n)``).

        Computed once and kept for these probabilities (validated predictions do not
        change; a subset of the rows computes its own); do not modify the array returned.
        The Tally's class columns, the temperature's log-probabilities and the
        cross-fitting's gathers all run along contiguous rows, and one transposed copy
        serves them all.

        Examples
        --------
        >>> pred = Predictions([0, 2], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
        >>> pred.class_rows()[2].tolist()
        [0.2, 0.8]
        """
        kept = self.__dict__.get("_class_rows")
        if kept is None or kept[0] is not self.prob:
            kept = self._class_rows = (self.prob, _transposed(self.class_prob))
        return kept[1]

    def predicted(self) -> np.ndarray:
        """Predicted class index: ``p >= threshold`` (binary) or argmax, ties to the lowest.

        The multiclass argmax is computed once and kept (validated predictions do not
        change); do not modify the array returned.
        """
        if self.task == "binary":
            return (self.prob >= self.threshold).astype(np.int64)
        decided = self.__dict__.get("_argmax")
        if decided is None or len(decided) != len(self.y):
            kernels = multiclass_kernels(self.prob)
            if kernels is None:
                decided = np.argmax(self.prob, axis=1)
            else:  # the same indices, in one pass along the rows
                decided = np.empty(len(self.prob), dtype=np.int64)
                kernels.row_argmax(self.prob, decided)
            self._argmax = decided
        return decided

    # -- construction helpers -------------------------------------------------------------

    def _resolve_classes(
        self,
        labels: np.ndarray,
        width: int,
        names: list[str] | None,
        classes: Sequence[Any] | None,
        label_name: str,
    ) -> tuple[tuple[Any, ...], np.ndarray]:
        """The classes in column order and each label's class index.

        Column names are matched to the labels exactly (:func:`_name_readings`); names that
        name no label leave the order to ``classes``, to ``0 .. k-1`` or to the sorted labels.
        """
        distinct, inverse = _distinct_labels(labels)
        observed = [python_scalar(v) for v in distinct]
        named = None
        if names is not None and width >= 2:
            named = self._classes_from_names(observed, names, label_name)
        if classes is not None:
            declared = tuple(python_scalar(c) for c in classes)
            if named is not None and len(declared) == width and any(
                n is not None and str(n) != str(c) for n, c in zip(named, declared, strict=True)
            ):
                msg = (
                    f"classes {declared!r} contradict the probability columns "
                    f"{', '.join(names or ())}, which name the classes {named!r}: "
                    "list the classes in column order"
                )
                raise InputError(msg)
        elif named is not None:
            declared = named
        elif width >= 3:
            declared = self._classes_by_position(observed, width, names or [], label_name)
        else:
            if len(observed) == 1:
                msg = (
                    f"{label_name!r} holds a single class ({observed[0]!r}): log loss, ROC AUC "
                    "and recall need both classes; evaluate on a sample with both, or name "
                    "the classes (classes=[...], CLI --classes A,B)"
                )
                raise InputError(msg)
            if width <= 2 and len(observed) > 2:
                shown = ", ".join(map(repr, observed[:5]))
                msg = (
                    f"{label_name!r} holds {len(observed)} classes ({shown}) but the "
                    f"probabilities have {width} column(s): pass one column per class "
                    "(--prob 'p_*')"
                )
                raise InputError(msg)
            declared = tuple(observed)
        if len(set(map(str, declared))) != len(declared):
            msg = f"classes {declared!r} repeat a class: name each class once"
            raise InputError(msg)
        if width >= 2 and len(declared) != width:
            msg = (
                f"{len(declared)} classes {declared!r} but {width} probability columns: "
                "pass one column per class, in class order"
            )
            raise InputError(msg)
        lookup = {str(c): i for i, c in enumerate(declared)}
        # map each distinct label (few) to its class index; -1 marks a label outside the set
        index = np.array([lookup.get(str(v), -1) for v in observed], np.int64)
        identity = inverse.dtype == np.int64 and np.array_equal(index, np.arange(len(index)))
        codes = inverse if identity else index[inverse]
        unknown = codes < 0
        if unknown.any():
            row, count = _first_bad_row(unknown)
            msg = (
                f"column {label_name!r} holds {_describe(labels[row])} at row {row}, outside the "
                f"class set {declared!r} ({count} row(s) in all): fix the label or the classes"
            )
            raise InputError(msg)
        return declared, codes

    @staticmethod
    def _classes_from_names(
        observed: list[Any], names: list[str], label_name: str
    ) -> tuple[Any, ...] | None:
        """The classes the column names give, in column order; None when no name names a
        label. Refuses names that name only some labels, or name them in two ways."""
        full, partial = _name_readings(names, observed)
        if len(full) > 1:
            ways = "; ".join(
                ", ".join(f"{n}={c!r}" for n, c in zip(names, r, strict=True) if c is not None)
                for r in full[:3]
            )
            msg = (
                f"the probability columns name the labels of {label_name!r} in {len(full)} "
                f"ways ({ways}): pass the classes in column order with --classes "
                "(API: classes=[...])"
            )
            raise InputError(msg)
        if full:
            return _typed_like(full[0], observed)
        if partial:
            missing = min(partial, key=len)
            msg = (
                f"label(s) {_show(missing)} of {label_name!r} have no probability column "
                f"(the columns are {', '.join(names)}): add the column, or pass the classes "
                "in column order with --classes (API: classes=[...])"
            )
            raise InputError(msg)
        return None

    @staticmethod
    def _classes_by_position(
        observed: list[Any], width: int, names: list[str], label_name: str
    ) -> tuple[Any, ...]:
        """Classes for columns whose names name no label: ``0 .. k-1`` or the sorted labels."""
        if all(isinstance(v, int) and not isinstance(v, bool) for v in observed):
            if min(observed) >= 0 and max(observed) < width:
                return tuple(range(width))
        if len(observed) == width:
            return tuple(observed)
        msg = (
            f"cannot tell which of the {width} probability columns ({', '.join(names)}) belongs "
            f"to which of the labels in {label_name!r} ({_show(observed)}): "
            "name the columns after the classes (p_<class>) or pass --classes (API: classes=[...])"
        )
        raise InputError(msg)

    def _probabilities(
        self, values: np.ndarray, from_logits: bool, names: list[str]
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if self.task == "binary":
            if values.ndim == 2:
                if from_logits:  # two-column logits: the log-odds is their difference
                    logit = values[:, 1] - values[:, 0]
                    return expit(logit), logit
                self._check_row_sums(values, names)
                values = values[:, 1]
            if from_logits:
                return expit(values), values
            return values, None
        if from_logits:
            log_prob = log_softmax(values, axis=1)
            return np.exp(log_prob), log_prob
        return self._check_row_sums(values, names), None

    def _check_row_sums(self, values: np.ndarray, names: list[str]) -> np.ndarray:
        sums = row_sums(values)
        kernels = multiclass_kernels(values) if values.flags.c_contiguous else None
        if kernels is not None:
            # the check and the division in one pass along the rows: the same quotients
            normalised = np.empty(values.shape)
            if not kernels.divide_rows(values, sums, ROW_SUM_TOLERANCE, normalised):
                return normalised
        bad = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
        if bad.any():
            row, count = _first_bad_row(bad)
            msg = (
                f"probabilities in {', '.join(names)} sum to {sums[row]:.6g} at row {row}, "
                f"not 1 (tolerance {ROW_SUM_TOLERANCE:g}; {count} row(s) in all): pass the "
                "softmax output, or use --logit for raw scores"
            )
            raise InputError(msg)
        return values / sums[:, None]

    def _set_positive(self, positive: Any) -> bool:
        """Make ``positive`` the second class; True when that swapped the classes."""
        if self.task != "binary":
            msg = (
                f"positive={positive!r} applies to binary labels only; these have "
                f"{len(self.classes)} classes"
            )
            raise InputError(msg)
        match = _match_label(positive, self.classes)
        if match is None:
            msg = f"positive class {positive!r} is not one of the classes {self.classes!r}"
            raise InputError(msg)
        if match != self.classes[0]:
            return False
        # A 1-D y_prob is the probability of `positive`: only the class order changes.
        self.classes = (self.classes[1], self.classes[0])
        self.y = 1 - self.y
        return True

    @staticmethod
    def _weights(sample_weight: Any, n: int, name: str) -> np.ndarray | None:
        if sample_weight is None:
            return None
        raw = to_numpy(sample_weight, name)
        if raw.ndim != 1 or len(raw) != n:
            msg = f"lengths differ: {n} labels but {raw.shape[0]} weights in {name!r}"
            raise InputError(msg)
        weights = _as_float(raw, [name], "weights")
        _check_finite(weights, [name], "weights")
        if (weights < 0).any():
            row = int(np.argmax(weights < 0))
            msg = (
                f"column {name!r} holds {_describe(weights[row])} at row {row}: "
                "weights must be >= 0"
            )
            raise InputError(msg)
        positive = weights[weights > 0]
        low, high = _WEIGHT_RANGE
        if positive.size and not (low <= positive.min() and positive.max() <= high):
            extreme = positive.min() if positive.min() < low else positive.max()
            row = int(np.argmax(weights == extreme))
            msg = (
                f"column {name!r} holds {_describe(extreme)} at row {row}, outside the weights "
                f"sums and squares can hold ({low:g} to {high:g}): rescale the "
                "weights (only their ratios matter)"
            )
            raise InputError(msg)
        if weights.sum() <= 0:
            msg = f"column {name!r} sums to zero: at least one sample needs a positive weight"
            raise InputError(msg)
        return weights


def row_sums(values: np.ndarray) -> np.ndarray:
    """Each row's sum of an ``(n, k)`` array: ``values @ np.ones(k)`` (faster than a sum
    over the short axis), in blocks of at most :data:`ROW_SUM_CELLS` cells and a multiple
    of four rows.

    One product over a million rows goes to OpenBLAS's threads, which then spin for tens
    of milliseconds after it (40-46 ms of CPU at 10^6 x 10 on two cores, about a twentieth
    of ``explain``'s); a block below its threading threshold is summed on the calling
    thread. Its kernel takes the rows four at a time and the last ``n % 4`` by another
    path, so blocks of a multiple of four rows give the sums of one call on one thread,
    bit for bit (tested); but a block of one row would be numpy's dot product, another
    order, so a last row alone goes with the four before it (summed again: the same
    doubles). One call on several threads splits the rows among them, which may move a
    few rows of each part to that other path (one unit in the last place apart), so the
    sums no longer depend on the number of threads. Rows of more than 1,024 classes, which
    no block of eight fits, go in one call as before.

    Examples
    --------
    >>> row_sums(np.array([[0.25, 0.75], [0.5, 0.5]]))
    array([1., 1.])
    """
    n, k = values.shape
    ones = np.ones(k)
    rows = ROW_SUM_CELLS // k // 4 * 4
    if n <= rows or rows < 8:
        return values @ ones
    sums = np.empty(n)
    for start in range(0, n, rows):
        if start == n - 1:
            start -= 4
        np.matmul(values[start : start + rows], ones, out=sums[start : start + rows])
    return sums


#: Rows of an ``(n, k)`` array transposed at a time by :func:`_transposed`.
TRANSPOSE_ROWS = 4096


def _transposed(values: np.ndarray) -> np.ndarray:
    """``np.ascontiguousarray(values.T)`` in blocks of :data:`TRANSPOSE_ROWS` rows: a
    block's ``k`` output stretches and its input stay in the cache, where one strided copy
    of the whole walks the output rows ``k`` times through memory (the same values; 41 ->
    21 ms at 10^6 x 10).

    Examples
    --------
    >>> _transposed(np.arange(6.0).reshape(3, 2)).tolist()
    [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]
    """
    out = np.empty(values.shape[::-1], dtype=values.dtype)
    for start in range(0, len(values), TRANSPOSE_ROWS):
        out[:, start : start + TRANSPOSE_ROWS] = values[start : start + TRANSPOSE_ROWS].T
    return out


#: Cells (rows x classes) from which the multiclass passes over the samples (the label-error
#: test, the cross-fitting's held-out totals) run in numba when it is in use: 0.8 s of
#: numpy against about 0.15 s at 10^6 x 10; below, importing numba and loading its kernels
#: (about 0.5 s) would cost more than they save.
KERNEL_MIN_CELLS = 1 << 21


def multiclass_kernels(prob: np.ndarray) -> Any:
    """``lossgap.core.multiclass_kernels`` for an ``(n, k)`` array of at least
    :data:`KERNEL_MIN_CELLS` cells when the numba kernels are in use
    (:func:`lossgap.core.binning.kernel_module`), else None (the numpy twins).

    Examples
    --------
    >>> multiclass_kernels(np.full((10, 3), 1 / 3)) is None
    True
    """
    return None if prob.size < KERNEL_MIN_CELLS else kernel_module("multiclass_kernels")

