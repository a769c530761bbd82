"""``Network``: a torch module with the two maps that connect it to a hypothesis.

``encode`` turns a batch of high-level input assignments into the module's
inputs; ``decode`` turns the module's outputs into high-level output values
(plus the scores used for soft metrics).  A *network file* is a Python file
with a ``load()`` function returning a :class:`Network`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from causalabs.errors import LoadError, NetworkError, NetworkFileError
from causalabs.loading import load_module


@attrs.frozen(eq=False)
class Decoded:
    """High-level reading of a network's outputs.

    ``values``: LongTensor (n,) of high-level output values.  ``scores``:
    optional (n, C) logits whose column ``j`` scores the value ``classes[j]``.
    """

    values: torch.Tensor
    scores: torch.Tensor | None = None
    classes: tuple[int, ...] | None = None


def _default_call(module: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return module(**inputs)
    if isinstance(inputs, tuple):
        return module(*inputs)
    return module(inputs)


def argmax_decoder(classes: tuple[int, ...] | None = None) -> Callable[[Any], Decoded]:
    """A decoder for a module returning logits: value = ``classes[argmax]`` (or the index)."""

    def decode(out: Any) -> Decoded:
        logits = out if isinstance(out, torch.Tensor) else out[0]
        if hasattr(out, "logits"):
            logits = out.logits
        idx = logits.argmax(-1)
        if classes is None:
            return Decoded(idx, logits, tuple(range(logits.shape[-1])))
        table = torch.tensor(classes, device=logits.device)
        return Decoded(table[idx], logits, classes)

    return decode


@attrs.frozen(eq=False)
class Network:
    """A ``torch.nn.Module`` with ``encode`` and ``decode`` (and a name for messages)."""

    module: nn.Module
    encode: Callable[[dict[str, np.ndarray]], Any]
    decode: Callable[[Any], Decoded]
    name: str = "network"
    call: Callable[[nn.Module, Any], Any] = _default_call
    info: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def device(self) -> torch.device:
        for p in self.module.parameters():
            return p.device
        for b in self.module.buffers():
            return b.device
        return torch.device("cpu")

    def to(self, device: str | torch.device) -> Network:
        self.module.to(device)
        return self


def batch_dim(inputs: Any) -> int:
    """Batch size of encoded inputs (a tensor, a mapping or a tuple of tensors)."""
    if isinstance(inputs, torch.Tensor):
        return int(inputs.shape[0])
    values = inputs.values() if isinstance(inputs, Mapping) else inputs
    for v in values:
        if isinstance(v, torch.Tensor):
            return int(v.shape[0])
    raise NetworkError(f"encoded inputs hold no tensor: {type(inputs).__name__}")


def to_device(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, torch.Tensor):
        return inputs.to(device, non_blocking=True)
    if isinstance(inputs, Mapping):
        return {k: to_device(v, device) for k, v in inputs.items()}
    if isinstance(inputs, tuple):
        return tuple(to_device(v, device) for v in inputs)
    return inputs


def take_rows(inputs: Any, index: torch.Tensor) -> Any:
    """Rows ``index`` of encoded inputs (a tensor, a mapping or a tuple of them; other values are kept)."""
    if isinstance(inputs, torch.Tensor):
        return inputs.index_select(0, index)
    if isinstance(inputs, Mapping):
        return {k: take_rows(v, index) for k, v in inputs.items()}
    if isinstance(inputs, tuple):
        return tuple(take_rows(v, index) for v in inputs)
    return inputs


def encode(network: Network, batch: dict[str, np.ndarray]) -> Any:
    """Encode a high-level batch, check its batch size, and move it to the network's device."""
    n = len(next(iter(batch.values())))
    inputs = network.encode(batch)
    got = batch_dim(inputs)
    if got != n:
        raise NetworkError(f"{network.name}: encode returned a batch of {got} for {n} input rows")
    return to_device(inputs, network.device)


@torch.no_grad()
def predict(network: Network, batch: dict[str, np.ndarray]) -> Decoded:
    """A plain forward pass, decoded."""
    return network.decode(network.call(network.module, encode(network, batch)))


def load_network(path: str | Path) -> Network:
    """Load a network file: a Python file whose ``load()`` returns a :class:`Network`."""
    p = Path(path)
    if not p.is_file():
        raise NetworkFileError(f"{p}: no such network file")
    try:
        module = load_module(p)
    except LoadError as exc:
        raise NetworkFileError(str(exc)) from exc
    loader = getattr(module, "load", None)
    if not callable(loader):
        raise NetworkFileError(f"{p}: a network file needs a load() function returning a causalabs.Network")
    net = loader()
    if not isinstance(net, Network):
        raise NetworkFileError(f"{p}: load() returned {type(net).__name__}, not a causalabs.Network")
    if net.name == "network":
        net = attrs.evolve(net, name=p.stem)
    net.module.eval()
    return net
