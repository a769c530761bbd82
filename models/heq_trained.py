"""Trained hierarchical equality: the DAS paper's MLP (Geiger et al. 2023; pyvene's DAS tutorial).

Task: ``out = (w == x) == (y == z)`` where ``w, x, y, z`` are ids of objects
in a pool of 100; each object is a fixed random vector in ``[-1, 1]^4``
(seeded), and the network sees the four vectors concatenated (16 floats).

====  ===================  ==================================================
name  module               role
====  ===================  ==================================================
"0"   Linear(16, 16)
"1"   ReLU                 first hidden layer: where DAS looks (8 + 8 dims)
"2"   Linear(16, 16)
"3"   ReLU
"4"   Linear(16, 16)
"5"   ReLU
"6"   Linear(16, 2)        logits of ``out = 0, 1``
====  ===================  ==================================================

Training (:func:`train`): inputs where each pair is equal with probability
1/2 (so ``out`` is balanced), Adam, a fixed seed, until the held-out
accuracy is at least :data:`TARGET` both on balanced inputs never seen in
training and on uniformly drawn ids.  The mechanism is not known by
construction: :func:`build` then runs DAS (``causalabs.align.das.fit_das``)
at layer ``"1"`` with ``left`` on 8 and ``right`` on 8 rotated coordinates,
and commits the learned 16 x 16 basis with the weights; :func:`alignment`
returns it.  The weights file also holds the object vectors (``objects``)
and, as string metadata, the measured accuracies and IIA.

Regenerate with ``python models/heq_trained.py --write`` (about a minute on
one CPU thread; bit-identical on the same machine and torch build).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import _organism as org
import numpy as np
import torch
from torch import nn

from causalabs.network import Alignment, Network, Rotation, argmax_decoder, site

HYPOTHESES = "hypotheses/heq_pool.py"
TASK = "hierarchical equality: out = (w == x) == (y == z), w, x, y, z ids of 100 random 4-dim objects"
OBJECTS = 100  # pool size
DIM = 4  # object vector size
WIDTH = 16  # hidden width
SEED = 0
TARGET = 0.99  # held-out accuracy to reach
STOP = 0.995  # training stops once both held-out accuracies reach this
TRAIN_ROWS = 200_000
HELDOUT_ROWS = 20_000
BATCH = 256
LR = 3e-3
MAX_EPOCHS = 20
#: Where DAS looks, and how many rotated coordinates each variable gets.
DAS_SITE = "1"
DAS_DIMS = {"left": 8, "right": 8}
DAS_ROWS = 4_000  # counterfactual training pairs per intervened-variable set
DAS_EPOCHS = 5  # a fixed number of epochs on every pair (patience=None): the recipe the committed basis records
DAS_BATCH = 64
DAS_LR = 3e-2
Batch = dict[str, np.ndarray]


def architecture(device: str | torch.device = "meta") -> nn.Sequential:
    """The layers, without trained weights (on the meta device unless asked otherwise)."""
    return nn.Sequential(
        nn.Linear(4 * DIM, WIDTH, device=device),
        nn.ReLU(),
        nn.Linear(WIDTH, WIDTH, device=device),
        nn.ReLU(),
        nn.Linear(WIDTH, WIDTH, device=device),
        nn.ReLU(),
        nn.Linear(WIDTH, 2, device=device),
    )


def make_objects(seed: int = SEED) -> torch.Tensor:
    """The pool: ``OBJECTS`` vectors uniform in ``[-1, 1]^DIM`` from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(OBJECTS, DIM, generator=g) * 2 - 1


def balanced_inputs(n: int, seed: int) -> Batch:
    """``n`` inputs where ``w == x`` and ``y == z`` each hold with probability 1/2, independently."""
    rng = np.random.default_rng(seed)
    w = rng.integers(0, OBJECTS, n)
    y = rng.integers(0, OBJECTS, n)
    x = np.where(rng.random(n) < 0.5, w, (w + rng.integers(1, OBJECTS, n)) % OBJECTS)
    z = np.where(rng.random(n) < 0.5, y, (y + rng.integers(1, OBJECTS, n)) % OBJECTS)
    return {k: v.astype(np.int64) for k, v in zip("wxyz", (w, x, y, z))}


