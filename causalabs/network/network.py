"""``Network``: a torch module with the two maps that connect it to a hypothesis.

``encode`` turns a batch of high-level input assignments into the module's
inputs; ``decode`` turns the module's outputs into high-level output values
(plus the scores used for soft metrics).  A *network file* is a Python file
with a ``load()`` function returning a :class:`Network`.

This is the boundary to user code.  A :class:`Network` keeps its ``encode``,
``decode`` and ``call`` behind guards (see :mod:`causalabs.usercode`): an
exception inside them becomes a :class:`~causalabs.errors.UserCodeError`
naming the file, line and function; ``encode`` reading an input the
hypothesis does not have is an :class:`~causalabs.errors.UnknownVariableError`;
``decode`` must give one integer value per row, and the scores it reads
(or the module's output) must be finite
(:class:`~causalabs.errors.DecodedValueError`,
:class:`~causalabs.errors.NonFiniteError`).  Each of these checks costs at
most one reduction per batch (see :mod:`causalabs.network.guards` and
:mod:`causalabs.network.decoded`).
"""

from __future__ import annotations

import functools
import itertools
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import nn

from causalabs.errors import DecodedValueError, LoadError, NetworkError, NetworkFileError
from causalabs.executor.tasks import Shared
from causalabs.loading import load_module
from causalabs.network.dispatch import dispatch_device
from causalabs.network.decoded import Decoded, argmax_decoder
from causalabs.network.guards import Guarded, decode_checked, encode_checked
from causalabs.usercode import adapter, call_user


#: Per module, the first parameter or buffer holding data: its owner's path, "_parameters" or "_buffers",
#: its name there, and the tensor (see :attr:`Network.device`).
_FIRST_TENSOR: weakref.WeakKeyDictionary[nn.Module, tuple[str, str, str, torch.Tensor]] = weakref.WeakKeyDictionary()


def _submodule(root: nn.Module, path: str) -> nn.Module | None:
    """``root``'s submodule at ``path`` now, or None (a cheap walk through the child dicts)."""
    mod = root
    for part in path.split(".") if path else ():
        mod = mod._modules.get(part)  # type: ignore[assignment]
        if mod is None:
            return None
    return mod


@adapter
def _default_call(module: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, Mapping):
        return module(**inputs)
    if isinstance(inputs, tuple):
        return module(*inputs)
    return module(inputs)


