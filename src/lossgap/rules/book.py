"""The rule book: every finding code lossgap can emit, declared once, with its thresholds.

Each code is a :class:`Code`: its name, a title, the commands that emit it, the severities
it may take, what it tests, the thresholds it reads (constants of this module, by name),
how its severity is set, and a paragraph of documentation. Rules build findings only
through :meth:`Code.finding`, so a misspelt code is an ``AttributeError`` (and a mypy
error) rather than a new word in the output, and a severity the book does not allow for
the code is refused.

A code that several commands emit (``infinite_loss``, ``loss_above_baseline``,
``overconfident``, ``threshold_fragile``, ``accuracy_near_majority``, ``wide_intervals``,
``consistent``) is built by one function here: each command measures what it can and
passes its numbers in, and the threshold and severity are applied here, once.

``docs/findings.md`` carries a table generated from :data:`CODES`
(``python tools/findings_table.py --write``); a test keeps it current.

Examples
--------
>>> from lossgap.rules.book import CODES, WIDE_INTERVALS
>>> WIDE_INTERVALS.severities, WIDE_INTERVALS.limits()
(('low',), {'WIDE_HALF_WIDTH': 0.02})
>>> CODES["wide_intervals"] is WIDE_INTERVALS
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lossgap.results.evaluation import SEVERITIES, Finding

# --- thresholds ------------------------------------------------------------------------
# Every number a rule compares a measurement with lives here (docs/findings.md explains
# each). Parameters of what is measured (the confident-error level 0.9, the threshold band
# 0.05) are the engines' and live in ``lossgap.core.diagnostics``.

#: Level of each medium/high rule's test against a calibrated model. Five explain rules can
#: fire on calibrated data (loss above baseline, confident errors, over/underconfident,
#: intercept, recalibration gain), so at this level any of them fires on at most about 5%
#: of calibrated datasets. The per-class, per-pair and per-group rules split it over the
#: cells they test (Bonferroni).
ALPHA = 0.01
#: Practical floor: a held-out recalibration gain under this many nats per sample is not
#: worth a user's attention however significant (temperature 1.02 gains about 5e-5).
FLOOR_NATS = 0.002
#: A held-out gain of at least this many nats per sample makes a calibration finding high.
HIGH_NATS = 0.02
#: Practical floor of an accuracy difference (a share: 0.005 is half an accuracy point).
FLOOR_ACCURACY = 0.005
#: ``wide_intervals`` (low): the accuracy's interval half-width reaches this.
WIDE_HALF_WIDTH = 0.02
#: ``possible_label_errors``: level of the test of labels of chance <= 1% under calibration;
#: stricter than ``ALPHA``, since its candidates are labels to re-check by hand, and so that
#: it adds about 0.1% to the false alarms on calibrated data, not 1%.
LABEL_ERRORS_P = 0.001
#: ``confident_errors`` is low, not dropped, when its errors carry this share of the loss.
CONFIDENT_LOSS_SHARE = 0.25
#: ``loss_concentration`` (low): half the loss carried by at most this share of samples.
CONCENTRATION_SHARE = 0.10
#: ``loss_concentration`` (medium): half the loss carried by at most this fraction of the
#: share a calibrated model with these probabilities needs.
CONCENTRATION_RATIO = 0.5
#: ``threshold_fragile`` (explain): flipping the band must move accuracy by this much.
FRAGILE_SWING = 0.01
#: ``confusion_pair``: a pair must carry this share of the log loss to be named (with k
#: classes there are k (k - 1) pairs: 2% is several times a pair's share when errors spread).
PAIR_SHARE_FLOOR = 0.02
#: ``class_confident_errors``: a class's confident errors must carry this share of the loss.
SHARE_FLOOR = 0.05
#: ``confusion_pair`` and ``class_confident_errors`` are high from this share of the loss.
HIGH_SHARE = 0.25
#: ``slice_miscalibrated``: a group's recalibration must remove this many nats per sample.
GAIN_FLOOR = 0.005
#: ``slice_miscalibrated`` is high from this gain (nats per sample).
HIGH_GAIN = 0.05
#: Observed over expected, at least, for an excess of errors to be named.
RATIO_FLOOR = 2.0
#: ``slice_confident_errors``: the excess must be at least this share of the group.
EXCESS_SHARE = 0.01
#: ``threshold_flips``: the near-threshold flips make at least this share of the gap.
NEAR_SHARE = 0.5
#: ``generalization_gap``: relative loss difference between train and held-out...
GAP_RELATIVE_LOSS = 0.10
#: ...or accuracy difference, at least.
GAP_ACCURACY = 0.02
#: ``uniform_predictions``: |loss - ln k| below this share of ln k...
UNIFORM_TOLERANCE = 0.005
#: ...with the loss's range within this share of its median.
UNIFORM_FLATNESS = 0.01
#: ``noisy_metric``: epoch-to-epoch noise above this share of the smoothed range.
NOISY_RATIO = 0.3
#: ``calibration_drift``: the last epoch's log loss at least this share above the lowest.
MIN_DRIFT = 0.02
#: ``loss_has_extra_terms``: the classes assumed by the calibrated-loss bound (a log does
#: not say; more classes allow a larger loss, so this errs towards silence).
ASSUMED_CLASSES = 1000.0
#: ``majority_collapse``: ``2A / ((1 + A) F)`` within this share of a whole number K >= 2.
COLLAPSE_TOLERANCE = 0.02
#: history's accuracy changes between two saved epochs are real below this McNemar
#: p-value, as ``compare`` calls a difference real at its default confidence of 0.95.
PAIRED_ALPHA = 0.05
#: ``calibration_drift``: discrimination "stayed" when it moved by less than this share.
STEADY_SHARE = 0.10
#: ``loss_accuracy_divergence``: smallest rise of the smoothed validation loss after its
#: minimum, relative to it.
MIN_LOSS_RISE = 0.02
#: ``loss_accuracy_divergence``: smallest fall of the smoothed decision score after its max.
MIN_SCORE_FALL = 0.005
#: The smoothed change must also exceed this many noise SDs of the curve, at least.
NOISE_MULTIPLE = 2.0
#: ``overfitting_onset``: smallest growth of the train/validation gap, relative to the
#: validation loss.
MIN_GAP_GROWTH = 0.10
#: ``metric_spike``: a point off its neighbours' mean by more than this many robust SDs...
SPIKE_SDS = 6.0
#: ...and by more than this share of that mean.
SPIKE_SHARE = 0.25

#: Severities that make a verdict: without one of them, the answer is ``consistent``.
SERIOUS = ("high", "medium")

#: The commands that emit findings.
COMMANDS = ("explain", "compare", "history", "interpret")


# --- the registry ----------------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    """One finding code of the rule book.

    Attributes
    ----------
    code : str
        The word in the output (``Finding.code``); never renamed once released.
    title : str
        What the finding says, in a few words.
    commands : tuple of str
        The commands that emit it (from :data:`COMMANDS`).
    severities : tuple of str
        The severities it may take, highest first.
    tests : str
        What fires it.
    severity : str
        How its severity is set.
    thresholds : tuple of str
        The names of the constants of this module it compares with.
    doc : str
        One paragraph: what it means and what to do.
    """

    code: str
    title: str
    commands: tuple[str, ...]
    severities: tuple[str, ...]
    tests: str
    severity: str
    thresholds: tuple[str, ...]
    doc: str

    def limits(self) -> dict[str, float]:
        """The thresholds this code compares with, by name."""
        return {name: globals()[name] for name in self.thresholds}

    def finding(
        self, severity: str, message: str, evidence: dict[str, Any], advice: str
    ) -> Finding:
        """The finding of this code; refuses a severity the book does not give it.

        Examples
        --------
        >>> WIDE_INTERVALS.finding("low", "m", {}, "a").code
        'wide_intervals'
        >>> WIDE_INTERVALS.finding("high", "m", {}, "a")
        Traceback (most recent call last):
        ...
        ValueError: the rule book gives wide_intervals the severities ('low',), not 'high'
        """
        if severity not in self.severities:
            msg = (
                f"the rule book gives {self.code} the severities {self.severities}, "
                f"not {severity!r}"
            )
            raise ValueError(msg)
        return Finding(self.code, severity, message, evidence, advice)


#: Every code, by name, in the order of docs/findings.md.
CODES: dict[str, Code] = {}


def _declare(
    code: str,
    title: str,
    *,
    commands: Iterable[str],
    severities: Iterable[str],
    tests: str,
    severity: str,
    thresholds: Iterable[str] = (),
    doc: str,
) -> Code:
    entry = Code(
        code,
        title,
        tuple(commands),
        tuple(severities),
        tests,
        severity,
        tuple(thresholds),
        doc,
    )
    # a declaration is checked once, at import: a code twice, an unknown severity, command
    # or threshold name is a bug of this module
    assert code not in CODES, f"{code} declared twice"
    assert set(entry.severities) <= set(SEVERITIES), entry.severities
    assert set(entry.commands) <= set(COMMANDS), entry.commands
    assert all(isinstance(globals().get(n), float) for n in entry.thresholds), entry.thresholds
    CODES[code] = entry
    return entry


# explain: the gap between loss and accuracy on one set of predictions

INFINITE_LOSS = _declare(
    "infinite_loss",
    "a true class got probability exactly 0",
    commands=("explain", "compare"),
    severities=("high", "medium"),
    tests="some true class got probability exactly 0, so the mean log loss is infinite",
    severity="high when the infinite loss decides the answer (one model: always; compare: "
    "the model wins once each loss is capped at 34.54 nats); medium when it loses even capped",
    doc="A calibrated model never gives an occurring class probability 0, and one such "
    "sample makes the mean log loss infinite, so the loss says nothing until the outputs are "
    "clipped. The finding gives the loss with each sample capped at 34.54 nats (outputs "
    "clipped to [1e-15, 1 - 1e-15]); never output hard 0/1 probabilities.",
)

LOSS_ABOVE_BASELINE = _declare(
    "loss_above_baseline",
    "log loss worse than predicting the base rates",
    commands=("explain", "interpret"),
    severities=("high",),
    tests="the loss exceeds the no-skill loss (entropy of the base rates) by at least "
    "FLOOR_NATS, beyond what a calibrated model with these probabilities gives at ALPHA "
    "(explain; interpret has no sample to test and reads the bound of the printed digits)",
    severity="always high",
    thresholds=("FLOOR_NATS", "ALPHA"),
    doc="Always predicting the base rates would score better than the model: the ranking may "
    "be useful, but the probabilities are worse than no model. Recalibrate (temperature "
    "scaling keeps every decision) before using them.",
)

CONFIDENT_ERRORS = _declare(
    "confident_errors",
    "more confident errors than calibration allows",
    commands=("explain",),
    severities=("high", "medium", "low"),
    tests="more errors at the confidence level (0.9) than a calibrated model makes (Poisson, "
    "p < ALPHA) and a held-out recalibration gain of at least FLOOR_NATS",
    severity="by the held-out gain (high from HIGH_NATS, else medium); low when the count is "
    "surprising but recalibration gains too little, or the errors carry at least "
    "CONFIDENT_LOSS_SHARE of the loss",
    thresholds=("ALPHA", "FLOOR_NATS", "HIGH_NATS", "CONFIDENT_LOSS_SHARE"),
    doc="A few confidently wrong samples carry much of the log loss while barely moving "
    "accuracy. Look at them first: wrong labels, or a model overconfident on them "
    "(temperature-scale it, or regularise).",
)

OVERCONFIDENT = _declare(
    "overconfident",
    "probabilities too extreme",
    commands=("explain", "interpret"),
    severities=("high", "medium", "low"),
    tests="explain: the calibration slope is below 1 at level ALPHA and held-out temperature "
    "scaling gains at least FLOOR_NATS; interpret: no calibrated model has the (loss, "
    "accuracy) pair and the loss is above ln K",
    severity="by the effect (explain: the held-out temperature gain; interpret: the loss "
    "above the most a calibrated model with that accuracy has): high from HIGH_NATS, else "
    "medium (interpret's bound stays medium under FLOOR_NATS); low when no gain could be "
    "measured",
    thresholds=("ALPHA", "FLOOR_NATS", "HIGH_NATS"),
    doc="The model is more confident than it is right: its errors cost far more than a "
    "calibrated model's. Temperature scaling (a temperature above 1) fixes it without "
    "changing a decision.",
)

UNDERCONFIDENT = _declare(
    "underconfident",
    "probabilities too timid",
    commands=("explain",),
    severities=("high", "medium", "low"),
    tests="the calibration slope is above 1 at level ALPHA and held-out temperature scaling "
    "gains at least FLOOR_NATS",
    severity="by the held-out temperature gain: high from HIGH_NATS, else medium; low when no "
    "map could be fitted",
    thresholds=("ALPHA", "FLOOR_NATS", "HIGH_NATS"),
    doc="The probabilities sit too close to the middle (label smoothing, strong "
    "regularisation): the loss is higher than the ranking deserves. A temperature below 1 "
    "sharpens them without changing a decision.",
)

MISCALIBRATED_INTERCEPT = _declare(
    "miscalibrated_intercept",
    "the mean probability misses the base rate",
    commands=("explain",),
    severities=("high", "medium"),
    tests="binary: the score test of calibration-in-the-large at p < ALPHA, and the held-out "
    "intercept map gains at least FLOOR_NATS",
    severity="by the held-out intercept gain: high from HIGH_NATS, else medium",
    thresholds=("ALPHA", "FLOOR_NATS", "HIGH_NATS"),
    doc="The probabilities are too high or too low on average, usually from a base-rate "
    "shift between training and this data; adding one constant to the logits fixes it.",
)

RECALIBRATION_GAIN = _declare(
    "recalibration_gain",
    "a recalibration map removes real loss",
    commands=("explain",),
    severities=("high", "medium"),
    tests="the best map's held-out gain is at least FLOOR_NATS and above zero at level ALPHA",
    severity="high when the map takes the loss from above the no-skill loss to below, or the "
    "gain is at least HIGH_NATS; else medium",
    thresholds=("ALPHA", "FLOOR_NATS", "HIGH_NATS"),
    doc="Part of the loss is miscalibration that a map fitted on held-out data removes; fit "
    "it on a held-out split and apply it before using the probabilities.",
)

POSSIBLE_LABEL_ERRORS = _declare(
    "possible_label_errors",
    "labels a calibrated model would not draw: label noise?",
    commands=("explain",),
    severities=("high", "medium"),
    tests="at least 2 effective samples have a label whose chance under the model's own "
    "probabilities is at most 1%, more than a calibrated model draws (Poisson p-value below "
    "LABEL_ERRORS_P), and the capped log loss they carry beyond a calibrated model's is at "
    "least FLOOR_NATS per sample",
    severity="high from HIGH_NATS of loss beyond chance, else medium",
    thresholds=("LABEL_ERRORS_P", "FLOOR_NATS", "HIGH_NATS"),
    doc="More labels than chance allows are ones the model's probabilities make near "
    "impossible: wrong labels, or a model certain where it should not be. Re-check the "
    "candidates (confident learning's, as cleanlab's, and every label of chance at most 1%; "
    "all in diagnostics.label_errors) by hand, least likely first.",
)

ACCURACY_NEAR_MAJORITY = _declare(
    "accuracy_near_majority",
    "accuracy does not beat the majority class",
    commands=("explain", "interpret"),
    severities=("medium", "low"),
    tests="the accuracy does not beat the majority share (interpret without a base rate: "
    "1/K) by FLOOR_ACCURACY beyond noise (explain: McNemar p < ALPHA; interpret: the "
    "accuracy's interval)",
    severity="medium when below it by FLOOR_ACCURACY beyond noise (the decision rule costs "
    "accuracy), or (interpret) below it at all, which no calibrated model is; else low "
    "(accuracy mostly measures the base rate)",
    thresholds=("FLOOR_ACCURACY", "ALPHA"),
    doc="Accuracy here mostly measures the class balance; judge the model by log loss, ROC "
    "AUC or balanced accuracy, and choose the threshold for the costs of each error.",
)

LOSS_CONCENTRATION = _declare(
    "loss_concentration",
    "half the loss from a few samples",
    commands=("explain",),
    severities=("medium", "low"),
    tests="half the log loss comes from at most CONCENTRATION_RATIO of the share of samples a "
    "calibrated model needs (consistency resampling, p <= ALPHA), or from at most "
    "CONCENTRATION_SHARE",
    severity="medium beyond calibration; low when calibration implies it (a rare class "
    "always carries much of the loss)",
    thresholds=("ALPHA", "CONCENTRATION_RATIO", "CONCENTRATION_SHARE"),
    doc="The mean loss describes a few bad predictions more than the typical one: read the "
    "worst samples, and judge the typical sample with accuracy or a median loss.",
)

WIDE_INTERVALS = _declare(
    "wide_intervals",
    "the accuracy itself is uncertain",
    commands=("explain", "interpret"),
    severities=("low",),
    tests="the accuracy's interval half-width is at least WIDE_HALF_WIDTH (interpret: with --n)",
    severity="always low: true, but no defect of the model",
    thresholds=("WIDE_HALF_WIDTH",),
    doc="Too few samples to read small accuracy differences: evaluate on more samples, or "
    "compare models on the same samples with paired tests (lossgap compare).",
)

THRESHOLD_FRAGILE = _declare(
    "threshold_fragile",
    "accuracy hinges on predictions near the threshold",
    commands=("explain", "interpret"),
    severities=("low",),
    tests="explain: flipping the predictions within 0.05 of the threshold moves accuracy by "
    "at least FRAGILE_SWING; interpret: the loss is below the least a calibrated model with "
    "that accuracy has (the errors are cheap)",
    severity="always low",
    thresholds=("FRAGILE_SWING",),
    doc="Many predictions sit just across the threshold, where a small change of model or "
    "threshold flips them: compare models by log loss or Brier score, which move smoothly.",
)

CONSISTENT = _declare(
    "consistent",
    "loss and accuracy tell the same story",
    commands=("explain", "interpret"),
    severities=("info",),
    tests="no high or medium finding",
    severity="always info",
    doc="Nothing sets loss and accuracy apart; pick the model by the score that matches the "
    "use (log loss for probabilities, accuracy or cost for decisions).",
)

# explain, decision section (docs/decisions.md)

THRESHOLD_COSTLY = _declare(
    "threshold_costly",
    "the threshold in use costs more than the best",
    commands=("explain",),
    severities=("medium",),
    tests="binary with --costs: the threshold in use lies outside the best threshold's "
    "interval and its excess cost's interval lies above 0",
    severity="always medium",
    doc="Deciding at another threshold costs less per sample beyond noise; the advice names "
    "it (chosen on the same samples: confirm it on a fresh split).",
)

THRESHOLD_MISCALIBRATION = _declare(
    "threshold_miscalibration",
    "the calibrated threshold is not the cheapest",
    commands=("explain",),
    severities=("medium",),
    tests="binary with --costs: FP / (FP + FN) lies outside the cheapest threshold's interval "
    "and costs more beyond noise",
    severity="always medium",
    doc="The probabilities are miscalibrated where the decision is made: decide at the "
    "cheapest threshold on the raw outputs, or recalibrate and decide at FP / (FP + FN).",
)

COSTLY_ARGMAX = _declare(
    "costly_argmax",
    "the argmax costs more than the least expected cost",
    commands=("explain",),
    severities=("medium",),
    tests="multiclass with a cost matrix: the interval of the argmax's excess cost over the "
    "least-expected-cost rule lies above 0",
    severity="always medium",
    doc="Decide by the least expected cost under the cost matrix instead of the argmax; that "
    "rule assumes calibrated probabilities, so recalibrate first.",
)

THRESHOLD_NOT_ACCURACY_OPTIMAL = _declare(
    "threshold_not_accuracy_optimal",
    "the threshold is not among those of best accuracy",
    commands=("explain",),
    severities=("low",),
    tests="binary without costs: the threshold in use lies outside the interval of "
    "thresholds of best accuracy",
    severity="always low",
    doc="Give the costs of each error to choose the threshold for the use; a winning "
    "threshold away from 0.5 often means shifted probabilities.",
)

# explain, where the loss lives (docs/where.md)

CONFUSION_PAIR = _declare(
    "confusion_pair",
    "one class decided as another beyond chance",
    commands=("explain",),
    severities=("high", "medium"),
    tests="multiclass: a cell's Poisson p below ALPHA / (k (k - 1)), at least RATIO_FLOOR "
    "times its calibrated expectation, carrying at least PAIR_SHARE_FLOOR of the log loss",
    severity="high from HIGH_SHARE of the log loss, else medium",
    thresholds=("ALPHA", "RATIO_FLOOR", "PAIR_SHARE_FLOOR", "HIGH_SHARE"),
    doc="One true class is decided as another far more often than the model's own "
    "probabilities allow: mislabelled between the two, or features that do not tell them "
    "apart.",
)

CLASS_CONFIDENT_ERRORS = _declare(
    "class_confident_errors",
    "a class with confident errors beyond chance",
    commands=("explain",),
    severities=("high", "medium"),
    tests="multiclass: a class's Poisson p below ALPHA / k, at least RATIO_FLOOR times its "
    "calibrated expectation, carrying at least SHARE_FLOOR of the log loss (classes a "
    "confusion pair names are left to it)",
    severity="high from HIGH_SHARE of the log loss, else medium",
    thresholds=("ALPHA", "RATIO_FLOOR", "SHARE_FLOOR", "HIGH_SHARE"),
    doc="The samples of one class get more confident errors than calibration allows: wrong "
    "labels, or a class the model learnt too narrowly.",
)

SLICE_MISCALIBRATED = _declare(
    "slice_miscalibrated",
    "a group miscalibrated beyond chance",
    commands=("explain",),
    severities=("high", "medium"),
    tests="with --by: a group's calibration test has p below ALPHA / (groups tested) and its "
    "recalibration removes at least GAIN_FLOOR nats per sample",
    severity="high from HIGH_GAIN nats per sample, else medium",
    thresholds=("ALPHA", "GAIN_FLOOR", "HIGH_GAIN"),
    doc="One group is miscalibrated where the rest may not be: recalibrate it on its own "
    "held-out data, or find what sets it apart.",
)

SLICE_CONFIDENT_ERRORS = _declare(
    "slice_confident_errors",
    "a group with confident errors beyond chance",
    commands=("explain",),
    severities=("medium",),
    tests="with --by: a group's Poisson p below ALPHA / groups, at least RATIO_FLOOR times "
    "its calibrated expectation and an excess of at least EXCESS_SHARE of its samples",
    severity="always medium",
    thresholds=("ALPHA", "RATIO_FLOOR", "EXCESS_SHARE"),
    doc="One group holds more confident errors than calibration allows for its size: its "
    "labels or inputs may differ from the rest.",
)

MISCALIBRATION_SPREAD = _declare(
    "miscalibration_spread",
    "miscalibrated as a whole, no group on its own",
    commands=("explain",),
    severities=("low",),
    tests="with --by: the whole fails the calibration test (p < ALPHA, gain at least "
    "GAIN_FLOOR) while no group does",
    severity="always low",
    thresholds=("ALPHA", "GAIN_FLOOR"),
    doc="The miscalibration is shared, or each group is too small to show it: recalibrate "
    "the model as a whole.",
)

# compare

THRESHOLD_FLIPS = _declare(
    "threshold_flips",
    "an accuracy gap made of near-threshold flips",
    commands=("compare",),
    severities=("medium",),
    tests="a significant accuracy difference of which at least NEAR_SHARE is samples within "
    "`near` of the decision boundary under both models",
    severity="always medium",
    thresholds=("NEAR_SHARE",),
    doc="The models barely differ on the samples that make the accuracy gap: choose by log "
    "loss or Brier score, and confirm an accuracy gap on fresh samples.",
)

LOSS_TIE = _declare(
    "loss_tie",
    "accuracy differs while log loss ties",
    commands=("compare",),
    severities=("medium",),
    tests="a pair whose accuracy difference is significant and whose log loss difference "
    "is not",
    severity="always medium",
    doc="The two scores answer different questions: if the probabilities matter the models "
    "are equally good; only decisions at this threshold separate them.",
)

RANK_DISAGREEMENT = _declare(
    "rank_disagreement",
    "score and accuracy rank the models oppositely",
    commands=("compare",),
    severities=("medium", "low"),
    tests="some pair of models has the lower score and the lower accuracy",
    severity="medium when some pair has both differences significant in opposite "
    "directions; else low (maybe noise)",
    doc="Choose by the proper score when the probabilities are used; accuracy counts only "
    "the decisions at one threshold.",
)

DIFFERENCE_NOT_SIGNIFICANT = _declare(
    "difference_not_significant",
    "differences within sampling noise",
    commands=("compare",),
    severities=("medium", "low"),
    tests="some pair's accuracy or score difference is not significant",
    severity="medium when the best model by the score is not clearly better than a rival; "
    "else low",
    doc="Do not choose between these models on this sample alone: evaluate on more samples "
    "or decide on other grounds.",
)

# history

NAN_LOSS = _declare(
    "nan_loss",
    "a loss logged as NaN or infinite",
    commands=("history",),
    severities=("high",),
    tests="any point of the validation or training loss is NaN or infinite",
    severity="always high",
    doc="The training diverged: lower the learning rate, clip gradients, check the inputs "
    "for NaN, keep loss scaling on with mixed precision.",
)

UNIFORM_PREDICTIONS = _declare(
    "uniform_predictions",
    "the loss sits at ln k: nothing learned",
    commands=("history",),
    severities=("high",),
    tests="at least 3 finite points, the median within UNIFORM_TOLERANCE of ln k and the "
    "range within UNIFORM_FLATNESS of the median",
    severity="always high",
    thresholds=("UNIFORM_TOLERANCE", "UNIFORM_FLATNESS"),
    doc="The model gives each class probability 1/k: check that inputs and labels reach it, "
    "and make it overfit one small batch first.",
)

LOSS_ACCURACY_DIVERGENCE = _declare(
    "loss_accuracy_divergence",
    "the smoothed loss and score part ways",
    commands=("history",),
    severities=("medium",),
    tests="from a start epoch the smoothed loss rises by MIN_LOSS_RISE (relative) or the "
    "score falls by MIN_SCORE_FALL, each also beyond NOISE_MULTIPLE noise SDs (or "
    "sqrt(2 ln n)), with the Mann-Kendall trends agreeing",
    severity="always medium",
    thresholds=("MIN_LOSS_RISE", "MIN_SCORE_FALL", "NOISE_MULTIPLE"),
    doc="The model grows more confident, which costs more on its remaining errors than it "
    "gains on the rest: keep the loss-best epoch for probabilities, or temperature-scale.",
)

CALIBRATION_DRIFT = _declare(
    "calibration_drift",
    "the loss rose because miscalibration grew",
    commands=("history",),
    severities=("medium", "low"),
    tests="per-epoch predictions: the last epoch's log loss is at least MIN_DRIFT above the "
    "lowest (discrimination 'stayed' when it moved by under STEADY_SHARE)",
    severity="medium when miscalibration grew, else low",
    thresholds=("MIN_DRIFT", "STEADY_SHARE"),
    doc="The rise is calibration, not ranking: temperature-scale the last epoch on held-out "
    "data, or keep the loss-best epoch for its probabilities.",
)

LOSS_HAS_EXTRA_TERMS = _declare(
    "loss_has_extra_terms",
    "the logged loss is more than the log loss",
    commands=("history",),
    severities=("medium",),
    tests="at every one of at least 3 epochs the validation loss exceeds Fano's bound "
    "h(A) + (1 - A) ln(K - 1) for a calibrated model, K = ASSUMED_CLASSES, at the accuracy "
    "lowered by its 95% sampling noise when the validation size is known",
    severity="always medium",
    thresholds=("ASSUMED_CLASSES",),
    doc="Label smoothing, class weights or a regularisation term inside the logged loss: "
    "its level says nothing about calibration. Log the plain cross-entropy, or save the "
    "predictions, and judge calibration and epochs on that.",
)

MAJORITY_COLLAPSE = _declare(
    "majority_collapse",
    "an epoch predicts one class for every sample",
    commands=("history",),
    severities=("medium",),
    tests="accuracy A and macro-F1 F with 2A / ((1 + A) F) within COLLAPSE_TOLERANCE of a "
    "whole number K >= 2: the majority rule's pair",
    severity="always medium",
    thresholds=("COLLAPSE_TOLERANCE",),
    doc="That accuracy is the majority share, not skill: the best epochs and the advice leave "
    "such epochs out; choose epochs by macro-F1 and counter the imbalance.",
)

OVERFITTING_ONSET = _declare(
    "overfitting_onset",
    "the train/validation gap grows",
    commands=("history",),
    severities=("medium", "low"),
    tests="from an onset point the gap val_loss - loss has a rising trend and grows by "
    "MIN_GAP_GROWTH of the validation loss while the training loss falls",
    severity="medium when the validation loss rises after the onset, else low",
    thresholds=("MIN_GAP_GROWTH",),
    doc="The model fits its training set beyond what carries over: stop where the "
    "validation loss is lowest, or regularise.",
)

BEST_EPOCHS_DISAGREE = _declare(
    "best_epochs_disagree",
    "the loss-best and score-best epochs differ",
    commands=("history",),
    severities=("medium", "low"),
    tests="the logged best points of the validation loss and the score differ",
    severity="medium when the score gain is beyond sampling noise for a given or measured "
    "validation size (with both epochs' predictions saved: McNemar's exact test at "
    "PAIRED_ALPHA, as compare runs it); else low",
    thresholds=("PAIRED_ALPHA",),
    doc="Keep the loss-best epoch for probabilities and the score-best for decisions, or "
    "temperature-scale the score-best one.",
)

NOISY_METRIC = _declare(
    "noisy_metric",
    "epoch-to-epoch noise large against the trend",
    commands=("history",),
    severities=("low",),
    tests="the epoch-to-epoch noise SD is at least NOISY_RATIO of the smoothed range",
    severity="always low",
    thresholds=("NOISY_RATIO",),
    doc="Single-epoch bests are partly luck: choose the epoch on the smoothed curve.",
)

METRIC_SPIKE = _declare(
    "metric_spike",
    "a one-off jump",
    commands=("history",),
    severities=("low",),
    tests="an interior point off both neighbours' mean by more than SPIKE_SDS robust SDs "
    "and SPIKE_SHARE of that mean",
    severity="always low",
    thresholds=("SPIKE_SDS", "SPIKE_SHARE"),
    doc="An unstable batch or a learning rate near the edge of stability; the analysis "
    "reads the smoothed curve, which ignores it.",
)

METRIC_OUT_OF_RANGE = _declare(
    "metric_out_of_range",
    "a metric outside its possible range",
    commands=("history",),
    severities=("low",),
    tests="a score that lies in [0, 1] outside it, or a cross-entropy below 0",
    severity="always low",
    doc="The metric is computed wrongly, often a per-batch average of a non-linear score: "
    "compute it once over the whole validation set.",
)

DAMAGED_LOG = _declare(
    "damaged_log",
    "rows with the wrong number of fields",
    commands=("history",),
    severities=("low",),
    tests="rows of the log have another number of fields than the header; they are skipped",
    severity="always low",
    doc="The file was cut off or damaged; re-export it if those epochs matter.",
)

APPENDED_RUNS = _declare(
    "appended_runs",
    "several runs in one file",
    commands=("history",),
    severities=("info",),
    tests="the epoch (or step) restarts within one file",
    severity="always info",
    doc="Each run is analysed on its own; log each run to its own file.",
)

TOO_SHORT = _declare(
    "too_short",
    "too few points for a trend",
    commands=("history",),
    severities=("info",),
    tests="fewer validated points than the trend tests need",
    severity="always info",
    doc="Train and validate for more epochs before reading trends; with one point, "
    "`lossgap interpret` reads its numbers.",
)

# interpret

IMPOSSIBLE_PAIR = _declare(
    "impossible_pair",
    "no predictions have this loss and accuracy",
    commands=("interpret",),
    severities=("high",),
    tests="L < (1 - A) ln 2: each error costs at least ln 2",
    severity="always high",
    doc="The two numbers do not come from the same predictions and decisions: check that the "
    "loss is the mean cross-entropy and accuracy uses the 0.5 threshold or the argmax.",
)

MISCALIBRATED = _declare(
    "miscalibrated",
    "loss too high for the accuracy",
    commands=("interpret",),
    severities=("medium",),
    tests="no calibrated model has the pair (F_K(A) < L <= ln K)",
    severity="always medium",
    doc="Confident errors or hedged correct predictions; the two numbers cannot tell which. "
    "`lossgap explain` on the predictions can.",
)

GENERALIZATION_GAP = _declare(
    "generalization_gap",
    "training and held-out differ",
    commands=("interpret",),
    severities=("low",),
    tests="relative loss difference of at least GAP_RELATIVE_LOSS or accuracy difference of "
    "at least GAP_ACCURACY between train and held-out",
    severity="always low",
    thresholds=("GAP_RELATIVE_LOSS", "GAP_ACCURACY"),
    doc="Pick the epoch by the held-out loss for probabilities, by held-out accuracy or cost "
    "for decisions; `lossgap history` shows where the two part ways.",
)


# --- shared rules: one function per code that several commands emit -------------------


def rank(found: Iterable[Finding]) -> list[Finding]:
    """Findings ranked by severity, stable within one.

    Examples
    --------
    >>> low = WIDE_INTERVALS.finding("low", "wide", {}, "")
    >>> high = INFINITE_LOSS.finding("high", "zero", {}, "")
    >>> [f.code for f in rank([low, high])]
    ['infinite_loss', 'wide_intervals']
    """
    return sorted(found, key=lambda f: f.rank)


def conclude(
    found: list[Finding], message: str, evidence: dict[str, Any], advice: str | None = None
) -> list[Finding]:
    """The findings ranked, with ``consistent`` (``message``) added when none is serious.

    Examples
    --------
    >>> [f.code for f in conclude([], "Loss and accuracy agree.", {})]
    ['consistent']
    """
    if not any(f.severity in SERIOUS for f in found):
        found = [
            *found,
            CONSISTENT.finding(
                "info",
                message,
                evidence,
                "Nothing to fix between loss and accuracy; pick the model by the score that "
                "matches your use (log loss for probabilities, accuracy or cost for decisions)."
                if advice is None
                else advice,
            ),
        ]
    return rank(found)


def infinite_loss_severity(decides: bool) -> str:
    """``infinite_loss``: high when the infinite loss decides the answer (one model: always;
    a comparison: the model wins once capped), else medium.

    Examples
    --------
    >>> infinite_loss_severity(True), infinite_loss_severity(False)
    ('high', 'medium')
    """
    return "high" if decides else "medium"


def loss_above_baseline_severity(excess: float, p_value: float | None) -> str | None:
    """``loss_above_baseline`` (high) when the loss exceeds the no-skill loss by ``excess``
    nats of at least ``FLOOR_NATS``, beyond noise where there is a test
    (``p_value < ALPHA``); None otherwise.

    Examples
    --------
    >>> loss_above_baseline_severity(0.01, 0.001), loss_above_baseline_severity(0.001, None)
    ('high', None)
    """
    if not excess >= FLOOR_NATS or (p_value is not None and not p_value < ALPHA):
        return None
    return "high"


def calibration_severity(gain: float | None, *, proven: bool = False) -> str | None:
    """The severity of a calibration finding (``overconfident``, ``underconfident``,
    ``miscalibrated_intercept``, ``confident_errors``) from the loss it would remove, in
    nats per sample: high from ``HIGH_NATS``, else medium; low when it could not be
    measured. Under ``FLOOR_NATS`` a tested effect is not worth a finding (None), but one
    ``proven`` by a bound no calibrated model meets (interpret) stays medium: the answer
    must not call the pair one a calibrated model produces.

    Examples
    --------
    >>> [calibration_severity(g) for g in (None, 0.001, 0.01, 0.05)]
    ['low', None, 'medium', 'high']
    >>> calibration_severity(0.001, proven=True)
    'medium'
    """
    if gain is None:
        return "low"
    if not gain >= FLOOR_NATS:
        return "medium" if proven else None
    return "high" if gain >= HIGH_NATS else "medium"


def accuracy_near_majority_severity(
    lowest: float, highest: float, beyond_noise: bool, *, proven: bool = False
) -> str | None:
    """``accuracy_near_majority`` from the accuracy minus the majority share (the ``lowest``
    and ``highest`` it can be; equal for a point estimate) and whether the test excludes
    noise: None when it beats the majority by ``FLOOR_ACCURACY``, medium when below it by
    that much (the decision rule costs accuracy), else low (a property of the data). Below
    the majority at all is medium when ``proven``: no calibrated model has that accuracy
    (interpret's bound), so the answer must not call the pair one a calibrated model gives.

    Examples
    --------
    >>> [accuracy_near_majority_severity(d, d, True) for d in (0.01, 0.0, -0.01)]
    [None, 'low', 'medium']
    >>> accuracy_near_majority_severity(-0.01, -0.01, False)
    'low'
    >>> accuracy_near_majority_severity(-0.002, -0.002, True, proven=True)
    'medium'
    """
    if beyond_noise and lowest >= FLOOR_ACCURACY:
        return None
    below = beyond_noise and highest <= -FLOOR_ACCURACY
    return "medium" if below or (proven and highest < 0) else "low"


def wide_intervals_severity(half_width: float) -> str | None:
    """``wide_intervals`` (low) when the accuracy's half-width reaches ``WIDE_HALF_WIDTH``.

    Examples
    --------
    >>> wide_intervals_severity(0.02), wide_intervals_severity(0.019)
    ('low', None)
    """
    return "low" if half_width >= WIDE_HALF_WIDTH else None