def uniform_inputs(n: int, seed: int) -> Batch:
    """``n`` inputs with independent uniform ids (``w == x`` on about 1% of them)."""
    rng = np.random.default_rng(seed)
    return {k: rng.integers(0, OBJECTS, n).astype(np.int64) for k in "wxyz"}


def labels(batch: Mapping[str, np.ndarray]) -> np.ndarray:
    """The task's answer ``(w == x) == (y == z)`` as 0/1."""
    return ((batch["w"] == batch["x"]) == (batch["y"] == batch["z"])).astype(np.int64)


def _keys(batch: Mapping[str, np.ndarray]) -> np.ndarray:
    return ((batch["w"] * OBJECTS + batch["x"]) * OBJECTS + batch["y"]) * OBJECTS + batch["z"]


def _take(batch: Mapping[str, np.ndarray], mask: np.ndarray) -> Batch:
    return {k: np.ascontiguousarray(v[mask]) for k, v in batch.items()}


def make_encoder(objects: torch.Tensor) -> Callable[[Mapping[str, np.ndarray]], torch.Tensor]:
    """``encode``: the four object vectors concatenated (16 floats per row)."""
    table = objects.detach().to(torch.float32).clone()

    def encode(batch: Mapping[str, np.ndarray]) -> torch.Tensor:
        return torch.cat([table[torch.tensor(np.asarray(batch[k]), dtype=torch.long)] for k in "wxyz"], dim=1)

    return encode


def heldout_sets() -> tuple[Batch, Batch]:
    """(balanced held-out inputs, uniform inputs) used to judge training; training never sees the first."""
    return balanced_inputs(HELDOUT_ROWS, SEED + 2), uniform_inputs(HELDOUT_ROWS, SEED + 3)


@torch.no_grad()
def accuracy(module: nn.Module, encode: Any, batch: Mapping[str, np.ndarray]) -> float:
    """Fraction of rows on which ``module`` gives the task's answer."""
    pred = module(encode(batch)).argmax(-1).numpy()
    return float(np.mean(pred == labels(batch)))


