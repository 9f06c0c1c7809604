"""``interpret``: what a pair (log loss, accuracy) can and cannot mean, from theory alone.

The numbers come as arguments or as text pasted the way people paste it: Keras progress
lines (``loss: 0.4011 - acc: 0.8224 - val_loss: 0.4577 - val_acc: 0.7826``, with hyphens,
en or em dashes), Lightning's ``val_loss=0.46``, or Hugging Face dicts
(``{'eval_loss': 0.46, 'eval_accuracy': 0.78}``). Each split (train, val, test) gets one
:class:`SplitInterpretation`; :func:`interpret` returns them in an :class:`Interpretation`,
plain data with ``to_dict()`` (the JSON contract of ``docs/json.md``) and findings in the
vocabulary of ``docs/findings.md``. The theory lives in :mod:`lossgap.bounds`.

A printed number is taken as rounded: ``0.4577`` stands for anything in
``[0.45765, 0.45775]``, and every number is known to :data:`FLOAT_PRECISION` (relative) at
best, since frameworks compute in float32. The ranges are computed at the printed values; a
verdict such as "no calibrated model has this pair" holds for every pair the digits allow.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lossgap import bounds
from lossgap.errors import InputError
from lossgap.evaluation import Finding, json_safe
from lossgap.history.names import normalise_name
from lossgap.render.answer import Answer, KeyNumber, Step, interval_text, one_line
from lossgap.render.text import findings_renderables, format_number, style
from lossgap.uncertainty import z_value

#: Metric names (as :func:`lossgap.history.names.normalise_name` spells them) read as the
#: log loss; the explicit cross-entropy metrics beat ``loss``, which may include penalties.
LOSS_NAMES = {
    "binary_loss": 2,
    "categorical_loss": 2,
    "sparse_categorical_loss": 2,
    "loss": 1,
}
#: Split order: the first present of these is the one the findings lead with.
MAIN_SPLITS = ("val", "test", "given", "train")

#: Relative precision every number is granted at best: training frameworks compute in
#: float32, so ln 4 may be logged as 1.3862943649291992 (ln 4 = 1.3862943611198906...).
FLOAT_PRECISION = 1e-6
#: Normalized entropy from which the probabilities are said to carry no information.
NO_SKILL = 0.99

#: Thresholds of the findings (documented in docs/findings.md).
WIDE_HALF_WIDTH = 0.02
NEAR_MAJORITY = 0.02
GAP_RELATIVE_LOSS = 0.10
GAP_ACCURACY = 0.02

_NUMBER = r"[-+]?(?:\d+(?:\.\d*|,\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_PAIR = re.compile(
    # a split written as a word before the key: "Test loss: 1.5996", "Validation acc = 0.78"
    r"(?:(?<![\w.])(?P<split>train(?:ing)?|val(?:idation)?|valid|test|eval)[ \t]+)?"
    r"(?<![\w.])['\"]?(?P<key>[A-Za-z][\w./-]*)['\"]?\s*[:=]\s*"
    r"(?:(?:np\.)?float\d*\(|tensor\()?"  # numpy and torch reprs around the number
    rf"(?P<value>{_NUMBER})(?P<percent>\s*%)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Reading:
    """One number as given, with the rounding its printed digits imply.

    Attributes
    ----------
    value : float
    tolerance : float
        Half a unit of the last printed decimal, and at least :data:`FLOAT_PRECISION`
        times the value.
    key : str
        Where it came from: the key in the text, or the option.
    """

    value: float
    tolerance: float = 0.0
    key: str = ""

    @property
    def interval(self) -> tuple[float, float]:
        return max(0.0, self.value - self.tolerance), self.value + self.tolerance


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
    if number is None or not number.is_finite():
        msg = f"{key}: cannot read {text!r} as a number; write it like 0.4577 or 87.38%"
        raise InputError(msg)
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite Decimals have an int exponent
    # integers ("1", "2") are taken as exact; printed decimals as rounded
    tolerance = 0.5 * 10.0**exponent if ("." in digits or "e" in digits.lower()) else 0.0
    scale = 100.0 if percent else 1.0
    value = float(number) / scale
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
    for (split, metric), (_, reading) in sorted(ranked.items(), key=_split_order):
        found.setdefault(split, {})[metric] = reading
    return found


def _split_order(item: tuple[tuple[str, str], Any]) -> tuple[int, int]:
    (split, metric), _ = item
    order = ("train", "val", "test")
    return (order.index(split) if split in order else 3, ("loss", "accuracy", "f1").index(metric))


@dataclass
class SplitInterpretation:
    """What one split's loss and accuracy can mean.

    Attributes
    ----------
    split : str
        ``train``, ``val``, ``test``, or ``given`` for numbers passed as options.
    log_loss : float
    log_loss_interval : list of float
        The values the printed digits allow.
    accuracy : float or None
        As given; None when only F1 was.
    accuracy_interval : list of float or None
        The accuracy as ``[A, A]``, or the range an F1 implies. The ranges below are
        computed at the printed numbers; the verdicts (``calibrated_feasible``,
        ``possible``) hold for every pair the printed digits allow.
    accuracy_source : str or None
        ``"accuracy"`` or ``"f1"``.
    f1 : float or None
    keys : dict
        Which key or option each number came from.
    n : int or None
        Samples behind the accuracy.
    classes : int
    base_rate : float or None
        Positive-class share (binary), when given.
    baseline_log_loss : float
        The no-skill loss: ``h(base_rate)``, or ``ln K`` when no base rate is given.
    normalized_entropy : float
        ``log_loss / baseline_log_loss``.
    normalized_entropy_is_lower_bound : bool
        True when no base rate was given: unbalanced classes have a lower no-skill loss.
    majority_accuracy : float or None
        ``max(p, 1 - p)`` when the base rate is given.
    calibrated_accuracy_range : list of float or None
        Lowest and highest accuracy of a calibrated model with this loss; None when no
        calibrated model has it. A loss printed just above the no-skill loss, within its
        rounding, is taken at the no-skill loss.
    calibrated_loss_range : list of float or None
        Lowest and highest loss of a calibrated model with this accuracy.
    calibrated_feasible : bool or None
        Some calibrated model has a pair the inputs allow (None without an accuracy).
    calibrated_feasible_within_noise : bool or None
        The same with the accuracy widened to its confidence interval (needs ``n``).
    possible : bool or None
        Any predictions at all have such a pair (loss at least ``(1 - A) ln 2``).
    correct_loss_max : float
        ``ln K``: the most a correct prediction can cost.
    error_loss_range : list of float or None
        Mean loss on the errors the pair implies.
    error_true_class_prob_range : list of float or None
        ``exp(-error_loss_range)`` reversed: the geometric mean of the probability the
        errors give their true class.
    fano_accuracy_max : float or None
        The highest accuracy of a calibrated model with this loss (Fano's inequality).
    accuracy_noise : dict or None
        Standard error and Wilson interval of the accuracy (needs ``n``).
    """

    split: str
    log_loss: float
    log_loss_interval: list[float]
    accuracy: float | None
    accuracy_interval: list[float] | None
    accuracy_source: str | None
    f1: float | None
    keys: dict[str, str]
    n: int | None
    classes: int
    base_rate: float | None
    baseline_log_loss: float
    normalized_entropy: float
    normalized_entropy_is_lower_bound: bool
    majority_accuracy: float | None
    calibrated_accuracy_range: list[float] | None
    calibrated_loss_range: list[float] | None
    calibrated_feasible: bool | None
    calibrated_feasible_within_noise: bool | None
    possible: bool | None
    correct_loss_max: float
    error_loss_range: list[float] | None
    error_true_class_prob_range: list[float] | None
    fano_accuracy_max: float | None
    accuracy_noise: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))


@dataclass
class Interpretation:
    """The interpretation of one or more splits, their gap, findings and explanation.

    Attributes
    ----------
    classes : int
    base_rate : float or None
    decision_rule : str
    confidence : float
        Level of the accuracy intervals.
    splits : dict of str to SplitInterpretation
    gap : dict or None
        Training against validation (or test): the differences, their noise, and what
        they can and cannot mean.
    findings : list of Finding
        Ranked by severity.
    explanation : list of str
        The interpretation in plain sentences.
    notes : list of str
        Assumptions made and inputs set aside.
    """

    classes: int
    base_rate: float | None
    decision_rule: str
    confidence: float
    splits: dict[str, SplitInterpretation]
    gap: dict[str, Any] | None = None
    findings: list[Finding] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def finding(self, code: str) -> Finding | None:
        """The first finding with ``code``, or None."""
        return next((f for f in self.findings if f.code == code), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (``docs/json.md``).

        Examples
        --------
        >>> d = interpret(loss=0.4577, accuracy=0.7826).to_dict()
        >>> sorted(d["splits"]["given"]["calibrated_accuracy_range"])[0] < 0.7826
        True
        """
        return json_safe(
            {
                "classes": self.classes,
                "base_rate": self.base_rate,
                "decision_rule": self.decision_rule,
                "confidence": self.confidence,
                "splits": {name: asdict(s) for name, s in self.splits.items()},
                "gap": self.gap,
                "findings": [asdict(f) for f in self.findings],
                "explanation": self.explanation,
                "notes": self.notes,
            }
        )

    def __rich_console__(self, console: Any, options: Any) -> Iterator[RenderableType]:
        """The short answer (:func:`interpretation_renderables` has it all)."""
        yield interpretation_answer(self)

    def __repr__(self) -> str:
        return one_line("Interpretation", interpretation_answer(self))

    def _repr_html_(self) -> str:
        """The short answer, the full interpretation folded under it."""
        from lossgap.render.answer import answer_html
        from lossgap.render.text import render_plain

        full = render_plain(Group(*interpretation_renderables(self)), width=100)
        details = f"<pre style='white-space:pre-wrap'>{html.escape(full)}</pre>"
        return answer_html(interpretation_answer(self), details=details)


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
    findings = _findings(splits, gap)
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
    result.explanation = explain_interpretation(result)
    return result


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
            widened = (min(box[0], noise["ci_low"]), max(box[1], noise["ci_high"]))
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


def _noise(acc_interval: Interval, n: int, confidence: float) -> dict[str, Any]:
    low = bounds.accuracy_interval(acc_interval[0], n, confidence=confidence)
    high = bounds.accuracy_interval(acc_interval[1], n, confidence=confidence)
    return {
        **high,
        "standard_error": max(low["standard_error"], high["standard_error"]),
        "ci_low": low["ci_low"],
        "ci_high": high["ci_high"],
    }


def _gap(splits: dict[str, SplitInterpretation], confidence: float) -> dict[str, Any] | None:
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
    return {
        "between": ["train", other],
        "loss_difference": loss_diff,
        "relative_loss_difference": relative,
        "accuracy_difference": acc_diff,
        "accuracy_difference_standard_error": se,
        "accuracy_difference_z": z,
        "noise_basis": basis,
        "within_noise": within,
        "can_mean": can,
        "cannot_mean": cannot,
    }


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


# --- findings ----------------------------------------------------------------------------


def _pair_evidence(s: SplitInterpretation) -> dict[str, Any]:
    return {
        "split": s.split,
        "log_loss": s.log_loss,
        "accuracy": s.accuracy,
        "accuracy_interval": s.accuracy_interval,
        "calibrated_accuracy_range": s.calibrated_accuracy_range,
        "calibrated_loss_range": s.calibrated_loss_range,
        "error_loss_range": s.error_loss_range,
    }


def _acc_text(s: SplitInterpretation) -> str:
    if s.accuracy is not None:
        return f"accuracy {s.accuracy:.4f}"
    low, high = s.accuracy_interval or (math.nan, math.nan)
    return f"accuracy {low:.4f}-{high:.4f} (from F1 {s.f1:.4f})"


def _prob_text(p: float) -> str:
    """A probability for people: a percentage, or two significant digits when tiny.

    Examples
    --------
    >>> _prob_text(0.1217), _prob_text(0.00094), _prob_text(6.3e-07)
    ('12.2%', '0.094%', '6.3e-05%')
    """
    return f"{p:.1%}" if p >= 0.01 else f"{p * 100:.2g}%"


def _rule_impossible(s: SplitInterpretation) -> Finding | None:
    if s.possible is not False:
        return None
    return Finding(
        "impossible_pair",
        "high",
        f"{s.split}: no predictions have log loss {s.log_loss:.4f} with {_acc_text(s)}: each "
        f"error alone costs at least ln 2, so the loss is at least "
        f"{(1 - (s.accuracy_interval or [0, 0])[1]) * bounds.LN2:.4f}.",
        {**_pair_evidence(s), "loss_floor": (1 - (s.accuracy_interval or [0, 0])[1]) * bounds.LN2},
        "The two numbers do not come from the same predictions and decisions: check that the "
        "loss is the mean cross-entropy (not a focal or weighted loss, not a running average "
        "over an epoch) and that accuracy uses the 0.5 threshold or the argmax.",
    )


def _rule_loss_above_baseline(s: SplitInterpretation) -> Finding | None:
    if s.log_loss_interval[0] <= s.baseline_log_loss:
        return None
    base = (
        f"h({s.base_rate:g})" if s.base_rate is not None else f"ln {s.classes}, the most it can be"
    )
    return Finding(
        "loss_above_baseline",
        "high",
        f"{s.split}: log loss {s.log_loss:.4f} is {s.normalized_entropy:.2f} times the no-skill "
        f"loss {s.baseline_log_loss:.4f} ({base}): always predicting the base rates would "
        "score better, whatever the accuracy.",
        {
            "split": s.split,
            "log_loss": s.log_loss,
            "baseline_log_loss": s.baseline_log_loss,
            "normalized_entropy": s.normalized_entropy,
            "accuracy": s.accuracy,
            "majority_accuracy": s.majority_accuracy,
        },
        "Recalibrate (temperature scaling keeps every decision) before using the "
        "probabilities, and look at the confident errors with `lossgap explain`.",
    )


def _too_high(s: SplitInterpretation) -> bool:
    return (
        s.possible is True
        and s.calibrated_feasible is False
        and s.calibrated_loss_range is not None
        and s.log_loss_interval[0] > s.calibrated_loss_range[1]
    )


def _rule_overconfident(s: SplitInterpretation) -> Finding | None:
    if not (_too_high(s) and s.log_loss_interval[0] > s.correct_loss_max):
        return None
    assert s.error_loss_range is not None and s.error_true_class_prob_range is not None
    return Finding(
        "overconfident",
        "high",
        f"{s.split}: log loss {s.log_loss:.4f} with {_acc_text(s)} is out of reach of any "
        f"calibrated model, and above ln {s.classes}: even if every correct prediction cost "
        f"ln {s.classes}, the errors would average at least {s.error_loss_range[0]:.2f} nats, "
        f"giving their true class {_prob_text(s.error_true_class_prob_range[1])} or less "
        "(geometric mean): the model is confidently wrong on its errors.",
        {**_pair_evidence(s), "error_true_class_prob_max": s.error_true_class_prob_range[1]},
        "Recalibrate (temperature scaling) and inspect the confident errors: label errors, "
        "a shift between training and test data, or overfitting of the last layer.",
    )


def _rule_miscalibrated(s: SplitInterpretation) -> Finding | None:
    if not _too_high(s) or s.log_loss_interval[0] > s.correct_loss_max:
        return None
    assert s.calibrated_loss_range is not None and s.error_loss_range is not None
    return Finding(
        "miscalibrated",
        "medium",
        f"{s.split}: log loss {s.log_loss:.4f} is above {s.calibrated_loss_range[1]:.4f}, the "
        f"most a calibrated model with {_acc_text(s)} can have: either the errors are "
        f"confident (up to {s.error_loss_range[1]:.2f} nats each if the correct predictions "
        "are near-certain: overconfidence) or the correct predictions hedge "
        "(underconfidence, e.g. from label smoothing or strong regularisation).",
        dict(_pair_evidence(s)),
        "Run `lossgap explain` on the predictions: its reliability curve and worst samples "
        "tell over- from underconfidence; temperature scaling fixes either without changing "
        "a decision.",
    )


def _rule_threshold_fragile(s: SplitInterpretation) -> Finding | None:
    if not (
        s.possible is True
        and s.calibrated_feasible is False
        and s.calibrated_loss_range is not None
        and s.log_loss_interval[1] < s.calibrated_loss_range[0]
    ):
        return None
    assert s.error_loss_range is not None and s.error_true_class_prob_range is not None
    return Finding(
        "threshold_fragile",
        "medium",
        f"{s.split}: log loss {s.log_loss:.4f} is below {s.calibrated_loss_range[0]:.4f}, the "
        f"least a calibrated model with {_acc_text(s)} can have: the errors are cheap, at "
        f"most {s.error_loss_range[1]:.2f} nats on average (true class at "
        f"{_prob_text(s.error_true_class_prob_range[0])} or more): many errors sit just across the "
        "threshold, where a small change of model or threshold flips them.",
        dict(_pair_evidence(s)),
        "Compare models by log loss rather than accuracy, and check how accuracy moves with "
        "the threshold (`lossgap explain`).",
    )


def _rule_accuracy_near_majority(s: SplitInterpretation) -> Finding | None:
    if s.accuracy_interval is None:
        return None
    below_floor = s.calibrated_loss_range is None
    if s.majority_accuracy is not None:
        floor, name = s.majority_accuracy, "the majority share"
    else:
        floor, name = 1.0 / s.classes, "chance (1/K)"
    if not below_floor and s.accuracy_interval[0] > floor + NEAR_MAJORITY:
        return None
    where = "below" if s.accuracy_interval[1] < floor else "within 0.02 of"
    return Finding(
        "accuracy_near_majority",
        "medium",
        f"{s.split}: {_acc_text(s)} is {where} {name} {floor:.4f}: the decisions barely beat "
        "a constant answer"
        + ("; no calibrated model does worse than that." if below_floor else "."),
        {
            "split": s.split,
            "accuracy": s.accuracy,
            "accuracy_interval": s.accuracy_interval,
            "majority_accuracy": floor,
            "difference": s.accuracy_interval[1] - floor,
        },
        "Look at the loss, not the accuracy, to see whether the model learned anything; "
        "with unbalanced classes, choose the threshold for the costs of each error.",
    )


def _rule_wide_intervals(s: SplitInterpretation) -> Finding | None:
    noise = s.accuracy_noise
    if noise is None:
        return None
    half = (noise["ci_high"] - noise["ci_low"]) / 2
    if half < WIDE_HALF_WIDTH:
        return None
    return Finding(
        "wide_intervals",
        "low",
        f"{s.split}: with {noise['n']} samples the accuracy is only known to about "
        f"±{half:.3f} ({noise['confidence']:.0%} interval {noise['ci_low']:.4f} to "
        f"{noise['ci_high']:.4f}); one sample moves it by {noise['one_sample']:.4f}.",
        {
            "split": s.split,
            "n": noise["n"],
            "accuracy": s.accuracy,
            "ci_low": noise["ci_low"],
            "ci_high": noise["ci_high"],
            "half_width": half,
            "confidence": noise["confidence"],
        },
        "Do not read accuracy differences smaller than the interval; evaluate on more "
        "samples or compare models on the same samples (`lossgap compare`).",
    )


def _rule_generalization_gap(gap: dict[str, Any] | None) -> Finding | None:
    if gap is None:
        return None
    relative, acc_diff = gap["relative_loss_difference"], gap["accuracy_difference"]
    large = (relative is not None and abs(relative) >= GAP_RELATIVE_LOSS) or (
        acc_diff is not None and abs(acc_diff) >= GAP_ACCURACY
    )
    if not large:
        return None
    other = gap["between"][1]
    direction = "above" if gap["loss_difference"] > 0 else "below"
    acc_part = (
        f" and accuracy {abs(acc_diff):.4f} {'lower' if acc_diff > 0 else 'higher'}"
        if acc_diff is not None
        else ""
    )
    noise = (
        f" (the accuracy difference is {abs(gap['accuracy_difference_z']):.1f} standard errors)"
        if gap["accuracy_difference_z"] is not None
        else ""
    )
    rel = f" ({abs(relative):.0%})" if relative is not None else ""
    return Finding(
        "generalization_gap",
        "low",
        f"{other} loss is {abs(gap['loss_difference']):.4f}{rel} {direction} the training "
        f"loss{acc_part}{noise}. {gap['can_mean'][-1]}",
        {
            "between": gap["between"],
            "loss_difference": gap["loss_difference"],
            "relative_loss_difference": relative,
            "accuracy_difference": acc_diff,
            "accuracy_difference_z": gap["accuracy_difference_z"],
        },
        "Pick the epoch by the held-out loss if you need probabilities, by held-out accuracy "
        "(or cost) if you need decisions; `lossgap history` shows where the two part ways.",
    )


SPLIT_RULES = (
    _rule_impossible,
    _rule_loss_above_baseline,
    _rule_overconfident,
    _rule_miscalibrated,
    _rule_threshold_fragile,
    _rule_accuracy_near_majority,
    _rule_wide_intervals,
)


def _main_split(splits: dict[str, SplitInterpretation]) -> SplitInterpretation:
    return next(splits[name] for name in MAIN_SPLITS if name in splits)


def _findings(splits: dict[str, SplitInterpretation], gap: dict[str, Any] | None) -> list[Finding]:
    found = [f for s in splits.values() for rule in SPLIT_RULES if (f := rule(s)) is not None]
    if (g := _rule_generalization_gap(gap)) is not None:
        found.append(g)
    main = _main_split(splits)
    if main.accuracy_interval is None:
        return sorted(found, key=lambda f: f.rank)  # a loss alone: no pair to call consistent
    if not any(f.severity in ("high", "medium") for f in found):
        acc = f" and {_acc_text(main)}" if main.accuracy_interval else ""
        found.append(
            Finding(
                "consistent",
                "info",
                f"Loss and accuracy tell the same story: {main.split} log loss "
                f"{main.log_loss:.4f} ({main.normalized_entropy:.2f} of the no-skill loss)"
                f"{acc} is a pair a calibrated model produces.",
                {
                    "split": main.split,
                    "log_loss": main.log_loss,
                    "accuracy": main.accuracy,
                    "normalized_entropy": main.normalized_entropy,
                },
                "Nothing to fix between loss and accuracy; pick the model by the score that "
                "matches your use (log loss for probabilities, accuracy or cost for decisions).",
            )
        )
    return sorted(found, key=lambda f: f.rank)


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
        words.append(f"Your {_acc_text(s)} is {verdict}.")
    if s.error_loss_range is not None and s.error_true_class_prob_range is not None:
        low, high = s.error_loss_range
        p_low, p_high = s.error_true_class_prob_range
        high_text = "unbounded" if math.isinf(high) else f"{high:.2f}"
        words.append(
            f"The errors cost between {low:.2f} and {high_text} nats each on average (a correct "
            f"prediction costs at most ln {s.classes} = {s.correct_loss_max:.4f}, an error at "
            f"least ln 2): their true class got between {_prob_text(p_low)} and "
            f"{_prob_text(p_high)} "
            "(geometric mean)."
        )
    if s.accuracy_noise is not None:
        noise = s.accuracy_noise
        words.append(
            f"On {noise['n']} samples the accuracy's {noise['confidence']:.0%} interval is "
            f"{noise['ci_low']:.4f} to {noise['ci_high']:.4f}; one sample moves it by "
            f"{noise['one_sample']:.4f}."
        )
    return " ".join(words)


def _explain_gap(gap: dict[str, Any]) -> str:
    other = gap["between"][1]
    words = [f"train against {other}: the loss differs by {gap['loss_difference']:+.4f}"]
    if gap["accuracy_difference"] is not None:
        words.append(f" and the accuracy by {-gap['accuracy_difference']:+.4f}")
    words.append(". It can mean: " + " ".join(gap["can_mean"]))
    words.append(" It cannot tell: " + " ".join(gap["cannot_mean"]))
    return "".join(words)


# --- terminal ----------------------------------------------------------------------------


def _range_text(values: list[float] | None, digits: int = 4) -> str:
    if values is None:
        return "none"
    return f"{format_number(values[0], digits)} - {format_number(values[1], digits)}"


def headline(result: Interpretation) -> str:
    """The first high or medium finding; otherwise the verdict that loss and accuracy agree."""
    serious = [f for f in result.findings if f.severity in ("high", "medium")]
    chosen = serious or [f for f in result.findings if f.code == "consistent"]
    return chosen[0].message if chosen else interpretation_answer(result).headline


def interpretation_renderables(result: Interpretation) -> Iterator[RenderableType]:
    """Terminal output: headline, one column per split, findings, explanation."""
    yield Text(headline(result), style=style("headline"))
    yield Text(f"decision: {result.decision_rule}; logs are natural (nats).", style=style("dim"))
    yield Text("")
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("")
    for name in result.splits:
        table.add_column(name, justify="right")
    rows = [
        ("log loss", lambda s: format_number(s.log_loss)),
        ("accuracy", lambda s: _range_text(s.accuracy_interval) if s.accuracy is None
         else format_number(s.accuracy)),
        ("normalized entropy", lambda s: format_number(s.normalized_entropy, 3)
         + (" (at least)" if s.normalized_entropy_is_lower_bound else "")),
        ("calibrated accuracy range", lambda s: _range_text(s.calibrated_accuracy_range)),
        ("calibrated loss range", lambda s: _range_text(s.calibrated_loss_range)),
        ("calibrated model possible", lambda s: {True: "yes", False: "no", None: "-"}[
            s.calibrated_feasible]),
        ("mean loss on errors", lambda s: _range_text(s.error_loss_range, 2)),
        ("accuracy interval", lambda s: "-" if s.accuracy_noise is None else _range_text(
            [s.accuracy_noise["ci_low"], s.accuracy_noise["ci_high"]])),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(s) for s in result.splits.values()))
    yield table
    yield Text("")
    yield Text("Findings", style="bold")
    yield from findings_renderables(result.findings)
    yield Text("")
    for paragraph in result.explanation:
        yield Text(paragraph)
        yield Text("")
    for note in result.notes:
        yield Text(f"Note: {note}", style=style("dim"))