@attrs.frozen(eq=False)
class Network:
    """A ``torch.nn.Module`` with ``encode`` and ``decode`` (and a name for messages)."""

    module: nn.Module
    encode: Callable[[dict[str, np.ndarray]], Any]
    decode: Callable[[Any], Decoded]
    name: str = "network"
    call: Callable[[nn.Module, Any], Any] = _default_call
    info: Mapping[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        where = f"network {self.name}"
        guard = object.__setattr__
        guard(self, "encode", Guarded(self.encode, "encode()", where, encode_checked))
        guard(self, "decode", Guarded(self.decode, "decode()", where, decode_checked))
        guard(self, "call", Guarded(self.call, "the module's forward", where, None))

    @property
    def device(self) -> torch.device:
        """The driver's device: where inputs go and recorded activations come back.

        For a module dispatched by accelerate (``device_map``, CPU or disk
        offload) that is its main execution device, whatever device each
        layer runs on; otherwise the device of its first parameter (or
        buffer) that holds data.
        """
        dispatched = dispatch_device(self.module)
        if dispatched is not None:
            return dispatched
        # the tensor found last time, if the module still holds it there and it still holds data
        # (``module.to()`` moves tensors in place); walking the parameters costs more on every pass
        found = _FIRST_TENSOR.get(self.module)
        if found is not None:
            path, kind, name, t = found
            owner = _submodule(self.module, path)
            if owner is not None and getattr(owner, kind).get(name) is t and t.device.type != "meta":
                return t.device
        named = itertools.chain(
            ((n, "_parameters", t) for n, t in self.module.named_parameters()),
            ((n, "_buffers", t) for n, t in self.module.named_buffers()),
        )
        for full, kind, t in named:
            if t.device.type != "meta":
                path, _, name = full.rpartition(".")
                _FIRST_TENSOR[self.module] = (path, kind, name, t)
                return t.device
        return torch.device("cpu")

    def to(self, device: str | torch.device) -> Network:
        self.module.to(device)
        return self


def is_default_call(network: Network) -> bool:
    """Whether the network's ``call`` is the stock one (the module called on the encoded inputs)."""
    return getattr(network.call, "__wrapped__", network.call) is _default_call


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


def probe_batch(model: Any, *, rows: int = 16, seed: int = 0) -> dict[str, np.ndarray]:
    """``rows`` seeded inputs of the hypothesis ``model`` (a CausalModel), drawn with a generator of their own.

    With requirements on the inputs (``ca.require``), only inputs that satisfy them.
    """
    rng = np.random.default_rng([seed, 0xC0DE])
    if getattr(model, "requires", ()):
        from causalabs.scm.space import draw

        return draw(model, rng, rows)
    batch: dict[str, np.ndarray] = {}
    for name in model.inputs:
        dom = model.variables[name].domain
        batch[name] = np.array([dom[int(i)] for i in rng.integers(len(dom), size=rows)], dtype=np.int64)
    return batch


def probe_network(network: Network, model: Any, batch: Mapping[str, np.ndarray] | None = None) -> None:
    """Run ``network`` on a few inputs of the hypothesis ``model`` (a CausalModel): fail early and typed.

    Runs encode, the forward and decode once on ``batch`` (default
    :func:`probe_batch`), outside any intervention, so a failure in user code
    shows before any search or verification starts; every decoded value must
    lie in the domain of the hypothesis' output
    (:class:`~causalabs.errors.DecodedValueError` otherwise), since a value
    the hypothesis can never produce means ``decode`` does not map the
    network's output to the hypothesis' values.
    """
    batch = dict(batch) if batch is not None else probe_batch(model)
    values = predict(network, batch).values.detach().cpu().numpy()
    out = model.output
    domain = np.asarray(model.variables[out].domain, dtype=np.int64)
    bad = np.flatnonzero(~np.isin(values, domain))
    if bad.size:
        i = int(bad[0])
        shown = ", ".join(map(str, domain[:8].tolist())) + (", ..." if domain.size > 8 else "")
        row = {k: int(v[i]) for k, v in batch.items()}
        raise DecodedValueError(
            f"network {network.name}: decode() gave {int(values[i])} on the input {row}, but {model.name}.{out} "
            f"takes values in {{{shown}}}: decode must map the network's output to the hypothesis' values"
        )


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
    net = call_user(loader, role="load()", where=str(p))
    if not isinstance(net, Network):
        raise NetworkFileError(f"{p}: load() returned {type(net).__name__}, not a causalabs.Network")
    if net.name == "network":
        net = attrs.evolve(net, name=p.stem)
    net.module.eval()
    _SOURCES[net.module] = p.resolve()
    return net


#: The network file each loaded network's module came from (an executor loads it again on each worker).
_SOURCES: weakref.WeakKeyDictionary[nn.Module, Path] = weakref.WeakKeyDictionary()


def source_file(network: Network) -> Path | None:
    """The network file ``network`` was loaded from by :func:`load_network`; None for a network built in code."""
    return _SOURCES.get(network.module)


def shared_network(network: Network, fingerprint: str) -> Shared:
    """``network`` as the value every task of a run shares: loaded again from its network file on each worker
    when it has one, else shipped as it is (``fingerprint``, a digest of its weights, keys the workers' cache)."""
    path = source_file(network)
    if path is None:
        return Shared(f"network:{network.name}:{fingerprint}", value=network)
    return Shared(f"network:{path}:{fingerprint}", value=network, factory=functools.partial(load_network, path))
