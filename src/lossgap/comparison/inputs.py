"""Inputs of ``compare``: one Predictions per model, all on the same samples.

Three ways in:

* arrays: ``{"name": y_prob, ...}`` with one ``y_true`` (:func:`predictions_from_arrays`);
* one file with a probability (or logit) column per model, ``--prob A --prob B`` or a
  glob (:func:`read_models`); multiclass models name one glob each (``--prob 'a_p_*'``);
* several files, one model each, joined on ``--id`` (or row by row without it). The join
  never drops a row silently: ids that one file lacks are an error that says how many
  and shows a few.

Every model's predictions go through :class:`~lossgap.Predictions`, the one place input
is validated; its messages are prefixed with the model's name.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from lossgap.core.predictions import Predictions
from lossgap.errors import InputError
from lossgap.io.columns import ColumnTable
from lossgap.io.tables import choose_columns, column_values, read_table

#: Column-name endings that mark a model's probability in a one-file comparison.
PROB_SUFFIXES = ("_proba", "_prob", "_probability", "_score")
#: How many unmatched ids or disagreeing labels an error message shows.
_SHOWN = 3


def _named(name: str, exc: InputError) -> InputError:
    msg = f"model {name!r}: {exc}"
    return InputError(msg)


def predictions_from_arrays(
    y_prob: Mapping[str, npt.ArrayLike],
    y_true: npt.ArrayLike,
    *,
    from_logits: bool = False,
    classes: Sequence[Any] | None = None,
    positive: Any = None,
    ids: npt.ArrayLike | None = None,
    threshold: float = 0.5,
) -> dict[str, Predictions]:
    """Validate each model's probabilities against the shared labels.

    Examples
    --------
    >>> preds = predictions_from_arrays({"a": [0.2, 0.7], "b": [0.4, 0.9]}, [0, 1])
    >>> list(preds), preds["b"].prob.tolist()
    (['a', 'b'], [0.4, 0.9])
    >>> predictions_from_arrays({"a": [0.2, 1.7], "b": [0.4, 0.9]}, [0, 1])
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: model 'a': column 'a' holds 1.7 at row 1, outside [0, 1] ...
    """
    if not isinstance(y_prob, Mapping):
        msg = (
            f"y_prob must map model names to predictions, got {type(y_prob).__name__}: "
            'pass {"model a": y_prob_a, "model b": y_prob_b}'
        )
        raise InputError(msg)
    out: dict[str, Predictions] = {}
    first: Predictions | None = None
    for name, values in y_prob.items():
        if not isinstance(name, str) or not name:
            msg = f"model names must be non-empty strings, got {name!r}"
            raise InputError(msg)
        try:
            if _shares_labels(first, values):
                assert first is not None
                out[name] = Predictions.on_same_samples(
                    first, values, from_logits=from_logits, prob_names=[name]
                )
            else:
                out[name] = Predictions(
                    y_true,
                    values,
                    from_logits=from_logits,
                    classes=classes,
                    positive=positive,
                    ids=ids,
                    threshold=threshold,
                    prob_names=[name] if np.ndim(values) == 1 else None,
                )
        except InputError as exc:
            raise _named(name, exc) from exc
        first = first or out[name]
    return out


def _shares_labels(first: Predictions | None, values: Any) -> bool:
    """Whether a model can take ``first``'s validated labels (a binary model's one column:
    its classes come from the labels alone, as ``first``'s did)."""
    return first is not None and first.task == "binary" and np.ndim(values) == 1


def check_same_samples(preds: Mapping[str, Predictions]) -> Predictions:
    """Check that every model scores the same samples with the same labels; the first.

    Examples
    --------
    >>> a = Predictions(["x", "y"], [0.2, 0.7])
    >>> b = Predictions(["x", "z"], [0.4, 0.9])
    >>> check_same_samples({"a": a, "b": b})
    Traceback (most recent call last):
    ...
    lossgap.errors.InputError: model 'b' has classes ('x', 'z') but model 'a' has ...
    """
    names = list(preds)
    first = preds[names[0]]
    for name in names[1:]:
        pred = preds[name]
        for what, mine, theirs, fix in (
            ("samples", len(pred), len(first), "score the same samples with every model"),
            ("classes", pred.classes, first.classes, "give every model the same class order"),
            ("threshold", pred.threshold, first.threshold, "use one decision threshold"),
        ):
            if mine != theirs:
                msg = (
                    f"model {name!r} has {what} {mine!r} but model {names[0]!r} has "
                    f"{theirs!r}: {fix}"
                )
                raise InputError(msg)
        differ = np.zeros(0, np.int64) if pred.y is first.y else np.flatnonzero(pred.y != first.y)
        if differ.size:
            msg = (
                f"model {name!r} has different labels from model {names[0]!r} at "
                f"{differ.size} row(s) (first row {differ[0]}): pass one set of labels"
            )
            raise InputError(msg)
    return first