# --- the short answer --------------------------------------------------------------------


def _geometric_mean_prob(loss: float) -> str:
    """What a mean log loss says about the probability of the true class, in words."""
    return f"the true class gets {_prob_text(math.exp(-loss))} on (geometric) average"


def _split_name(split: str) -> str:
    return {"val": "validation", "given": "", "train": "training", "test": "test"}[split]


def _split_numbers(s: SplitInterpretation, confidence: float) -> list[KeyNumber]:
    name = _split_name(s.split)
    prefix = f"{name} " if name else ""
    rows = [
        KeyNumber(
            f"{prefix}log loss",
            f"{s.log_loss:.4f}",
            "",
            f"no skill {s.baseline_log_loss:.4f}"
            + (" (balanced classes)" if s.normalized_entropy_is_lower_bound else ""),
        )
    ]
    if s.accuracy_interval is not None:
        noise = s.accuracy_noise
        value = (
            f"{s.accuracy:.4f}"
            if s.accuracy is not None
            else f"{s.accuracy_interval[0]:.2f}-{s.accuracy_interval[1]:.2f}"
        )
        if s.calibrated_accuracy_range is not None:
            low, high = s.calibrated_accuracy_range
            note = f"calibrated models: {low:.2f}-{high:.2f}"
        else:
            note = "calibrated models: none with this loss"
        if s.accuracy is None:
            note = f"from F1 {s.f1:.4f}; {note}"
        rows.append(
            KeyNumber(
                f"{prefix}accuracy",
                value,
                "" if noise is None else interval_text(noise["ci_low"], noise["ci_high"], 3),
                note,
            )
        )
    elif s.calibrated_accuracy_range is not None:
        low, high = s.calibrated_accuracy_range
        rows.append(
            KeyNumber(
                "accuracy it allows",
                f"{low:.2f}-{high:.2f}",
                "",
                "for a model with calibrated probabilities",
            )
        )
    return rows


