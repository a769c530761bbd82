"""Pure estimates: proportions with Wilson / Clopper-Pearson intervals, one-sided decision bounds, means, IIA."""

from causalabs.metrics.bounds import cp_lower, cp_upper, pairs_to_decide
from causalabs.metrics.estimate import Estimate, decision_bounds, exact_count, mean, proportion
from causalabs.metrics.accuracy import IIA, IIAReport, iia

__all__ = [
    "IIA", "Estimate", "IIAReport", "cp_lower", "cp_upper", "decision_bounds", "exact_count", "iia", "mean",
    "pairs_to_decide", "proportion",
]
