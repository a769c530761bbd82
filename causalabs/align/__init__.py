"""Alignment search: DAS, Boundless DAS, baselines, site sweeps, and alignment files.

The names below load on first use, so ``causalabs.align.settings`` (the
training defaults, read by the command line) imports without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from causalabs._lazy import lazy_exports

#: Public names: name -> submodule that defines it.
_LAZY = {
    "BaselineResult": "baselines",
    "all_alignments": "baselines",
    "evaluate_alignment": "baselines",
    "full_site": "baselines",
    "neuron_closest": "baselines",
    "neuron_contiguous": "baselines",
    "neuron_greedy": "baselines",
    "pca_alignment": "baselines",
    "random_init_control": "baselines",
    "reinitialised": "baselines",
    "BoundlessResult": "boundless",
    "fit_boundless": "boundless",
    "DASResult": "das",
    "fit_das": "das",
    "find_alignment": "find",
    "LearnedRotation": "rotation",
    "DAS_SETTINGS": "settings",
    "TrainingSettings": "settings",
    "load_alignment": "store",
    "network_fingerprint": "store",
    "save_alignment": "store",
    "save_das": "store",
    "DAS": "sweep",
    "FullSite": "sweep",
    "SweepRecord": "sweep",
    "SweepResult": "sweep",
    "grid": "sweep",
}

# The sweep function stays in causalabs.align.sweep (`from causalabs.align.sweep import sweep`):
# re-exporting it here would shadow the submodule of the same name.

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
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
    from causalabs.align.settings import DAS_SETTINGS, TrainingSettings
    from causalabs.align.store import load_alignment, network_fingerprint, save_alignment, save_das
    from causalabs.align.sweep import DAS, FullSite, SweepRecord, SweepResult, grid


__getattr__, __dir__ = lazy_exports(__name__, {name: f"{__name__}.{module}" for name, module in _LAZY.items()},
                                     globals())


__all__ = sorted(_LAZY)
