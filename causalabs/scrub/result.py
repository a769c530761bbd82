"""``ScrubResult``: scrubbed, original and random losses, loss recovered, accuracy -- with intervals."""

from __future__ import annotations

import math
from typing import Any

import attrs
import numpy as np
import torch

from causalabs.errors import ScrubError
from causalabs.metrics.estimate import Estimate, mean, proportion
from causalabs.network.network import Decoded


def label_losses(
    decoded: Decoded, labels: np.ndarray, *, where: str, loss: str = "cross-entropy"
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row loss of ``labels`` and whether the decoded value is right.

    ``loss="cross-entropy"``: the cross-entropy under ``decoded.scores``;
    ``loss="error"``: 0 where the decoded value equals the label, else 1
    (for decoders that give no scores).
    """
    correct = decoded.values.detach().cpu().numpy() == labels
    if loss == "error":
        return (~correct).astype(np.float64), correct
    if loss != "cross-entropy":
        raise ScrubError(f"{where}: loss must be 'cross-entropy' or 'error', got {loss!r}")
    if decoded.scores is None or decoded.classes is None:
        raise ScrubError(
            f"{where}: the network's decoder gives no scores/classes; cross-entropy needs them (use loss='error')"
        )
    classes = np.asarray(decoded.classes)
    col = np.searchsorted(np.sort(classes), labels)
    sorter = np.argsort(classes)
    col = sorter[np.minimum(col, len(classes) - 1)]
    bad = classes[col] != labels
    if bad.any():
        raise ScrubError(
            f"{where}: label {int(labels[bad][0])} is not among the decoder's classes {tuple(decoded.classes)}"
        )
    logp = torch.log_softmax(decoded.scores.detach().double(), dim=-1).cpu().numpy()
    return -logp[np.arange(len(labels)), col], correct


def _se(values: np.ndarray) -> float:
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


@attrs.frozen(eq=False, repr=False)
class ScrubResult:
    """Outcome of :func:`causalabs.scrub.scrub` over ``n`` references.

    Losses are mean cross-entropies of the hypothesis' output label on each
    reference: ``loss_scrubbed`` under resampling, ``loss_original`` with no
    resampling, ``loss_random`` with the output computed on random inputs.
    ``loss_recovered = (L_random - L_scrubbed) / (L_random - L_original)``
    with a seeded bootstrap interval over references.  ``se`` holds the
    standard error of each estimate; ``per_reference`` the raw arrays.
    """

    hypothesis: str
    correspondence: str
    n: int
    seed: int
    loss_scrubbed: Estimate
    loss_original: Estimate
    loss_random: Estimate
    loss_recovered: Estimate
    accuracy: Estimate
    accuracy_original: Estimate
    se: dict[str, float]
    passes_per_batch: int
    dropped: int
    per_reference: dict[str, np.ndarray] = attrs.field(repr=False)
    #: how the passes ran: "suffix" (every pass -- the final one and each inner level -- on cached
    #: prefixes, running only the layers after its children's sites), "patch" (``suffix=False``: full
    #: patched passes), "patch: <why>" (every pass in full, for that one reason), or, when the passes
    #: differ, the final pass's status then "; height H: <status>" for each inner level
    execution: str = "patch"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no per-reference arrays)."""
        out: dict[str, Any] = {
            "hypothesis": self.hypothesis,
            "correspondence": self.correspondence,
            "n": self.n,
            "seed": self.seed,
            "passes_per_batch": self.passes_per_batch,
            "dropped": self.dropped,
            "execution": self.execution,
            "se": dict(self.se),
        }
        for k in ("loss_scrubbed", "loss_original", "loss_random", "loss_recovered", "accuracy", "accuracy_original"):
            out[k] = getattr(self, k).to_dict()
        return out

    def __repr__(self) -> str:
        rec = self.loss_recovered
        return (f"<ScrubResult {self.hypothesis}: loss recovered {rec.value:.4f} [{rec.lo:.4f}, {rec.hi:.4f}], "
                f"n={self.n}, seed={self.seed}>")

    def _repr_html_(self) -> str:
        """Jupyter's display: loss recovered with its interval (figure and table), the losses and accuracies."""
        from causalabs.scrub.display import repr_html

        return repr_html(self.to_dict())

    def __str__(self) -> str:
        return (
            f"causal scrubbing of {self.correspondence} (n={self.n}, seed={self.seed}):\n"
            f"  loss recovered {self.loss_recovered}\n"
            f"  L_scrubbed {self.loss_scrubbed}\n  L_original {self.loss_original}\n"
            f"  L_random {self.loss_random}\n  accuracy under scrubbing {self.accuracy}"
        )


#: Below this accuracy of the network on the references (against the hypothesis' output) a scrub warns and
#: does not verify: loss recovered is then measured against a network that does not compute the hypothesis.
MIN_ACCURACY = 0.99


def agreement_warning(result: ScrubResult, min_accuracy: float = MIN_ACCURACY) -> str | None:
    """A sentence when the unscrubbed network gives the hypothesis' output on less than ``min_accuracy`` of the references."""
    acc = result.accuracy_original
    if acc.value >= min_accuracy:
        return None
    wrong = acc.n - int(acc.successes if acc.successes is not None else round(acc.value * acc.n))
    return (
        f"the network gives {result.hypothesis}'s output on only {acc.value:.1%} of the references "
        f"({wrong:,} of {acc.n:,} disagree; interval [{acc.lo:.3f}, {acc.hi:.3f}], below {min_accuracy:g}): "
        "loss recovered compares scrubbing with a network that does not compute this hypothesis"
    )


def judge(result: ScrubResult, threshold: float, min_accuracy: float = MIN_ACCURACY) -> tuple[str, str]:
    """``(verdict, reason)`` on loss recovered at ``threshold``: verified iff the interval's lower bound >= threshold,
    refuted iff its upper bound < threshold, else inconclusive.

    A lower bound that clears the threshold while the network disagrees
    with the hypothesis' output on the references (:func:`agreement_warning`)
    is inconclusive, not verified; so is an estimate without an interval.
    """
    if not (math.isfinite(threshold) and 0.0 < threshold <= 1.0):
        raise ScrubError(f"scrub: threshold must be in (0, 1], got {threshold}")
    rec = result.loss_recovered
    if not (math.isfinite(rec.lo) and math.isfinite(rec.hi)):
        return "inconclusive", "loss recovered has no interval (L_random equals L_original on the references)"
    if rec.hi < threshold:
        return "refuted", f"loss recovered {rec.value:.4f}: upper bound {rec.hi:.4f} < {threshold:g}"
    if rec.lo >= threshold:
        if result.accuracy_original.value < min_accuracy:
            return "inconclusive", (
                f"loss recovered lower bound {rec.lo:.4f} >= {threshold:g}, but the network gives the hypothesis' "
                f"output on only {result.accuracy_original.value:.1%} of the references (below {min_accuracy:g})"
            )
        return "verified", f"loss recovered {rec.value:.4f}: lower bound {rec.lo:.4f} >= {threshold:g}"
    return "inconclusive", (
        f"loss recovered {rec.value:.4f}: interval [{rec.lo:.4f}, {rec.hi:.4f}] straddles {threshold:g}; "
        "more references would narrow it"
    )


def summarize(
    *,
    hypothesis: str,
    correspondence: str,
    seed: int,
    scrubbed: tuple[np.ndarray, np.ndarray],
    original: tuple[np.ndarray, np.ndarray],
    random: tuple[np.ndarray, np.ndarray],
    passes: int,
    dropped: int,
    confidence: float,
    bootstrap: int,
    execution: str = "patch",
) -> ScrubResult:
    """Estimates, standard errors and a seeded bootstrap interval for loss recovered."""
    ls, lo, lr = scrubbed[0], original[0], random[0]
    n = len(ls)
    if n == 0:
        raise ScrubError(f"{hypothesis}: no references left to scrub ({dropped} dropped)")
    denom = lr.mean() - lo.mean()
    value = float((lr.mean() - ls.mean()) / denom) if denom != 0 else math.nan
    rng = np.random.default_rng([seed, 0x5C4B])
    idx = rng.integers(0, n, size=(bootstrap, n))
    d = lr[idx].mean(1) - lo[idx].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        boots = (lr[idx].mean(1) - ls[idx].mean(1)) / d
    boots = boots[np.isfinite(boots)]
    tail = (1 - confidence) / 2
    if len(boots) > 1 and math.isfinite(value):
        lo_b, hi_b = (float(q) for q in np.quantile(boots, [tail, 1 - tail]))
        se_rec = float(boots.std(ddof=1))
    else:
        lo_b = hi_b = se_rec = math.nan
    recovered = Estimate(value, lo_b, hi_b, n, False, confidence, "bootstrap percentile")
    acc, acc0 = int(scrubbed[1].sum()), int(original[1].sum())
    se = {
        "loss_scrubbed": _se(ls),
        "loss_original": _se(lo),
        "loss_random": _se(lr),
        "loss_recovered": se_rec,
        "accuracy": math.sqrt(acc / n * (1 - acc / n) / n),
        "accuracy_original": math.sqrt(acc0 / n * (1 - acc0 / n) / n),
    }
    return ScrubResult(
        hypothesis=hypothesis,
        correspondence=correspondence,
        n=n,
        seed=seed,
        loss_scrubbed=mean(ls, confidence=confidence),
        loss_original=mean(lo, confidence=confidence),
        loss_random=mean(lr, confidence=confidence),
        loss_recovered=recovered,
        accuracy=proportion(acc, n, confidence=confidence),
        accuracy_original=proportion(acc0, n, confidence=confidence),
        se=se,
        passes_per_batch=passes,
        dropped=dropped,
        per_reference={"scrubbed": ls, "original": lo, "random": lr, "correct": scrubbed[1]},
        execution=execution,
    )