def _answer_finding(f: Finding, result: Interpretation) -> str | None:
    """A finding in one or two plain sentences; None when the headline already says it."""
    e = f.evidence
    split = result.splits.get(e.get("split", ""))
    if f.code in ("consistent", "loss_above_baseline"):
        return None  # the headline says it
    if f.code == "overconfident" and split is not None and split.error_true_class_prob_range:
        return (
            f"The errors are confident: even if every correct prediction were a coin flip, "
            f"the errors would give their true class {_prob_text(split.error_true_class_prob_range[1])} "
            "or less on (geometric) average."
        )
    if f.code == "wide_intervals":
        return (
            f"With {e['n']} samples the accuracy is only known to within "
            f"\u00b1{e['half_width']:.3f} ({e['ci_low']:.3f} to {e['ci_high']:.3f})."
        )
    if f.code == "generalization_gap" and result.gap is not None:
        gap = result.gap
        other = _split_name(gap["between"][1])
        acc = gap["accuracy_difference"]
        acc_text = "" if acc is None else (
            f" and its accuracy {abs(acc) * 100:.1f} points {'lower' if acc > 0 else 'higher'}"
        )
        direction = "above" if gap["loss_difference"] > 0 else "below"
        rel = gap["relative_loss_difference"]
        rel_text = "" if rel is None else f" ({abs(rel):.0%})"
        return (
            f"The {other} loss is {abs(gap['loss_difference']):.4f}{rel_text} {direction} the "
            f"training loss{acc_text}: the model fits its training data somewhat better than "
            "new data (mild overfitting), or the two sets differ."
        )
    return f.message


