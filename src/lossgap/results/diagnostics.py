"""The diagnostics section of an Evaluation: the facts the finding rules read.

Each part is computed by :mod:`lossgap.core.diagnostics` (``docs/findings.md`` says which rule
reads which); ``to_dict()`` gives the ``diagnostics`` object of ``docs/json.md``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, overload

import numpy as np

from lossgap.results.slices import CalibrationTest

#: Label-error candidates the JSON lists at most, the least likely labels first (the API
#: keeps them all; ``lossgap explain --label-errors FILE`` writes them all).
MAX_JSON_CANDIDATES = 1000


@dataclass(frozen=True)
class ConfidentErrors:
    """Errors made with at least ``level`` confidence, against a calibrated model's count.

    Attributes
    ----------
    level : float
        The true class got at most ``1 - level``.
    count, share : float
        Their weight, and its share of the total.
    loss_share : float
        Their share of the log loss (capped losses; NaN when the loss is 0).
    expected_if_calibrated : float
        How many a calibrated model with these probabilities would make.
    p_value : float
        Poisson chance of at least as many (effective counts).
    ids : list
        The ids of the first of them (at most 20).
    """

    level: float
    count: float
    share: float
    loss_share: float
    expected_if_calibrated: float
    p_value: float
    ids: list[Any]


@dataclass(frozen=True)
class LabelCandidate:
    """A label that may be wrong (:func:`lossgap.core.label_errors.candidates`).

    Attributes
    ----------
    id : object
        The sample's id.
    label, suggested : object
        The given class, and the most probable one.
    probability : float
        The probability the model gives the label (cleanlab's self-confidence).
    chance : float
        The label's chance under calibration (:func:`lossgap.core.label_errors.label_chance`).
    confident_learning : bool
        Confident learning lists it too.
    """

    id: Any
    label: Any
    suggested: Any
    probability: float
    chance: float
    confident_learning: bool


#: The columns of :class:`LabelCandidates`, named as the :class:`LabelCandidate` fields.
CANDIDATE_FIELDS = ("id", "label", "suggested", "probability", "chance", "confident_learning")


@dataclass(frozen=True, eq=False)
class LabelCandidates(Sequence[LabelCandidate]):
    """Every label-error candidate, held as columns (:func:`lossgap.core.label_errors.candidates`).

    A sequence of :class:`LabelCandidate`, the least likely labels first: indexing, slicing
    (a slice is a ``LabelCandidates``), iteration and ``len`` as for a list, and equal to a
    list of the same candidates. Each candidate is made when it is read, so a million of
    them cost arrays, not a million objects; the columns serve whole-list readers (the CSV
    of ``--label-errors``).

    Attributes
    ----------
    id, label, suggested : numpy.ndarray
        Each candidate's id, given class and most probable class (an object array holds
        Python scalars).
    probability, chance : numpy.ndarray of float
        The probability the model gives the label, and the label's chance under calibration.
    confident_learning : numpy.ndarray of bool
        Confident learning lists it too.

    Examples
    --------
    >>> found = LabelCandidates(
    ...     id=np.array([4, 2]), label=np.array(["a", "b"]), suggested=np.array(["b", "a"]),
    ...     probability=np.array([0.01, 0.2]), chance=np.array([0.01, 0.2]),
    ...     confident_learning=np.array([True, False]),
    ... )
    >>> len(found), found[0].id, [c.label for c in found]
    (2, 4, ['a', 'b'])
    >>> found[1:].to_records()
    [{'id': 2, 'label': 'b', 'suggested': 'a', 'probability': 0.2, 'chance': 0.2,
      'confident_learning': False}]
    """

    id: np.ndarray
    label: np.ndarray
    suggested: np.ndarray
    probability: np.ndarray
    chance: np.ndarray
    confident_learning: np.ndarray

    def __len__(self) -> int:
        return len(self.chance)

    @overload
    def __getitem__(self, index: int) -> LabelCandidate: ...

    @overload
    def __getitem__(self, index: slice) -> LabelCandidates: ...

    def __getitem__(self, index: int | slice) -> LabelCandidate | LabelCandidates:
        if isinstance(index, slice):
            return LabelCandidates(*(getattr(self, name)[index] for name in CANDIDATE_FIELDS))
        position = range(len(self))[index]  # negative indices, and IndexError past the end
        # a one-element slice's tolist: the Python value (a numpy scalar's item, an object
        # array's element as held)
        return LabelCandidate(
            *(getattr(self, name)[position : position + 1].tolist()[0] for name in CANDIDATE_FIELDS)
        )

    def __iter__(self) -> Iterator[LabelCandidate]:
        columns = (getattr(self, name).tolist() for name in CANDIDATE_FIELDS)
        return (LabelCandidate(*values) for values in zip(*columns, strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LabelCandidates):
            return len(self) == len(other) and all(
                np.array_equal(getattr(self, name), getattr(other, name))
                for name in CANDIDATE_FIELDS
            )
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # arrays: equal, not hashable

    def to_records(self) -> list[dict[str, Any]]:
        """Each candidate as the JSON object ``docs/json.md`` lists (``asdict`` of each one)."""
        columns = [getattr(self, name).tolist() for name in CANDIDATE_FIELDS]
        return [
            dict(zip(CANDIDATE_FIELDS, values, strict=True))
            for values in zip(*columns, strict=True)
        ]


@dataclass(frozen=True)
class LabelErrors:
    """Labels a calibrated model would almost never draw, against how many it would.

    Attributes
    ----------
    level : float
        A label is counted when its chance under calibration is at most this.
    method : str
        ``"per sample"``, or ``"class columns"`` (multiclass without the samples: a
        superset).
    count, effective_count : float
        Such labels (weight), and in effective samples.
    expected_if_calibrated : float
        How many a calibrated model with these probabilities would have.
    beyond_chance : float
        ``count`` minus that, at least 0.
    p_value : float
        Poisson chance of at least ``count``.
    loss_beyond_chance : float
        The capped log loss they carry beyond a calibrated model's, per sample.
    candidate_method : str
        How the candidates are chosen, in words.
    candidates : LabelCandidates or None
        Every candidate, the least likely labels first (a sequence of
        :class:`LabelCandidate`); None without the samples or when the test does not pass
        its level.
    """

    level: float
    method: str
    count: float
    effective_count: float
    expected_if_calibrated: float
    beyond_chance: float
    p_value: float
    loss_beyond_chance: float
    candidate_method: str
    candidates: LabelCandidates | None


@dataclass(frozen=True)
class ConcentrationCurve:
    """Share of the loss carried by the worst samples, on a grid of sample shares."""

    sample_share: list[float]
    loss_share: list[float]


@dataclass(frozen=True)
class CalibratedConcentration:
    """Where the half-loss sample share of a calibrated model with these probabilities lies.

    Attributes
    ----------
    pooled_share : float
        The observed share on the pooled score tables the draws use.
    calibrated_median, calibrated_low : float
        The median and 1% quantile of the share over labels drawn from the probabilities.
    p_value : float
        Share of draws at or below the observed share (plus one, over the draws plus one).
    """

    pooled_share: float
    calibrated_median: float
    calibrated_low: float
    p_value: float


@dataclass(frozen=True)
class LossConcentration:
    """How few samples carry half the log loss, and the whole curve.

    Attributes
    ----------
    half_loss_sample_share : float
        Share of the samples (worst first) that carries half the loss.
    curve : ConcentrationCurve
    calibrated : CalibratedConcentration or None
        The same share for a calibrated model with these probabilities (None until the
        consistency resampling has run).
    """

    half_loss_sample_share: float
    curve: ConcentrationCurve
    calibrated: CalibratedConcentration | None = None


@dataclass(frozen=True)
class LossAgainstBaseline:
    """Paired difference of each sample's log loss and its no-skill loss, and the loss a
    calibrated model with these probabilities would have.

    Attributes
    ----------
    difference, se, ci_low, ci_high : float
        Mean difference (nats per sample), its standard error and normal interval.
    calibrated_loss, calibrated_se : float
        The expected log loss of labels drawn from the probabilities, and its standard error.
    calibrated_p_value : float
        How surprising the observed loss is against it (one-sided, normal).
    """

    difference: float
    se: float
    ci_low: float
    ci_high: float
    calibrated_loss: float
    calibrated_se: float
    calibrated_p_value: float


@dataclass(frozen=True)
class AccuracyAgainstMajority:
    """Paired test of the accuracy against always predicting the majority class.

    Attributes
    ----------
    difference : float
        Accuracy minus the majority class's share.
    gained, lost : float
        Weight the model gets right on minority classes, and gets wrong on the majority.
    p_value : float
        McNemar's exact two-sided test on those counts (effective samples).
    """

    difference: float
    gained: float
    lost: float
    p_value: float


@dataclass(frozen=True)
class CalibrationInTheLarge:
    """Score test of calibration-in-the-large (binary): mean label against mean probability.

    Attributes
    ----------
    mean_label, mean_probability : float
    residual, se : float
        Mean label minus mean probability, and its standard error under calibration.
    p_value : float
        Two-sided, normal.
    """

    mean_label: float
    mean_probability: float
    residual: float
    se: float
    p_value: float


@dataclass(frozen=True)
class ThresholdBand:
    """Binary predictions within ``band`` of the threshold, and the accuracy they hold.

    Attributes
    ----------
    band : float
        Half-width of the band around the threshold.
    count, share : float
        Their weight and its share of the total.
    correct, wrong : float
        Their weight decided right and wrong.
    accuracy_if_all_flipped, accuracy_low, accuracy_high : float
        The accuracy if every decision in the band flipped, and its range over any flips.
    """

    band: float
    count: float
    share: float
    correct: float
    wrong: float
    accuracy_if_all_flipped: float
    accuracy_low: float
    accuracy_high: float


@dataclass(frozen=True)
class Diagnostics:
    """The diagnostics section of an :class:`~lossgap.results.evaluation.Evaluation`.

    Attributes
    ----------
    majority_accuracy : float
        The share of the most frequent class.
    effective_n : float
        Kish's effective number of samples.
    infinite_count : int
        Samples whose true class got probability exactly 0.
    confident_errors : ConfidentErrors
    loss_concentration : LossConcentration
    loss_against_baseline : LossAgainstBaseline
    accuracy_against_majority : AccuracyAgainstMajority
    calibration_in_the_large : CalibrationInTheLarge or None
        Binary only.
    threshold_band : ThresholdBand or None
        Binary only.
    label_errors : LabelErrors or None
        The label-error test and candidates (set by the explanation engine).
    ece_binning : str
        The bins of the binned ECE, in words (set by the explanation engine).
    calibration_test : CalibrationTest or None
        The likelihood-ratio test of calibration of the whole (set by the explanation
        engine).
    """

    majority_accuracy: float
    effective_n: float
    infinite_count: int
    confident_errors: ConfidentErrors
    loss_concentration: LossConcentration
    loss_against_baseline: LossAgainstBaseline
    accuracy_against_majority: AccuracyAgainstMajority
    calibration_in_the_large: CalibrationInTheLarge | None
    threshold_band: ThresholdBand | None
    label_errors: LabelErrors | None = None
    ece_binning: str = ""
    calibration_test: CalibrationTest | None = None

    def to_dict(self) -> dict[str, Any]:
        """The ``diagnostics`` object of ``docs/json.md``.

        ``label_errors.candidates`` lists at most :data:`MAX_JSON_CANDIDATES`, the least
        likely labels first; ``candidates_total`` and ``candidates_listed`` count them.
        """
        facts = self.label_errors
        if facts is None:
            return asdict(self)
        found = facts.candidates
        listed = None if found is None else found[:MAX_JSON_CANDIDATES].to_records()
        out = asdict(replace(self, label_errors=replace(facts, candidates=None)))
        out["label_errors"]["candidates"] = listed
        out["label_errors"]["candidates_total"] = None if found is None else len(found)
        out["label_errors"]["candidates_listed"] = None if listed is None else len(listed)
        return out
