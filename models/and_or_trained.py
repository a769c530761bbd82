"""Trained two-AND-one-OR circuit: ``out = (a AND b) OR (c AND d)``, a DAS search that needs its epochs.

Inputs ``a, b, c, d`` in ``{0, 1}`` are fed as four floats.

====  ===================  ==================================================
name  module               role
====  ===================  ==================================================
"0"   Linear(4, 16)
"1"   ReLU                 where DAS looks: ``g1`` and ``g2`` on one rotated
                           coordinate each
"2"   Linear(16, 16)
"3"   ReLU
"4"   Linear(16, 2)        logits of ``out = 0, 1``
====  ===================  ==================================================

Training (:func:`train`): all 16 inputs, full batch, Adam, a fixed seed,
:data:`STEPS` steps; the network is exact on every input.  Its mechanism is
not known by construction: :func:`build` runs DAS at layer ``"1"`` the way
``causalabs verify --search das --site 1`` does (training pairs from
:func:`causalabs.align.find.find_alignment`, with the settings pinned here)
and commits the learned ``16 x 2`` basis once an exhaustive check verifies
``AndOr`` under it; :func:`alignment` returns it.

Why it is here: a DAS search at layer ``"1"`` converges slowly on this
network.  Five epochs (the search's old fixed default) reach an alignment
that fails 11 of the 4,096 ``g1+g2`` pairs, so a search that stops there
refutes a claim that a longer search verifies (``docs/alignment.md``).

Regenerate with ``python models/and_or_trained.py --write`` (a few seconds
on one CPU thread; bit-identical on the same machine and torch build).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, Rotation, argmax_decoder, site

HYPOTHESES = "hypotheses/and_or.py"
TASK = "two ANDs into an OR: out = (a AND b) OR (c AND d), a, b, c, d in {0, 1}"
WIDTH = 16  # hidden width
SEED = 10
STEPS = 2_000  # full-batch Adam steps on the 16 inputs
LR = 1e-2
#: Where DAS looks, and the search settings the committed basis was found with (pinned: not the defaults).
DAS_SITE = "1"
DAS_EPOCHS = 50
DAS_PATIENCE = 5
DAS_LR = 3e-2
DAS_SAMPLES = 512


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without trained weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(4, WIDTH, device=device),
        nn.ReLU(),
        nn.Linear(WIDTH, WIDTH, device=device),
        nn.ReLU(),
        nn.Linear(WIDTH, 2, device=device),
    )


def encode(batch: Mapping[str, np.ndarray]) -> torch.Tensor:
    """a, b, c, d as four floats per row."""
    return org.bits(batch, ("a", "b", "c", "d"))


def all_inputs() -> dict[str, np.ndarray]:
    """The 16 inputs, ``a`` the most significant bit."""
    i = np.arange(16)
    return {k: ((i >> s) & 1).astype(np.int64) for k, s in zip("abcd", (3, 2, 1, 0))}


def labels(batch: Mapping[str, np.ndarray]) -> np.ndarray:
    """The task's answer ``(a AND b) OR (c AND d)`` as 0/1."""
    return ((batch["a"] & batch["b"]) | (batch["c"] & batch["d"])).astype(np.int64)


def train(seed: int = SEED) -> tuple[nn.Sequential, float]:
    """Train the MLP from ``seed`` on one CPU thread; returns (module, accuracy on the 16 inputs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        module = architecture("cpu")
        data = all_inputs()
        x, y = encode(data), torch.as_tensor(labels(data))
        opt = torch.optim.Adam(module.parameters(), lr=LR)
        for _ in range(STEPS):
            loss = nn.functional.cross_entropy(module(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
        with torch.no_grad():
            accuracy = float((module(x).argmax(-1) == y).float().mean())
        return module, accuracy
    finally:
        torch.set_num_threads(threads)


def fit_alignment(network: Network, *, seed: int = 0) -> tuple[torch.Tensor, dict[str, str]]:
    """DAS at layer ``"1"`` as ``verify --search das --site 1`` runs it; the 16 x 2 basis and how training went."""
    from causalabs.align.find import find_alignment
    from causalabs.loading import load_hypothesis
    from causalabs.organisms import resolve_ref
    from causalabs.verification import verify

    hyp = load_hypothesis(resolve_ref(f"{HYPOTHESES}:AndOr", __file__))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        found = find_alignment(
            hyp, network, DAS_SITE, samples=DAS_SAMPLES, epochs=DAS_EPOCHS, lr=DAS_LR, patience=DAS_PATIENCE, seed=seed
        )
        report = verify(hyp, network, Alignment(found.sites))
        if report.verdict != "verified":
            raise RuntimeError(f"and_or_trained: the DAS alignment is not exact: {report.reason}")
        featurizer = found.sites["g1"].subspace.featurizer
        basis = featurizer.basis(0, 2).detach().to(torch.float32).contiguous()
        fit = found.info["training"][0]
        meta = {"das_epochs": str(fit["epochs"]), "das_best_epoch": str(fit["best_epoch"]), "das_iia": "1"}
        return basis, meta
    finally:
        torch.set_num_threads(threads)


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Train, then fit DAS; the tensors (module state, ``das_basis``) and string metadata."""
    module, accuracy = train(SEED)
    if accuracy < 1.0:
        raise RuntimeError(f"and_or_trained: accuracy {accuracy} on the 16 inputs")
    network = Network(module, encode, argmax_decoder((0, 1)), name="and_or_trained")
    basis, das = fit_alignment(network)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    state["das_basis"] = basis
    meta = {"organism": "and_or_trained", "construction": f"trained, seed {SEED}", "accuracy": "1", **das}
    return state, meta


def _tensors() -> dict[str, torch.Tensor]:
    return org.load_weights(org.weights_path(__file__))


def alignment() -> Alignment:
    """The committed DAS alignment: ``g1`` on rotated coordinate [0:1], ``g2`` on [1:2] of layer "1"."""
    rot = Rotation(_tensors()["das_basis"])
    return Alignment({"g1": site(DAS_SITE, featurizer=rot, dims=(0, 1)), "g2": site(DAS_SITE, featurizer=rot, dims=(1, 2))})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    tensors = _tensors()
    module = org.load_module_state(architecture(), tensors, extras=("das_basis",))
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:AndOr",
        wrong=[f"{HYPOTHESES}:SwappedAnds"],
        alignment=alignment(),
        accuracy=1.0,
        description=(
            "trained MLP (2 x 16 ReLU) on the 16 inputs; alignment found by DAS at layer '1' "
            "(g1, g2 one rotated coordinate each) and verified exhaustively"
        ),
    )
    info["measured"] = org.read_metadata(org.weights_path(__file__))
    return Network(module, encode, argmax_decoder((0, 1)), name="and_or_trained", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