# -- files ----------------------------------------------------------------------------------


def read_models(
    paths: Sequence[str | Path],
    *,
    label: str | None = None,
    prob: Sequence[str] = (),
    logit: Sequence[str] = (),
    id: str | None = None,
    threshold: float = 0.5,
    positive: str | None = None,
    classes: Sequence[str] | None = None,
    model_column: Sequence[str] = (),
) -> dict[str, Predictions]:
    """Read the models of one file (a column or glob each) or of several files (one each).

    Parameters
    ----------
    paths : sequence of path
        One file holding a probability column per model, or one file per model.
    label, id : str, default=None
        Label and sample-id columns (the label column is guessed when not given).
    prob, logit : sequence of str
        One file: one pattern per model; a glob matching several columns makes one model
        per column when the labels are binary, and one multiclass model when it matches
        one column per class. Several files: the probability (or logit) columns of every
        file, guessed when not given.
    threshold, positive, classes
        As for ``lossgap explain``.
    model_column : sequence of str, default=()
        A long file: the column(s) naming each row's model; the rows of each model are
        one model's predictions (joined on ``id`` when given, else in file order).

    Returns
    -------
    dict of str to Predictions
        Model name (column name, glob prefix or file stem) to its predictions, rows in the
        order of the first file.
    """
    options = {"threshold": threshold, "positive": positive, "classes": classes}
    if prob and logit:
        msg = "pass either --prob or --logit, not both"
        raise InputError(msg)
    if model_column:
        if len(paths) != 1:
            msg = f"--model-column reads one long file, got {len(paths)} files: pass one"
            raise InputError(msg)
        return _models_of_long_file(Path(paths[0]), model_column, label, prob, logit, id, options)
    if len(paths) == 1:
        return _models_of_one_file(Path(paths[0]), label, prob, logit, id, options)
    return _models_of_files([Path(p) for p in paths], label, prob, logit, id, options)


def _models_of_one_file(
    path: Path,
    label: str | None,
    prob: Sequence[str],
    logit: Sequence[str],
    id: str | None,
    options: dict[str, Any],
) -> dict[str, Predictions]:
    table = read_table(path)
    columns = table.column_names
    base = choose_columns(columns, str(path), label=label, id=id, prob=["*"])
    patterns = list(prob or logit) or _guess_model_columns(columns, base.label, base.id, path)
    option = "--logit" if logit else "--prob"
    labels = column_values(table, base.label)
    # numbers are distinct exactly when their text is (0.6 s less at 1e6 labels than
    # sorting their text); other labels count as text, as the classes are matched
    distinct = labels if labels.dtype.kind in "biuf" else labels.astype(str)
    k = len(options["classes"]) if options["classes"] else len(np.unique(distinct))
    groups: dict[str, list[str]] = {}
    for pattern in patterns:
        one = [pattern]
        matched = choose_columns(
            columns, str(path), label=base.label, id=base.id, prob=() if logit else one,
            logit=one if logit else (),
        ).probs
        if len(matched) == 1 or k <= 2:
            groups.update({c: [c] for c in matched})
        elif len(matched) == k:
            groups[_group_name(matched)] = matched
        else:
            msg = (
                f"{option} {pattern!r} matches {len(matched)} columns of {str(path)!r} but the "
                f"labels have {k} classes: give each model one column (binary) or one per class"
            )
            raise InputError(msg)
    if len(groups) < 2:
        msg = (
            f"{str(path)!r} holds one model ({', '.join(groups)}): name two or more probability "
            f"columns ({option} A {option} B, or a glob), or pass one file per model"
        )
        raise InputError(msg)
    ids = None if base.id is None else column_values(table, base.id)
    out: dict[str, Predictions] = {}
    for name, cols in groups.items():
        out[name] = _predictions(
            table, labels, cols, bool(logit), ids, base.label, base.id, options, name,
            first=next(iter(out.values()), None),
        )
    return out


