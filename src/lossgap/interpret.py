"""``interpret``: what a pair (log loss, accuracy) can and cannot mean, from theory alone.

The numbers come as arguments or as text pasted the way people paste it: Keras progress
lines (``loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826``, with hyphens,
en or em dashes), Lightning's ``val_loss=0.46``, or Hugging Face dicts
(``{'eval_loss': 0.46, 'eval_accuracy': 0.78}``). Each split (train, val, test) gets one
:class:`SplitInterpretation`; :func:`interpret` returns them in an :class:`Interpretation`,
plain data with ``to_dict()`` (the JSON contract of ``docs/json.md``) and findings in the
vocabulary of ``docs/findings.md``. The theory lives in :mod:`lossgap.core.bounds`.

A printed number is taken as rounded: ``0.4577`` stands for anything in
``[0.45765, 0.45775]``, and every number is known to :data:`FLOAT_PRECISION` (relative) at
best, since frameworks compute in float32. The ranges are computed at the printed values; a
verdict such as "no calibrated model has this pair" holds for every pair the digits allow.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from decimal import Decimal, InvalidOperation

from lossgap.core import bounds
from lossgap.core.uncertainty import z_value
from lossgap.errors import InputError
from lossgap.io.names import normalise_name
from lossgap.results.interpret import (
    AccuracyNoise,
    GeneralizationGap,
    Interpretation,
    Reading,
    SplitInterpretation,
    acc_text,
    prob_text,
    split_order,
)
from lossgap.rules.interpret import find

#: Metric names (as :func:`lossgap.io.names.normalise_name` spells them) read as the
#: log loss; the explicit cross-entropy metrics beat ``loss``, which may include penalties.
LOSS_NAMES = {
    "binary_loss": 2,
    "categorical_loss": 2,
    "sparse_categorical_loss": 2,
    "loss": 1,
}

#: Relative precision every number is granted at best: training frameworks compute in
#: float32, so ln 4 may be logged as 1.3862943649291992 (ln 4 = 1.3862943611198906...).
FLOAT_PRECISION = 1e-6
#: Normalized entropy from which the probabilities are said to carry no information.
NO_SKILL = 0.99

# NaN and infinities are matched too, to be refused by name rather than skipped unseen
_NUMBER = (
    r"[-+]?(?:(?:\d+(?:\.\d*|,\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
    r"|(?i:nan|inf(?:inity)?)(?![\w.]))"
)
_PAIR = re.compile(
    # a split written as a word before the key: "Test loss: 1.5996", "Validation acc = 0.78"
    r"(?:(?<![\w.])(?P<split>train(?:ing)?|val(?:idation)?|valid|test|eval)[ \t]+)?"
    r"(?<![\w.])['\"]?(?P<key>[A-Za-z][\w./-]*)['\"]?\s*[:=]\s*"
    r"(?:(?:np\.)?float\d*\(|tensor\()?"  # numpy and torch reprs around the number
    rf"(?P<value>{_NUMBER})(?P<percent>\s*%)?",
    re.IGNORECASE,
)


def read_number(text: str | float, *, key: str) -> Reading:
    """Read ``0.4577``, ``87.38%``, ``87,38%`` or ``1e-3``, keeping its rounding.

    Parameters
    ----------
    text : str or float
        A string is rounded at its last printed decimal (integers are exact); every number
        is known to :data:`FLOAT_PRECISION` relative at best.
    key : str
        Its name, for messages and for :attr:`Reading.key`.

    Returns
    -------
    Reading

    Examples
    --------
    >>> read_number("0.4577", key="loss")
    Reading(value=0.4577, tolerance=5e-05, key='loss')
    >>> r = read_number("87,38%", key="f1"); round(r.value, 6), r.tolerance
    (0.8738, 5e-05)
    """
    if not isinstance(text, str):
        value = float(text)
        return Reading(value, FLOAT_PRECISION * abs(value), key)
    raw = text.strip()
    percent = raw.endswith("%")
    digits = raw.rstrip("%").strip()
    if "," in digits and "." not in digits:
        digits = digits.replace(",", ".")  # a decimal comma: 87,38%
    try:
        number = Decimal(digits)
    except InvalidOperation:
        number = None
    if number is None:
        msg = f"{key}: cannot read {text!r} as a number; write it like 0.4577 or 87.38%"
        raise InputError(msg)
    if not number.is_finite():
        msg = (
            f"{key} is {text.strip()}, not a finite number: the run diverged or the metric "
            "was not computed; pass a finite value"
        )
        raise InputError(msg)
    scale = 100.0 if percent else 1.0
    value = float(number) / scale
    if not math.isfinite(value):
        msg = (
            f"{key}: {text.strip()} is beyond the largest float (about 1e308): "
            "pass the value as logged"
        )
        raise InputError(msg)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite Decimals have an int exponent
    # integers ("1", "2") are taken as exact; printed decimals as rounded (an exponent
    # beyond a float's range cannot be a rounding of a value that is within it)
    rounded = "." in digits or "e" in digits.lower()
    tolerance = 0.5 * 10.0 ** max(min(exponent, 300), -300) if rounded else 0.0
    return Reading(value, max(tolerance / scale, FLOAT_PRECISION * abs(value)), key)


def parse_metrics(text: str) -> dict[str, dict[str, Reading]]:
    """Find the log loss, accuracy and F1 of each split in pasted text.

    Parameters
    ----------
    text : str
        Keras progress lines, ``key=value`` pairs, or Hugging Face dicts; several lines
        (epochs) may be pasted, the last value of each metric is the one kept.

    Returns
    -------
    dict
        ``{split: {"loss" | "accuracy" | "f1": Reading}}``, splits named ``train``, ``val``
        and ``test`` (``eval_`` and ``valid_`` mean ``val``; no prefix means training).

    Notes
    -----
    Of the loss spellings, the explicit cross-entropy metrics (Keras's
    ``binary_crossentropy`` logged as a metric) beat ``loss``, which can include weight
    penalties; values logged per step (Lightning's ``_step``) count only when no
    per-epoch value is given.

    Examples
    --------
    >>> found = parse_metrics("loss: 0.4011 – acc: 0.8224 – val_loss: 0.4577 – val_acc: 0.78")
    >>> {s: {m: r.value for m, r in v.items()} for s, v in found.items()}
    {'train': {'loss': 0.4011, 'accuracy': 0.8224}, 'val': {'loss': 0.4577, 'accuracy': 0.78}}
    >>> parse_metrics("{'eval_loss': 0.46, 'eval_accuracy': 0.78, 'epoch': 3.0}")["val"]["loss"]
    Reading(value=0.46, tolerance=0.005, key='eval_loss')
    >>> sorted(parse_metrics("Test loss: 1.5996, Test accuracy: 87.38%")["test"])
    ['accuracy', 'loss']
    """
    ranked: dict[tuple[str, str], tuple[tuple[int, int], Reading]] = {}
    for match in _PAIR.finditer(text):
        key = match["key"] if match["split"] is None else f"{match['split']}_{match['key']}"
        name = normalise_name(key)
        metric = "loss" if name.metric in LOSS_NAMES else name.metric
        if metric not in ("loss", "accuracy", "f1"):
            continue
        reading = read_number(match["value"] + (match["percent"] or ""), key=key)
        # rank: explicit cross-entropy over "loss", epoch values over step values
        rank = (LOSS_NAMES.get(name.metric, 0), 0 if name.level == "step" else 1)
        slot = (name.split, metric)
        if slot not in ranked or rank >= ranked[slot][0]:  # later lines win at equal rank
            ranked[slot] = (rank, reading)
    found: dict[str, dict[str, Reading]] = {}
    for (split, metric), (_, reading) in sorted(ranked.items(), key=split_order):
        found.setdefault(split, {})[metric] = reading
    return found


def interpret(
    text: str | None = None,
    *,
    loss: float | str | None = None,
    accuracy: float | str | None = None,
    f1: float | str | None = None,
    n: int | None = None,
    n_train: int | None = None,
    classes: int = 2,
    base_rate: float | None = None,
    confidence: float = 0.95,
) -> Interpretation:
    """Interpret log losses and accuracies from theory alone.

    Parameters
    ----------
    text : str, optional
        Pasted metrics (see :func:`parse_metrics`). Give either this or ``loss``.
    loss, accuracy, f1 : float or str, optional
        One split's numbers (named ``given``); strings keep their rounding and may end in
        ``%``. F1 (binary, positive class) stands in for a missing accuracy.
    n : int, optional
        Samples behind the accuracy of the validation/test split (or of the only split).
    n_train : int, optional
        Samples behind the training accuracy.
    classes : int, default=2
        Number of classes K.
    base_rate : float, optional
        Binary only: the positive-class share. Without it the classes are taken as
        balanced where that matters (the no-skill loss, the F1 conversion), and said so.
    confidence : float, default=0.95
        Level of the accuracy intervals.

    Returns
    -------
    Interpretation

    Examples
    --------
    >>> result = interpret("loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826")
    >>> [round(v, 4) for v in result.splits["val"].calibrated_accuracy_range]
    [0.6698, 0.8289]
    >>> result.splits["val"].calibrated_feasible, [f.code for f in result.findings]
    (True, ['generalization_gap', 'consistent'])
    >>> from lossgap.render.interpret import headline
    >>> headline(result)[:46]
    'Loss and accuracy tell the same story: val log'
    """
    classes = bounds.check_classes(classes)
    base_rate = bounds.check_base_rate(base_rate, classes)
    notes: list[str] = []
    readings = _readings(text, loss=loss, accuracy=accuracy, f1=f1, notes=notes)
    splits = {}
    for name, found in readings.items():
        split_n = n_train if name == "train" and len(readings) > 1 else n
        splits[name] = _interpret_split(
            name, found, split_n, classes=classes, base_rate=base_rate, confidence=confidence
        )
    if n_train is not None and "train" not in splits:
        notes.append("--n-train was given but there is no training split; it is not used.")
    if base_rate is None:
        notes.append(
            f"No base rate given: the no-skill loss is taken as ln {classes} = "
            f"{math.log(classes):.4f} (equally frequent classes), the largest it can be, so "
            "each normalized entropy is a lower bound."
        )
    gap = _gap(splits, confidence)
    findings = find(splits, gap)
    result = Interpretation(
        classes=classes,
        base_rate=base_rate,
        decision_rule=(
            "p >= 0.5 predicts the positive class"
            if classes == 2
            else "argmax, ties to the lowest class index"
        ),
        confidence=confidence,
        splits=splits,
        gap=gap,
        findings=findings,
        notes=notes,
    )
    return replace(result, explanation=explain_interpretation(result))


def _readings(
    text: str | None,
    *,
    loss: float | str | None,
    accuracy: float | str | None,
    f1: float | str | None,
    notes: list[str],
) -> dict[str, dict[str, Reading]]:
    given = {
        name: value for name, value in (("loss", loss), ("accuracy", accuracy), ("f1", f1))
        if value is not None
    }
    if text is not None and given:
        msg = "give either pasted text or --loss/--accuracy/--f1, not both"
        raise InputError(msg)
    if text is None:
        if "loss" not in given:
            msg = "no log loss given: pass --loss L (with --accuracy A or --f1 F), or paste a line"
            raise InputError(msg)
        return {"given": {name: read_number(v, key=f"--{name}") for name, v in given.items()}}
    found = parse_metrics(text)
    usable = {split: metrics for split, metrics in found.items() if "loss" in metrics}
    for split, metrics in found.items():
        if split not in usable:
            named = ", ".join(f"{r.key} {r.value:g}" for r in metrics.values())
            notes.append(f"{split}: {named} but no loss in the text; the split is left out.")
    if not usable:
        snippet = text.strip().replace("\n", " ")[:60]
        msg = (
            f"found no loss in {snippet!r}; paste it as 'loss: 0.4011 - acc: 0.8224' or "
            "{'eval_loss': 0.46, 'eval_accuracy': 0.78}, or pass --loss and --accuracy"
        )
        raise InputError(msg)
    return usable


def _check_reading(reading: Reading, what: str) -> None:
    if what == "loss" and not (reading.value >= 0 and math.isfinite(reading.value)):
        msg = f"{reading.key}: the log loss must be a finite number >= 0, got {reading.value:g}"
        raise InputError(msg)
    if what != "loss" and not 0.0 <= reading.value <= 1.0:
        hint = ""
        if reading.value <= 100:
            hint = f" (write {reading.value / 100:g} or {reading.value:g}%)"
        msg = f"{reading.key}: {what} must be between 0 and 1, got {reading.value:g}{hint}"
        raise InputError(msg)


def _interpret_split(
    name: str,
    found: dict[str, Reading],
    n: int | None,
    *,
    classes: int,
    base_rate: float | None,
    confidence: float,
) -> SplitInterpretation:
    for what, reading in found.items():
        _check_reading(reading, what)
    loss = found["loss"]
    nominal, box, source = _accuracies(found, classes=classes, base_rate=base_rate)
    baseline = bounds.baseline_log_loss(classes=classes, base_rate=base_rate)
    floor = 1.0 / classes if base_rate is None else max(base_rate, 1.0 - base_rate)
    calibrated_range = _accuracy_range(loss, baseline, classes=classes, base_rate=base_rate)
    noise = None
    loss_range = feasible = within_noise = possible = None
    error_range = error_prob = None
    if nominal is not None and box is not None:
        # ranges at the printed numbers; verdicts for every pair their digits allow
        loss_range = _loss_range(nominal, floor, classes=classes, base_rate=base_rate)
        feasible = bounds.calibrated_feasible(
            loss.interval, box, classes=classes, base_rate=base_rate
        )
        possible = bounds.possible(loss.interval[1], box[1])
        error_range = _error_range(loss.value, nominal, classes)
        if error_range is not None:
            error_prob = [math.exp(-error_range[1]), math.exp(-error_range[0])]
        if n is not None:
            noise = _noise(nominal, n, confidence)
            widened = (min(box[0], noise.ci_low), max(box[1], noise.ci_high))
            within_noise = bounds.calibrated_feasible(
                loss.interval, widened, classes=classes, base_rate=base_rate
            )
    return SplitInterpretation(
        split=name,
        log_loss=loss.value,
        log_loss_interval=list(loss.interval),
        accuracy=found["accuracy"].value if "accuracy" in found else None,
        accuracy_interval=list(nominal) if nominal else None,
        accuracy_source=source,
        f1=found["f1"].value if "f1" in found else None,
        keys={what: reading.key for what, reading in found.items()},
        n=n,
        classes=classes,
        base_rate=base_rate,
        baseline_log_loss=baseline,
        normalized_entropy=loss.value / baseline,
        normalized_entropy_is_lower_bound=base_rate is None,
        majority_accuracy=None if base_rate is None else floor,
        calibrated_accuracy_range=list(calibrated_range) if calibrated_range else None,
        calibrated_loss_range=list(loss_range) if loss_range else None,
        calibrated_feasible=feasible,
        calibrated_feasible_within_noise=within_noise,
        possible=possible,
        correct_loss_max=math.log(classes),
        error_loss_range=list(error_range) if error_range else None,
        error_true_class_prob_range=error_prob,
        fano_accuracy_max=calibrated_range[1] if calibrated_range else None,
        accuracy_noise=noise,
    )


Interval = tuple[float, float]


def _accuracies(
    found: dict[str, Reading], *, classes: int, base_rate: float | None
) -> tuple[Interval | None, Interval | None, str | None]:
    """(accuracies at the printed numbers, accuracies their rounding allows, source)."""
    if "accuracy" in found:
        reading = found["accuracy"]
        low, high = reading.interval
        return (reading.value, reading.value), (low, min(1.0, high)), "accuracy"
    if "f1" not in found:
        return None, None, None
    f1 = found["f1"]
    if classes != 2:
        msg = (
            f"{f1.key}: F1 stands in for accuracy only in binary tasks; with "
            f"{classes} classes give the accuracy"
        )
        raise InputError(msg)
    rate = 0.5 if base_rate is None else base_rate
    nominal = bounds.accuracy_range_from_f1(f1.value, base_rate=rate)
    f1_low, f1_high = f1.interval
    low = bounds.accuracy_range_from_f1(max(f1_low, 1e-12), base_rate=rate)[0]
    high = bounds.accuracy_range_from_f1(min(f1_high, 1.0), base_rate=rate)[1]
    return nominal, (low, high), "f1"


def _accuracy_range(
    loss: Reading, baseline: float, *, classes: int, base_rate: float | None
) -> tuple[float, float] | None:
    """Calibrated accuracies at the printed loss, or at the no-skill loss when the loss is
    above it by less than its rounding (1.3863 printed for ln 4 = 1.386294...)."""
    if loss.interval[0] > baseline:
        return None
    return bounds.calibrated_accuracy_range(
        min(loss.value, baseline), classes=classes, base_rate=base_rate
    )


def _loss_range(
    acc_interval: Interval, floor: float, *, classes: int, base_rate: float | None
) -> tuple[float, float] | None:
    """Calibrated losses over the accuracy interval (both ends decrease in A)."""
    low_end = max(acc_interval[0], floor)
    if low_end > acc_interval[1]:
        return None
    at_high = bounds.calibrated_loss_range(acc_interval[1], classes=classes, base_rate=base_rate)
    at_low = bounds.calibrated_loss_range(low_end, classes=classes, base_rate=base_rate)
    assert at_high is not None and at_low is not None  # both accuracies are above the floor
    return at_high[0], at_low[1]


def _error_range(
    loss: float, acc_interval: Interval, classes: int
) -> tuple[float, float] | None:
    """Union of the error-loss ranges over the accuracy interval: each end is monotone in A."""
    ranges = [
        r for acc in acc_interval if (r := bounds.error_loss_range(loss, acc, classes=classes))
    ]
    if not ranges:
        return None
    high = max(r[1] for r in ranges)
    if acc_interval[1] >= 1.0 > acc_interval[0]:
        high = math.inf  # accuracies near 1 leave few errors to carry the loss
    return min(r[0] for r in ranges), high


def _noise(acc_interval: Interval, n: int, confidence: float) -> AccuracyNoise:
    """The accuracy's noise over the accuracies the digits allow: the lower end's interval
    bound, the upper end's, the larger standard error."""
    low = bounds.accuracy_interval(acc_interval[0], n, confidence=confidence)
    high = bounds.accuracy_interval(acc_interval[1], n, confidence=confidence)
    return AccuracyNoise(
        n=int(high["n"]),
        standard_error=max(float(low["standard_error"]), float(high["standard_error"])),
        ci_low=float(low["ci_low"]),
        ci_high=float(high["ci_high"]),
        confidence=float(high["confidence"]),
        method=str(high["method"]),
        one_sample=float(high["one_sample"]),
    )


def _gap(splits: dict[str, SplitInterpretation], confidence: float) -> GeneralizationGap | None:
    """Training against the held-out split: differences, noise, meaning."""
    other = next((s for s in ("val", "test") if s in splits), None)
    if "train" not in splits or other is None:
        return None
    train, held = splits["train"], splits[other]
    loss_diff = held.log_loss - train.log_loss
    relative = loss_diff / train.log_loss if train.log_loss > 0 else None
    acc_diff = z = se = None
    basis = None
    if train.accuracy is not None and held.accuracy is not None:
        acc_diff = train.accuracy - held.accuracy
        variances = [
            s.accuracy * (1 - s.accuracy) / s.n
            for s in (train, held)
            if s.n is not None and s.accuracy is not None
        ]
        if held.n is not None:
            basis = "both splits" if train.n is not None else f"{other} only (a lower bound)"
            se = math.sqrt(sum(variances))
            z = acc_diff / se if se > 0 else None
    within = None if z is None else abs(z) < z_value(confidence)
    can, cannot = _gap_meaning(loss_diff, acc_diff, other, within)
    return GeneralizationGap(
        between=["train", other],
        loss_difference=loss_diff,
        relative_loss_difference=relative,
        accuracy_difference=acc_diff,
        accuracy_difference_standard_error=se,
        accuracy_difference_z=z,
        noise_basis=basis,
        within_noise=within,
        can_mean=can,
        cannot_mean=cannot,
    )


def _gap_meaning(
    loss_diff: float, acc_diff: float | None, other: str, within: bool | None
) -> tuple[list[str], list[str]]:
    can = []
    if within:
        can.append(
            f"Nothing beyond chance in the accuracy: the {other} accuracy differs from the "
            "training accuracy by less than its sampling noise."
        )
    if loss_diff > 0:
        can.append(
            f"The model fits its training samples better than the {other} samples "
            "(overfitting), or the two sets differ (another distribution, leakage into "
            "training, duplicates)."
        )
        if acc_diff is not None and acc_diff <= 0:
            can.append(
                f"With {other} accuracy as good or better, the extra {other} loss sits in "
                "fewer but more confident errors: the probabilities have drifted, not the "
                "decisions; recalibration (temperature scaling) would recover much of it."
            )
    elif loss_diff < 0:
        can.append(
            "Training numbers are measured with dropout, augmentation and weight penalties "
            "on, and (in Keras) averaged over an epoch while the weights still change; the "
            f"{other} numbers come after the epoch without them. A lower {other} loss is "
            f"common and harmless, or the {other} set is easier."
        )
    cannot = [
        "Which samples cause it: two averages carry no per-sample information; run "
        "`lossgap explain` on the predictions.",
        "Whether a loss gap comes from a few confident errors or from many hesitant "
        "predictions: the error-loss ranges bound it, nothing more.",
        "That accuracy will follow the loss: the loss weighs how confident each prediction "
        "is, accuracy only which side of the threshold it falls on.",
    ]
    return can, cannot


# --- plain words -------------------------------------------------------------------------


def explain_interpretation(result: Interpretation) -> list[str]:
    """The interpretation in plain sentences, one paragraph per split and one for the gap."""
    out = [_explain_split(s) for s in result.splits.values()]
    if result.gap is not None:
        out.append(_explain_gap(result.gap))
    out.append(
        "Log loss is not a percentage: it is the average surprise at the true label, in "
        "nats. It punishes confident errors without limit, while accuracy counts only which "
        "side of the threshold each prediction falls on; that is why the two can disagree."
    )
    return out


def _explain_split(s: SplitInterpretation) -> str:
    base = (
        f"h({s.base_rate:g}), the loss of always predicting the base rate"
        if s.base_rate is not None
        else f"ln {s.classes}, the loss of always answering 1/{s.classes} for each class"
    )
    words = [
        f"{s.split}: log loss {s.log_loss:.4f} is {s.normalized_entropy:.2f} times "
        f"{s.baseline_log_loss:.4f} ({base})."
    ]
    if s.calibrated_accuracy_range is None:
        words.append(
            f"No calibrated model (one whose probabilities match the frequencies) has a log "
            f"loss above {s.baseline_log_loss:.4f}, so these probabilities are miscalibrated "
            "whatever the accuracy."
        )
    else:
        low, high = s.calibrated_accuracy_range
        shape = "some predictions coin flips, the rest certain" if s.classes == 2 else (
            "forecasts uniform over a few classes, the rest certain"
        )
        words.append(
            f"A calibrated model with this loss has an accuracy between {low:.4f} ({shape}) "
            f"and {high:.4f} (every prediction equally confident; Fano's bound)."
        )
    if s.normalized_entropy >= NO_SKILL and s.calibrated_accuracy_range is not None:
        words.append(
            "The loss is at the no-skill level: the probabilities carry almost no information, "
            "and an accuracy above chance then comes from the class frequencies or from how "
            "ties are broken."
        )
    if s.accuracy_interval is not None:
        if s.calibrated_feasible:
            verdict = (
                "inside: the pair is what an honest, calibrated model produces, so loss and "
                "accuracy do not disagree"
            )
        elif s.calibrated_feasible_within_noise:
            verdict = "outside, but within the sampling noise of the accuracy"
        else:
            verdict = "outside: no calibrated model gives this pair"
        words.append(f"Your {acc_text(s)} is {verdict}.")
    if s.error_loss_range is not None and s.error_true_class_prob_range is not None:
        low, high = s.error_loss_range
        p_low, p_high = s.error_true_class_prob_range
        high_text = "unbounded" if math.isinf(high) else f"{high:.2f}"
        words.append(
            f"The errors cost between {low:.2f} and {high_text} nats each on average (a correct "
            f"prediction costs at most ln {s.classes} = {s.correct_loss_max:.4f}, an error at "
            f"least ln 2): their true class got between {prob_text(p_low)} and "
            f"{prob_text(p_high)} "
            "(geometric mean)."
        )
    if s.accuracy_noise is not None:
        noise = s.accuracy_noise
        words.append(
            f"On {noise.n} samples the accuracy's {noise.confidence:.0%} interval is "
            f"{noise.ci_low:.4f} to {noise.ci_high:.4f}; one sample moves it by "
            f"{noise.one_sample:.4f}."
        )
    return " ".join(words)


def _explain_gap(gap: GeneralizationGap) -> str:
    other = gap.between[1]
    words = [f"train against {other}: the loss differs by {gap.loss_difference:+.4f}"]
    if gap.accuracy_difference is not None:
        words.append(f" and the accuracy by {-gap.accuracy_difference:+.4f}")
    words.append(". It can mean: " + " ".join(gap.can_mean))
    words.append(" It cannot tell: " + " ".join(gap.cannot_mean))
    return "".join(words)
