"""The training settings of DAS and Boundless DAS, defined once for every entry point.

``fit_das``, ``fit_boundless``, the sweep's :class:`~causalabs.align.sweep.DAS`,
:func:`~causalabs.align.find.find_alignment`, ``causalabs search`` and
``causalabs verify --search`` all take their defaults from
:data:`DAS_SETTINGS` (Boundless DAS too, plus its own :data:`BOUNDARY_LR`);
nothing else in the package spells these numbers (a test checks every
signature and CLI option against them).  This module imports nothing heavy, so the command line can
read it without loading torch.
"""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class TrainingSettings:
    """How an interchange-intervention training runs and when it stops.

    ``lr``: Adam's step size.  ``batch_size``: pairs per step (every batch
    from one dataset).  ``epochs``: the cap on passes over the training pairs.
    ``patience``: stop once this many epochs in a row bring no improvement on
    the held-out pairs (``None``: run all ``epochs``, hold nothing out).
    ``holdout``: the fraction of each training dataset's pairs held out to
    judge improvement.  ``min_delta``: at equal held-out IIA, the held-out
    loss must fall by this fraction of its best value to count as an
    improvement.
    """

    lr: float
    batch_size: int
    epochs: int
    patience: int | None
    holdout: float
    min_delta: float


#: DAS (:func:`causalabs.align.das.fit_das`) and Boundless DAS (:func:`causalabs.align.boundless.fit_boundless`,
#: whose ``lr`` is the rotation's step size).
DAS_SETTINGS = TrainingSettings(lr=3e-2, batch_size=64, epochs=50, patience=5, holdout=0.2, min_delta=0.01)

#: Boundless DAS only: the step size of the interval boundaries.
BOUNDARY_LR = 5e-2

__all__ = ["BOUNDARY_LR", "DAS_SETTINGS", "TrainingSettings"]
