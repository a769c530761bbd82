"""The pyvene side of bench_das.py: a standard pyvene DAS loop, and its rotation read back as a causalabs alignment."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from _das_case import DIMS, SITE, schedule_batches, spans

import heq_trained
from causalabs.align.rotation import LearnedRotation
from causalabs.backends import pyvene_interop as pvi
from causalabs.network import Alignment, Network, Rotation
from causalabs.network.sites import Site, Subspace


# --- pyvene ---------------------------------------------------------------------------------


def pyvene_das(
    network: Network,
    datasets: list[Any],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    stamps: list[float] | None = None,
) -> tuple[Any, list[float]]:
    """The pyvene DAS loop; returns (the trained RotatedSpaceIntervention, mean loss per epoch)."""
    torch.manual_seed(seed)
    sp = spans()
    variables = list(DIMS)
    init = LearnedRotation(
        heq_trained.WIDTH, seed=seed
    ).frozen()  # fit_das's initial rotation
    placeholder = Rotation(init, check=False)
    sites = [
        Site(SITE, "output", None, Subspace(featurizer=placeholder, dims=sp[v]))
        for v in variables
    ]
    model = pvi.build_intervenable(
        network, sites
    )  # net.1.output, one RotatedSpaceIntervention per variable
    ivs = list(model.interventions.values())
    for iv in ivs[1:]:
        iv.rotate_layer = ivs[0].rotate_layer  # one shared rotation
    params = list(ivs[0].rotate_layer.parameters())
    for p in network.module.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(params, lr=lr)
    # tensors once, as pyvene's tutorials build their datasets
    enc = []
    for ds in datasets:
        base = pvi.pyvene_inputs(network, ds.base, direct=False)["__tensor__"]
        srcs = {
            v: pvi.pyvene_inputs(network, ds.sources[v], direct=False)["__tensor__"]
            for v in ds.intervened
        }
        enc.append(
            (base, srcs, torch.tensor(np.asarray(ds.expected)), tuple(ds.intervened))
        )
    subspace_of = {v: list(range(*sp[v])) for v in variables}
    losses = []
    for batches in schedule_batches(datasets, batch_size, epochs, seed):
        total, count = 0.0, 0
        for d, idx in batches:
            base, srcs, expected, intervened = enc[d]
            tidx = torch.as_tensor(idx)
            n = len(idx)
            sources = [
                {"__tensor__": srcs[v][tidx]} if v in intervened else None
                for v in variables
            ]
            subspaces = [
                [subspace_of[v]] * n if v in intervened else None for v in variables
            ]
            _, out = model(
                {"__tensor__": base[tidx]},
                sources,
                unit_locations={
                    "sources->base": ([None] * len(variables), [None] * len(variables))
                },
                subspaces=subspaces,
            )
            loss = torch.nn.functional.cross_entropy(
                out, expected[tidx]
            )  # classes (0, 1) are logit columns
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * n
            count += n
        losses.append(total / max(count, 1))
        if stamps is not None:
            stamps.append(time.perf_counter())
    return ivs[0], losses


def pyvene_alignment(iv: Any) -> Alignment:
    sp = spans()
    first = pvi.from_pyvene_rotation(iv, SITE, sp["left"])
    f = first.subspace.featurizer
    return Alignment(
        {
            v: Site(SITE, "output", None, Subspace(featurizer=f, dims=sp[v]))
            for v in DIMS
        }
    )
