"""Random-weights control: DAS on an untrained, seeded re-initialisation of the same architecture.

Expressive alignments can reach high IIA on networks that compute nothing
(Sutter et al. 2025); a DAS score means little unless the same search on
random weights scores low.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import torch

from causalabs.align.das import DASResult, fit_das
from causalabs.errors import AlignmentError
from causalabs.network.network import Network
from causalabs.network.sites import Site


def reinitialised(network: Network, seed: int) -> Network:
    """A copy of ``network`` whose every submodule with ``reset_parameters`` is re-initialised from ``seed``.

    Submodules are reset in ``module.modules()`` order, on the CPU (so the
    weights are the same whatever the device), then the copy is moved to the
    network's device.  The original network and torch's global random state
    are left as they were.  The copy's ``info`` keeps only where it came
    from: the original's metadata (accuracy, alignment) does not hold for it.
    """
    device = network.device
    module = copy.deepcopy(network.module).to("cpu")
    touched = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with torch.no_grad():
            for m in module.modules():
                reset = getattr(m, "reset_parameters", None)
                if callable(reset):
                    reset()
                    touched += 1
    if touched == 0:
        raise AlignmentError(f"random_init_control: {network.name} has no submodule with reset_parameters()")
    for p in module.parameters():
        p.requires_grad_(False)
    module.to(device).eval()
    info = {"reinitialised_from": network.name, "reinitialised_seed": seed}
    return attrs.evolve(network, module=module, name=f"{network.name} (random init, seed {seed})", info=info)


def random_init_control(
    network: Network,
    location: Site,
    dims: Mapping[Any, int],
    train: Sequence[Any],
    *,
    init_seed: int = 0,
    **das_options: Any,
) -> tuple[Network, DASResult]:
    """``fit_das`` with the same arguments on :func:`reinitialised` (``network``, ``init_seed``).

    Returns the random network (score the alignment on it, not on the
    trained one) and the DAS result.
    """
    random_net = reinitialised(network, init_seed)
    return random_net, fit_das(random_net, location, dims, train, **das_options)

