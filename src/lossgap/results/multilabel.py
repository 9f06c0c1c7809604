"""The result of a multilabel evaluation: one binary evaluation per label, and summaries."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lossgap.results.display import Displayable
from lossgap.results.evaluation import Evaluation, Finding, json_safe


@dataclass(frozen=True, repr=False)
class MultilabelEvaluation(Displayable):
    """A multilabel evaluation: each label a binary problem, with micro and macro summaries.

    Attributes
    ----------
    labels : list of str
        The label names, in column order.
    evaluations : list of Evaluation
        Each label's full explanation (its classes are 0 and 1).
    micro : Evaluation
        Every (sample, label) pair pooled into one binary problem.
    macro : dict of str to float
        The unweighted mean over labels of each metric.
    loss_share : list of float
        Each label's share of the summed log loss (capped losses).
    findings : list of Finding
        The labels that carry the loss, and each label's findings under its name.
    """

    labels: list[str]
    evaluations: list[Evaluation]
    micro: Evaluation
    macro: dict[str, float]
    loss_share: list[float]
    findings: list[Finding] = field(default_factory=list)

    def evaluation(self, label: str) -> Evaluation:
        """The evaluation of ``label``."""
        return self.evaluations[self.labels.index(label)]

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``docs/json.md`` (``task`` is ``"multilabel"``)."""
        return json_safe(
            {
                "task": "multilabel",
                "n": self.micro.n // max(len(self.labels), 1),
                "labels": [
                    {"label": name, "loss_share": share, **ev.to_dict()}
                    for name, share, ev in zip(
                        self.labels, self.loss_share, self.evaluations, strict=True
                    )
                ],
                "micro": {
                    "metrics": self.micro.to_dict()["metrics"],
                    "decomposition": self.micro.to_dict()["decomposition"],
                },
                "macro": self.macro,
                "findings": [asdict(f) for f in self.findings],
            }
        )
