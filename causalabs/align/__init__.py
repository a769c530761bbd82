"""Alignment search: DAS, Boundless DAS, baselines, site sweeps, and alignment files."""

from causalabs.align.baselines import (
    BaselineResult,
    all_alignments,
    evaluate_alignment,
    full_site,
    neuron_closest,
    neuron_contiguous,
    neuron_greedy,
    pca_alignment,
    random_init_control,
    reinitialised,
)
from causalabs.align.boundless import BoundlessResult, fit_boundless
from causalabs.align.das import DASResult, fit_das
from causalabs.align.find import find_alignment
from causalabs.align.rotation import LearnedRotation
from causalabs.align.store import load_alignment, network_fingerprint, save_alignment, save_das
from causalabs.align.sweep import DAS, FullSite, SweepRecord, SweepResult, grid

# The sweep function stays in causalabs.align.sweep (`from causalabs.align.sweep import sweep`):
# re-exporting it here would shadow the submodule of the same name.

__all__ = [
    "DAS",
    "BaselineResult",
    "BoundlessResult",
    "DASResult",
    "FullSite",
    "LearnedRotation",
    "SweepRecord",
    "SweepResult",
    "all_alignments",
    "evaluate_alignment",
    "fit_boundless",
    "find_alignment",
    "fit_das",
    "full_site",
    "grid",
    "load_alignment",
    "network_fingerprint",
    "neuron_closest",
    "neuron_contiguous",
    "neuron_greedy",
    "pca_alignment",
    "random_init_control",
    "reinitialised",
    "save_alignment",
    "save_das",
]