def _guess_model_columns(
    columns: Sequence[str], label: str, id: str | None, path: Path
) -> list[str]:
    found = [
        c
        for c in columns
        if c not in (label, id) and c.lower().endswith(PROB_SUFFIXES)
    ]
    if len(found) < 2:
        msg = (
            f"cannot tell which columns of {str(path)!r} hold the models' probabilities: name "
            f"them with --prob A --prob B (or a glob; the columns are: {', '.join(columns)})"
        )
        raise InputError(msg)
    return found


def _group_name(columns: Sequence[str]) -> str:
    """A multiclass model's name: its columns' common prefix less trailing separators."""
    prefix = os.path.commonprefix(list(columns)).rstrip("_-.: ")
    return prefix or columns[0]


def _predictions(
    table: ColumnTable,
    labels: np.ndarray,
    columns: Sequence[str],
    from_logits: bool,
    ids: np.ndarray | None,
    label: str,
    id_name: str | None,
    options: dict[str, Any],
    name: str,
    *,
    first: Predictions | None = None,
) -> Predictions:
    """One model's validated predictions; with ``first`` (a model on the same rows), its
    labels are shared when they can be (:func:`_shares_labels`) rather than read again."""
    values = [column_values(table, c) for c in columns]
    try:
        if len(values) == 1 and _shares_labels(first, values[0]):
            assert first is not None
            return Predictions.on_same_samples(
                first, values[0], from_logits=from_logits, prob_names=list(columns)
            )
        return Predictions(
            labels,
            values[0] if len(values) == 1 else np.column_stack(values),
            from_logits=from_logits,
            ids=ids,
            label_name=label,
            prob_names=list(columns),
            id_name=id_name or "ids",
            **options,
        )
    except InputError as exc:
        raise _named(name, exc) from exc


def _models_of_files(
    paths: Sequence[Path],
    label: str | None,
    prob: Sequence[str],
    logit: Sequence[str],
    id: str | None,
    options: dict[str, Any],
    tables: Sequence[ColumnTable] = (),
) -> dict[str, Predictions]:
    names = _file_names(paths)
    tables = list(tables) or [read_table(p) for p in paths]
    choices = [
        choose_columns(t.column_names, str(p), label=label, prob=prob, logit=logit, id=id)
        for t, p in zip(tables, paths, strict=True)
    ]
    labels = [column_values(t, c.label) for t, c in zip(tables, choices, strict=True)]
    if id is None:
        rows = _row_by_row(paths, tables)
        ids = None
    else:
        keys = [column_values(t, id) for t in tables]
        rows = [_align(keys[0], keys[j], paths[0], paths[j], id) for j in range(len(paths))]
        ids = keys[0]
    for j in range(1, len(paths)):
        _check_labels(labels[0], labels[j][rows[j]], paths[0], paths[j], ids)
    out: dict[str, Predictions] = {}
    for j, (name, table, choice) in enumerate(zip(names, tables, choices, strict=True)):
        aligned = table.take(rows[j]) if j else table
        out[name] = _predictions(
            aligned, labels[0], choice.probs, choice.from_logits, ids, choice.label, id,
            options, name, first=next(iter(out.values()), None),
        )
    return out


def _models_of_long_file(
    path: Path,
    model_column: Sequence[str],
    label: str | None,
    prob: Sequence[str],
    logit: Sequence[str],
    id: str | None,
    options: dict[str, Any],
) -> dict[str, Predictions]:
    """One model per value of the model column(s): each model's rows, as if its own file."""
    table = read_table(path)
    missing = [c for c in model_column if c not in table.column_names]
    if missing:
        msg = (
            f"no column {missing[0]!r} in {str(path)!r} (from --model-column); the columns are: "
            f"{', '.join(table.column_names)}"
        )
        raise InputError(msg)
    keys = np.array(
        [
            "/".join(parts)
            for parts in zip(
                *(column_values(table, c).astype(str) for c in model_column), strict=True
            )
        ]
    )
    models = list(dict.fromkeys(keys.tolist()))
    if len(models) < 2:
        msg = (
            f"{str(path)!r} holds one model in {', '.join(map(repr, model_column))} "
            f"({models[0]!r}): a comparison needs two or more"
        )
        raise InputError(msg)
    rest = table.drop_columns(list(model_column))
    tables = [rest.filter(keys == m) for m in models]
    # Each model's rows stand for a file named after the model, in messages too.
    paths = [Path(m) for m in models]
    return _models_of_files(paths, label, prob, logit, id, options, tables)


