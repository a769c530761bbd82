"""Causal scrubbing (Chan et al. 2022) and path patching (Wang et al. 2022).

``scrub(network, hypothesis, alignment, inputs)`` resamples every claimed
site from an input that agrees with the hypothesis and everything else
from random inputs, and reports how much of the loss the hypothesis
recovers.  ``path_patch`` is the two-input special case for one sender and
chosen receivers.  See ``docs/scrubbing.md``.
"""

from causalabs.scrub.correspondence import (
    Correspondence,
    check_order,
    correspondence,
    execution_order,
)
from causalabs.scrub.path_patching import PathPatchResult, path_patch
from causalabs.scrub.plan import ScrubPlan, TreeNode
from causalabs.scrub.result import ScrubResult
from causalabs.scrub.sampling import AgreeingSampler
from causalabs.scrub.scrub import scrub

__all__ = [
    "AgreeingSampler",
    "Correspondence",
    "PathPatchResult",
    "ScrubPlan",
    "ScrubResult",
    "TreeNode",
    "check_order",
    "correspondence",
    "execution_order",
    "path_patch",
    "scrub",
]