def _answer_steps(result: Interpretation) -> list[Step]:
    codes = {f.code: f for f in result.findings}
    main = _main_split(result.splits)
    steps: list[Step] = []
    if "impossible_pair" in codes:
        steps.append(Step(codes["impossible_pair"].advice))
    if codes.keys() & {"overconfident", "miscalibrated", "loss_above_baseline"}:
        steps.append(
            Step(
                "Run `lossgap explain` on the predictions: it lists the confident errors "
                "(check their labels first) and fits a temperature on held-out folds.",
                "dividing the logits by it lowers the loss and changes no decision.",
            )
        )
    if "threshold_fragile" in codes:
        steps.append(Step(codes["threshold_fragile"].advice))
    if main.accuracy_interval is None:
        steps.append(
            Step(
                "Give the accuracy too (--accuracy A): a loss alone cannot say whether the "
                "model is confidently wrong or just unsure."
            )
        )
    if result.base_rate is None and main.accuracy_interval is None:
        steps.append(
            Step(
                "Give the share of the positive class (--base-rate) if the classes are not "
                "balanced.",
                "the no-skill loss then drops below ln 2, and the loss reads worse.",
            )
        )
    if "generalization_gap" in codes:
        steps.append(
            Step(
                "Choose the epoch by validation loss if you need probabilities, by "
                "validation accuracy if you need decisions: `lossgap history LOG` finds both."
            )
        )
    if "wide_intervals" in codes:
        steps.append(
            Step(
                "Test on more samples before reading small differences.",
                "4 times the samples halve the interval.",
            )
        )
    elif main.accuracy_interval is not None and main.n is None:
        steps.append(
            Step(
                f"Give the number of {_split_name(main.split) or 'test'} samples (--n) to see "
                "how precise the accuracy is."
            )
        )
    if not steps or "consistent" in codes:
        steps.insert(
            0,
            Step(
                "Nothing to fix between loss and accuracy."
                if "generalization_gap" in codes
                else "Nothing to fix between loss and accuracy: choose models by log loss "
                "when you use the probabilities, by accuracy (or cost) for decisions."
            ),
        )
    return steps[:3]


