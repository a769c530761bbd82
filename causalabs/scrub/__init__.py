"""Causal scrubbing (Chan et al. 2022) and path patching (Wang et al. 2022).

``scrub(network, hypothesis, alignment, inputs)`` resamples every claimed
site from an input that agrees with the hypothesis and everything else
from random inputs, and reports how much of the loss the hypothesis
recovers.  ``path_patch`` is the two-input special case for one sender and
chosen receivers.  See ``docs/scrubbing.md``.
"""

from causalabs.scrub.claims import (
    Correspondence,
    check_order,
    correspondence,
    execution_order,
)
from causalabs.scrub.path_patching import PathPatchResult, path_patch
from causalabs.scrub.plan import ScrubPlan, TreeNode
from causalabs.scrub.references import References, draw_references
from causalabs.scrub.result import ScrubResult, agreement_warning, judge
from causalabs.scrub.sampling import AgreeingSampler
from causalabs.scrub.resampling import scrub

__all__ = [
    "AgreeingSampler",
    "Correspondence",
    "PathPatchResult",
    "References",
    "ScrubPlan",
    "ScrubResult",
    "TreeNode",
    "agreement_warning",
    "check_order",
    "correspondence",
    "draw_references",
    "execution_order",
    "judge",
    "path_patch",
    "scrub",
]
