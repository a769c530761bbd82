"""Pure estimates: proportions with Wilson / Clopper-Pearson intervals, means, IIA."""

from causalabs.metrics.estimate import Estimate, mean, proportion
from causalabs.metrics.iia import IIA, IIAReport, iia

__all__ = ["IIA", "Estimate", "IIAReport", "iia", "mean", "proportion"]