def _file_names(paths: Sequence[Path]) -> list[str]:
    """Model names: the file stems, or the paths as given where stems repeat."""
    stems = [p.stem for p in paths]
    if len(set(stems)) == len(stems) and len({os.path.realpath(p) for p in paths}) == len(paths):
        return stems
    names = [str(p) for p in paths]
    real = [os.path.realpath(p) for p in paths]  # one file under two names (a link, '..')
    if len(set(real)) != len(real):
        j = next(j for j, r in enumerate(real) if real.count(r) > 1)
        msg = f"file {names[j]!r} is given twice: pass each model's file once"
        raise InputError(msg)
    return names


def _row_by_row(paths: Sequence[Path], tables: Sequence[ColumnTable]) -> list[np.ndarray]:
    counts = [t.num_rows for t in tables]
    if len(set(counts)) > 1:
        shown = ", ".join(f"{p.name}: {c}" for p, c in zip(paths, counts, strict=True))
        msg = (
            f"the files hold different numbers of rows ({shown}): pass --id COL to join them "
            "on a sample id"
        )
        raise InputError(msg)
    return [np.arange(counts[0])] * len(tables)


def _comparable(values: np.ndarray) -> np.ndarray:
    return values.astype(str) if values.dtype.kind in "OSU" else values


def _shown(values: np.ndarray) -> str:
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:_SHOWN])


def _check_unique(keys: np.ndarray, path: Path, column: str) -> None:
    distinct, counts = np.unique(keys, return_counts=True)
    if (counts > 1).any():
        repeated = np.flatnonzero(counts > 1)
        rows = np.flatnonzero(keys == distinct[repeated[0]])[:2]
        msg = (
            f"column {column!r} of {str(path)!r} repeats {repeated.size} id(s) (e.g. "
            f"{_shown(distinct[repeated])}; first at rows {rows[0]} and {rows[1]}): "
            "ids must be unique to join files"
        )
        raise InputError(msg)


def _align(
    reference: np.ndarray, other: np.ndarray, ref_path: Path, path: Path, column: str
) -> np.ndarray:
    """Row of ``other`` holding each id of ``reference``; an error unless the ids match."""
    ref_keys, keys = _comparable(reference), _comparable(other)
    if ref_keys.dtype.kind != keys.dtype.kind:  # e.g. 7 in one file, "7" in another
        ref_keys, keys = ref_keys.astype(str), keys.astype(str)
    _check_unique(keys, path, column)
    if path == ref_path:
        return np.arange(len(keys))
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    slot = np.minimum(np.searchsorted(ordered, ref_keys), len(ordered) - 1)
    found = ordered[slot] == ref_keys
    extra = ~np.isin(keys, ref_keys)
    if not found.all() or extra.any():
        missing = ref_keys[~found]
        parts = []
        if missing.size:
            parts.append(
                f"{str(path)!r} lacks {missing.size} of the {len(ref_keys)} ids of "
                f"{str(ref_path)!r} (e.g. {_shown(missing)})"
            )
        if extra.any():
            parts.append(
                f"{'it' if missing.size else repr(str(path))} has {int(extra.sum())} id(s) that "
                f"{str(ref_path)!r} lacks (e.g. {_shown(keys[extra])})"
            )
        msg = (
            f"the files do not hold the same samples in column {column!r}: {' and '.join(parts)}; "
            "compare models on the same samples (filter the files to their common ids first)"
        )
        raise InputError(msg)
    return order[slot]


def _check_labels(
    reference: np.ndarray, labels: np.ndarray, ref_path: Path, path: Path, ids: np.ndarray | None
) -> None:
    ref_text, text = reference.astype(str), labels.astype(str)
    differ = np.flatnonzero(ref_text != text)
    if differ.size:
        row = differ[0]
        where = f"id {_shown(ids[[row]])}" if ids is not None else f"row {row}"
        msg = (
            f"labels differ between {str(ref_path)!r} and {str(path)!r} for {differ.size} of "
            f"{len(text)} samples (e.g. {where}: {str(ref_text[row])!r} vs {str(text[row])!r}): "
            "the files must hold the same samples with the same labels"
        )
        raise InputError(msg)