def interpretation_answer(result: Interpretation) -> Answer:
    """The short answer of ``interpret``: what this loss (and accuracy) mean, what to do."""
    main = _main_split(result.splits)
    name = _split_name(main.split)
    where = f"{name} " if name else ""
    loss_words = (
        f"A {where}log loss of {main.log_loss:.4f} is {main.normalized_entropy:.2f} times the "
        f"no-skill loss {main.baseline_log_loss:.4f} (always answering "
        f"{'the base rate' if main.base_rate is not None else f'1/{main.classes}'})"
    )
    serious = [f for f in result.findings if f.severity in ("high", "medium")]
    if main.accuracy_interval is None:
        allowed = (
            f"; a model with calibrated (honest) probabilities and this loss is right "
            f"{main.calibrated_accuracy_range[0]:.0%} to {main.calibrated_accuracy_range[1]:.0%}"
            " of the time."
            if main.calibrated_accuracy_range is not None
            else ": worse than no model, whatever the accuracy."
        )
        headline = loss_words + allowed
    elif not serious:
        low, high = main.calibrated_accuracy_range or (math.nan, math.nan)
        headline = (
            f"Loss and accuracy agree: {where}log loss {main.log_loss:.4f} with accuracy "
            f"{main.accuracy_interval[0]:.4f} is what a model with calibrated (honest) "
            f"probabilities produces; with this loss it would be right {low:.0%} to "
            f"{high:.0%} of the time."
        )
    else:
        top = serious[0]
        if top.code in ("overconfident", "loss_above_baseline", "miscalibrated"):
            headline = (
                f"{loss_words}, yet accuracy is {_acc_text(main).split(' ', 1)[1]}: most "
                "decisions are right, but the errors are made with near-certainty."
            )
        else:
            headline = top.message
    numbers: list[KeyNumber] = []
    order = [main] + [s for s in result.splits.values() if s is not main]
    for split in order:
        numbers += _split_numbers(split, result.confidence)
    findings = [
        text for f in result.findings if (text := _answer_finding(f, result)) is not None
    ]
    findings.append(
        f"Log loss is not a percentage: it is the mean of -ln p(true class), so "
        f"{main.log_loss:.4f} means {_geometric_mean_prob(main.log_loss)}; accuracy only "
        "counts which side of the threshold each prediction falls on."
    )
    levels = {n.interval for n in numbers if n.interval}
    return Answer(
        headline=headline,
        numbers=tuple(numbers[:5]),
        confidence=result.confidence if levels else None,
        findings=tuple(findings[:3]),
        steps=tuple(_answer_steps(result)),
        details="Everything (ranges, the theory, notes): --full. Terms: docs/glossary.md",
    )
