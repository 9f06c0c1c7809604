"""The terms lossgap's answers use, each in a few plain words.

``docs/glossary.md`` explains the same terms at more length (a test keeps the two in
step); the HTML reports and notebook answers carry this short version.
"""

from __future__ import annotations

#: Term -> a plain explanation of one or two sentences.
TERMS: dict[str, str] = {
    "log loss": (
        "Also called cross-entropy: the average of -ln(probability given to the true class). "
        "0 is perfect; one confident error can cost more than many correct answers earn. "
        "Measured in nats (natural logarithms)."
    ),
    "no-skill loss": (
        "The log loss of always predicting the class frequencies (ln 2 = 0.6931 for two "
        "balanced classes). A loss above it means the probabilities are worse than no model."
    ),
    "accuracy": "The share of correct decisions at the threshold (p >= 0.5, or the most "
    "probable class).",
    "interval": (
        "The range the true value lies in with the stated confidence (95% by default), "
        "given the sampling noise of a finite test set."
    ),
    "calibrated": (
        "Probabilities that match frequencies: of the predictions at 0.8, about 80% are "
        "right."
    ),
    "overconfident": "Probabilities more extreme than the model's record justifies: its "
    "confident errors cost a large loss.",
    "calibration slope": (
        "The slope of a logistic fit of the labels on the model's logits: 1 for a "
        "calibrated model, below 1 when it is overconfident, above 1 when underconfident."
    ),
    "confident error": "A wrong decision made with high confidence (the true class got at "
    "most 10%).",
    "temperature scaling": (
        "Dividing the logits by one number T, fitted on held-out data: it softens (T > 1) or "
        "sharpens the probabilities and changes no decision."
    ),
    "cross-fitted": (
        "Fitted on some folds of the data and judged on the others, so the gain is not "
        "flattered by fitting and judging on the same samples."
    ),
    "ECE": "Expected calibration error: the average gap between confidence and accuracy "
    "over bins of predictions.",
    "Brier score": "The mean squared difference between the probabilities and the 0/1 "
    "outcomes; like log loss, but bounded.",
    "ROC AUC": "The chance that a random positive gets a higher score than a random negative "
    "(0.5 = guessing, 1 = perfect ranking).",
    "miscalibration, discrimination, uncertainty": (
        "The log loss split in three: loss that recalibration would remove "
        "(miscalibration, MCB), information the ranking carries (discrimination, DSC) and "
        "the no-skill loss (uncertainty, UNC): loss = MCB - DSC + UNC."
    ),
    "normalized entropy": "The log loss divided by the no-skill loss: 1 means no skill, "
    "0 perfect.",
    "flip": "A sample one model gets right and the other wrong; flips near the threshold "
    "move accuracy without moving the loss much.",
    "p-value": (
        "How often a difference this large would appear by chance alone; below 0.05 it is "
        "called real. Holm's correction adjusts it for the number of comparisons."
    ),
    "smoothed curve": "The logged values averaged over a few neighbouring epochs, so one "
    "noisy epoch does not decide.",
    "sampling noise": "How much a number would change on another test set of the same "
    "size.",
}