def train(seed: int = SEED, *, verbose: bool = False) -> tuple[nn.Sequential, torch.Tensor, dict[str, float]]:
    """Train the MLP from ``seed``; returns (module, object vectors, metrics).

    Runs on one CPU thread (restored afterwards) so the weights are the same
    to the bit from run to run.  Raises RuntimeError if the held-out
    accuracy does not reach :data:`TARGET` within :data:`MAX_EPOCHS`.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        objects = make_objects(seed)
        encode = make_encoder(objects)
        heldout, uniform = heldout_sets()
        data = balanced_inputs(TRAIN_ROWS, seed + 1)
        data = _take(data, ~np.isin(_keys(data), _keys(heldout)))  # held-out rows are never trained on
        x, y = encode(data), torch.as_tensor(labels(data))
        torch.manual_seed(seed)
        module = architecture("cpu")
        for m in module:
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(module.parameters(), lr=LR)
        metrics: dict[str, float] = {}
        for epoch in range(1, MAX_EPOCHS + 1):
            module.train()
            perm = torch.randperm(len(y), generator=gen)
            for i in range(0, len(y), BATCH):
                idx = perm[i : i + BATCH]
                loss = nn.functional.cross_entropy(module(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            module.eval()
            metrics = {
                "epochs": float(epoch),
                "train_rows": float(len(y)),
                "heldout_balanced_accuracy": accuracy(module, encode, heldout),
                "uniform_accuracy": accuracy(module, encode, uniform),
            }
            if verbose:
                print(f"epoch {epoch}: {metrics}", flush=True)
            if min(metrics["heldout_balanced_accuracy"], metrics["uniform_accuracy"]) >= STOP:
                break
        if min(metrics["heldout_balanced_accuracy"], metrics["uniform_accuracy"]) < TARGET:
            raise RuntimeError(f"heq_trained: held-out accuracy {metrics} below {TARGET} after {MAX_EPOCHS} epochs")
        metrics["train_seconds"] = time.perf_counter() - start
        for p in module.parameters():
            p.requires_grad_(False)
        return module, objects, metrics
    finally:
        torch.set_num_threads(threads)


def das_datasets(pool_seed: int, pair_seed: int, n: int = DAS_ROWS, pool: int = 1_000) -> list[Any]:
    """Counterfactual datasets on ``left``, ``right`` and both, drawn from a pool of balanced inputs."""
    from causalabs.data import random_pairs
    from causalabs.loading import load_hypothesis
    from causalabs.organisms import resolve_ref

    hyp = load_hypothesis(resolve_ref(f"{HYPOTHESES}:HierarchicalEqualityPool", __file__))
    inputs = balanced_inputs(pool, pool_seed)
    return [random_pairs(hyp, v, n, seed=pair_seed + i, pool=inputs) for i, v in enumerate(("left", "right", ["left", "right"]))]


def fit_alignment(network: Network, *, seed: int = SEED) -> tuple[torch.Tensor, dict[str, float]]:
    """Run DAS at layer ``"1"`` (8 + 8 dims); returns the 16 x 16 basis and held-out IIA per variable set."""
    from causalabs.align.das import fit_das
    from causalabs.engine.evaluate import evaluate_pairs
    from causalabs.network.sites import Site

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = fit_das(
            network, Site(DAS_SITE), DAS_DIMS, das_datasets(seed + 10, seed + 20),
            epochs=DAS_EPOCHS, batch_size=DAS_BATCH, lr=DAS_LR, patience=None, seed=seed,
        )
        found = Alignment(result.alignment.sites)
        scores = {}
        for ds in das_datasets(seed + 30, seed + 40, n=2_000):
            r = evaluate_pairs(network, found, ds)
            scores["iia_" + "+".join(ds.intervened)] = float(np.mean(r.correct))
        return result.basis.detach().to(torch.float32).contiguous(), scores
    finally:
        torch.set_num_threads(threads)


def build() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Train, then fit DAS; the tensors (module state, ``objects``, ``das_basis``) and string metadata."""
    module, objects, metrics = train(SEED, verbose=True)
    network = Network(module, make_encoder(objects), argmax_decoder((0, 1)), name="heq_trained")
    basis, scores = fit_alignment(network)
    print(f"DAS at layer {DAS_SITE!r} {DAS_DIMS}: held-out IIA {scores}", flush=True)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    state["objects"] = objects
    state["das_basis"] = basis
    meta = {"organism": "heq_trained", "construction": f"trained, seed {SEED}"}
    meta.update({k: f"{v:.6g}" for k, v in {**metrics, **scores}.items() if k != "train_seconds"})
    return state, meta


def file_metadata() -> dict[str, str]:
    """The string metadata of the committed weights file (accuracies, IIA, epochs)."""
    return org.read_metadata(org.weights_path(__file__))


def _tensors() -> dict[str, torch.Tensor]:
    return org.load_weights(org.weights_path(__file__))


def alignment() -> Alignment:
    """The committed DAS alignment: ``left`` on rotated coordinates [0:8], ``right`` on [8:16] of layer "1"."""
    rot = Rotation(_tensors()["das_basis"])
    return Alignment({v: site(DAS_SITE, featurizer=rot, dims=d) for v, d in (("left", (0, 8)), ("right", (8, 16)))})


def load() -> Network:
    """The network with its committed weights and organism metadata."""
    tensors = _tensors()
    module = org.load_module_state(architecture(), tensors, extras=("objects", "das_basis"))
    meta = file_metadata()
    info = org.metadata(
        __file__,
        task=TASK,
        hypothesis=f"{HYPOTHESES}:HierarchicalEqualityPool",
        wrong=[f"{HYPOTHESES}:SwappedEqualityPool", f"{HYPOTHESES}:CrossedEqualityPool"],
        alignment=alignment(),
        accuracy=float(meta.get("uniform_accuracy", "0")),
        description=(
            "trained MLP (3 x 16 ReLU) on random object vectors; alignment found by DAS at layer '1' "
            "(left 8 dims, right 8 dims); accuracy measured on uniform random ids"
        ),
    )
    info["das"] = {"site": DAS_SITE, "dims": dict(DAS_DIMS)}
    info["measured"] = meta
    return Network(module, make_encoder(tensors["objects"]), argmax_decoder((0, 1)), name="heq_trained", info=info)


if __name__ == "__main__":
    sys.exit(org.main(__file__, build))
