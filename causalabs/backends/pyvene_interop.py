"""Interoperability with pyvene: causalabs sites as a pyvene ``IntervenableModel``, and back.

* :func:`to_pyvene` exports an :class:`~causalabs.network.Alignment` as a
  pyvene ``IntervenableModel`` (one representation per aligned variable) and
  its ``IntervenableConfig``; :func:`pyvene_arguments` builds the keyword
  arguments that run it on a base batch and one source batch per site.
* :func:`from_pyvene_rotation` imports the rotation of a pyvene
  ``RotatedSpaceIntervention`` (or ``LowRankRotatedSpaceIntervention``) as a
  causalabs :class:`~causalabs.network.Rotation` site.

How sites are expressed: the component is ``"<module path>.<io>"`` (pyvene's
generic addressing of arbitrary modules), the unit is ``"pos"`` with the
site's token positions as ``unit_locations`` (``None``: the whole
activation), and the subspace is a ``VanillaIntervention`` (all units, or
explicit units passed as ``subspaces``) or a ``RotatedSpaceIntervention``
holding the featurizer's rotation (dims passed as ``subspaces``).

A Hugging Face module called the default way (``module(**inputs)``) is
wrapped directly, so components read ``transformer.h.0.output``; any other
network is wrapped in :class:`NetworkAdapter` and its components start with
``net.``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import torch
from torch import nn
from transformers import PretrainedConfig

from causalabs.errors import BackendError, BatchShapeError, SiteError
from causalabs.network.alignment import Alignment
from causalabs.network.featurizers import Featurizer, Rotation
from causalabs.network.network import Network, encode, is_default_call
from causalabs.network.sites import Site, Subspace, positions_tensor, resolve_module

with contextlib.redirect_stdout(io.StringIO()):  # pyvene prints a notice about nnsight on import: stdout is ours
    import pyvene as pv

Batch = dict[str, np.ndarray]

#: Prefix of component paths when the network is wrapped in a :class:`NetworkAdapter`.
ADAPTER_PREFIX = "net."
_TENSOR = "__tensor__"
_ARG = "__arg{}__"


# --- the module pyvene wraps ------------------------------------------------------


class NetworkAdapter(nn.Module):
    """Lets pyvene call a network whose module is not a keyword-called Hugging Face model.

    pyvene calls its model as ``model(**inputs)`` and reads ``model.config``
    and ``model.device``; the adapter takes :func:`pyvene_inputs` and calls
    ``network.call(network.module, encoded)``.  The network's module is its
    child ``net``.
    """

    def __init__(self, network: Network) -> None:
        super().__init__()
        self.net = network.module
        self._call = network.call
        self.config = getattr(network.module, "config", None) or PretrainedConfig()

    @property
    def device(self) -> torch.device:
        for p in self.net.parameters():
            return p.device
        return torch.device("cpu")

    def forward(self, **kwargs: Any) -> Any:
        if _TENSOR in kwargs:
            inputs: Any = kwargs[_TENSOR]
        elif _ARG.format(0) in kwargs:
            inputs = tuple(kwargs[_ARG.format(i)] for i in range(len(kwargs)))
        else:
            inputs = dict(kwargs)
        return self._call(self.net, inputs)


def wraps_directly(network: Network, sites: Sequence[Site] = ()) -> bool:
    """Whether pyvene wraps ``network.module`` itself (True) or a :class:`NetworkAdapter`."""
    m = network.module
    return (
        is_default_call(network)
        and hasattr(m, "config")
        and hasattr(m, "device")
        and all(s.module for s in sites)
    )


def component(s: Site, direct: bool) -> str:
    """pyvene's component string for a site: ``"<module path>.<io>"``."""
    prefix = "" if direct else ADAPTER_PREFIX.rstrip(".")
    return ".".join(part for part in (prefix, s.module, s.io) if part)


def pyvene_inputs(network: Network, batch: Batch, *, direct: bool | None = None) -> dict[str, torch.Tensor]:
    """A high-level batch encoded as the keyword arguments pyvene passes to its model."""
    inputs = encode(network, batch)
    if direct is None:
        direct = wraps_directly(network)
    if direct:
        if isinstance(inputs, Mapping):
            return dict(inputs)
        params = list(inspect.signature(network.module.forward).parameters)
        values = inputs if isinstance(inputs, tuple) else (inputs,)
        return dict(zip(params, values, strict=False))
    if isinstance(inputs, Mapping):
        tensors = {k: v for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        return {**tensors, **{k: v for k, v in inputs.items() if k not in tensors}}
    if isinstance(inputs, tuple):
        return {_ARG.format(i): v for i, v in enumerate(inputs)}
    return {_TENSOR: inputs}


# --- interventions ------------------------------------------------------------------


def rotation_matrix(s: Site) -> torch.Tensor:
    """The full ``width x width`` orthogonal matrix of a site's featurizer.

    A partial basis (``width x k``) is completed with an orthonormal
    complement; the interchange on dims inside ``[0:k]`` does not depend on
    the completion.  A featurizer without an orthonormal basis cannot be a
    pyvene ``RotatedSpaceIntervention``: :class:`BackendError`.
    """
    f = s.subspace.featurizer
    assert f is not None and s.subspace.dims is not None
    u = f.basis(0, f.width)  # for a Rotation: its matrix, all k columns
    if u is None:
        raise BackendError(
            f"site {s.name}: pyvene cannot express the featurizer {type(f).__name__} "
            "(it has no orthonormal basis; only rotations map to RotatedSpaceIntervention)"
        )
    u = u.detach()
    width, k = u.shape
    if s.subspace.dims[1] > k:
        raise SiteError(f"site {s.name}: dims {s.subspace.dims} exceed the featurizer's {k} coordinates")
    if k == width:
        return u.clone()
    eye = torch.eye(width, dtype=torch.float64, device=u.device)
    q, _ = torch.linalg.qr(torch.cat([u.double(), eye], dim=1))
    full = q[:, :width].to(u.dtype)
    full[:, :k] = u
    return full


def make_intervention(s: Site, *, dtype: torch.dtype, device: torch.device) -> pv.models.interventions.Intervention:
    """A fresh pyvene intervention for a site: vanilla, or rotated with the featurizer's matrix."""
    if s.subspace.featurizer is None:
        return pv.VanillaIntervention(keep_last_dim=True)
    r = rotation_matrix(s)
    iv = pv.RotatedSpaceIntervention(embed_dim=int(r.shape[0]), keep_last_dim=True)
    iv.to(device=device, dtype=dtype)
    set_rotation(iv, r)
    return iv


def set_rotation(intervention: Any, matrix: torch.Tensor) -> None:
    """Write an orthogonal matrix into a ``RotatedSpaceIntervention`` (through its parametrisation)."""
    layer = intervention.rotate_layer
    with torch.no_grad():
        layer.weight = matrix.to(device=layer.weight.device, dtype=layer.weight.dtype)


def subspace_indices(sub: Subspace) -> list[int] | None:
    """The coordinate indices pyvene's ``subspaces`` argument takes (None: every unit)."""
    if sub.units is not None:
        return list(sub.units)
    if sub.dims is not None:
        return list(range(*sub.dims))
    return None


# --- building and calling ------------------------------------------------------------


def _param_dtype(module: nn.Module) -> torch.dtype:
    for p in module.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.get_default_dtype()


def _hook_ids(root: nn.Module) -> dict[int, tuple[set[int], set[int]]]:
    return {id(m): (set(m._forward_hooks), set(m._forward_pre_hooks)) for m in root.modules()}


def remove_hooks_since(root: nn.Module, before: Mapping[int, tuple[set[int], set[int]]]) -> None:
    """Remove every forward hook or pre-hook under ``root`` that is not in the ``before`` snapshot."""
    for m in root.modules():
        old_fwd, old_pre = before.get(id(m), (set(), set()))
        for hid in [h for h in m._forward_hooks if h not in old_fwd]:
            for d in (m._forward_hooks, m._forward_hooks_with_kwargs, m._forward_hooks_always_called):
                d.pop(hid, None)
        for hid in [h for h in m._forward_pre_hooks if h not in old_pre]:
            for d in (m._forward_pre_hooks, m._forward_pre_hooks_with_kwargs):
                d.pop(hid, None)


class ScopedIntervenableModel(pv.IntervenableModel):
    """pyvene's ``IntervenableModel`` that removes only the hooks it installed itself.

    pyvene 0.1.x clears *every* forward hook of the wrapped model before and
    after each call; this subclass keeps the hooks that were there before
    the call (the user's, or causalabs' own checks) and removes the rest,
    also when the forward raises.
    """

    _keep: dict[int, tuple[set[int], set[int]]] | None = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self._keep = _hook_ids(self.model)
        try:
            return super().forward(*args, **kwargs)
        finally:
            remove_hooks_since(self.model, self._keep)
            self._keep = None

    def _remove_forward_hooks(self) -> None:
        if self._keep is not None:
            remove_hooks_since(self.model, self._keep)


def build_intervenable(network: Network, sites: Sequence[Site]) -> ScopedIntervenableModel:
    """A pyvene model with one representation per site, the network's module left as it was.

    pyvene's constructor puts the model in eval mode and turns off
    ``requires_grad`` on its parameters; both are restored here.
    """
    direct = wraps_directly(network, sites)
    for s in sites:
        resolve_module(network.module, s.module, network=network.name)
    module = network.module
    dtype, device = _param_dtype(module), network.device
    reps = [
        pv.RepresentationConfig(
            component=component(s, direct),
            unit="pos",
            max_number_of_units=len(s.positions) if isinstance(s.positions, tuple) else 1,
            intervention=make_intervention(s, dtype=dtype, device=device),
        )
        for s in sites
    ]
    training = {m: m.training for m in module.modules()}
    grads = {p: p.requires_grad for p in module.parameters()}
    try:
        target = module if direct else NetworkAdapter(network)
        model = ScopedIntervenableModel(pv.IntervenableConfig(representations=reps), target)
    finally:
        for m, flag in training.items():
            m.training = flag
        for p, flag in grads.items():
            p.requires_grad_(flag)
    return model


@attrs.frozen(eq=False)
class Where:
    """One site's token positions for a call, as pyvene lists (after negatives are resolved)."""

    site: Site
    source: list[list[int]] | None
    base: list[list[int]] | None
    seq_len: int | None  # the length negative positions were resolved against (None: none were negative)


def _seq_len(inputs: Mapping[str, Any]) -> int | None:
    for v in inputs.values():
        if isinstance(v, torch.Tensor) and v.ndim >= 2:
            return int(v.shape[1])
    return None


def _locations(s: Site, batch: Batch, n: int, inputs: Mapping[str, Any]) -> tuple[list[list[int]] | None, int | None]:
    pos = positions_tensor(s, batch, n)
    if pos is None:
        return None, None
    if bool((pos < 0).any()):
        length = _seq_len(inputs)
        if length is None:
            raise BackendError(
                f"site {s.name}: negative positions need a sequence length, and the encoded "
                "inputs hold no (batch, length, ...) tensor; give non-negative positions"
            )
        return torch.where(pos < 0, pos + length, pos).tolist(), length
    return pos.tolist(), None


def prepare_call(
    network: Network,
    sites: Sequence[Site],
    base: Batch,
    sources: Sequence[Batch],
    *,
    direct: bool,
) -> tuple[dict[str, Any], list[Where]]:
    """The keyword arguments of ``IntervenableModel.forward`` and each site's resolved positions."""
    if len(sources) != len(sites):
        raise BackendError(f"{len(sites)} sites but {len(sources)} source batches; give one source per site")
    n = len(next(iter(base.values())))
    base_in = pyvene_inputs(network, base, direct=direct)
    src_in, wheres = [], []
    for s, src in zip(sites, sources, strict=True):
        missing = [k for k in base if k not in src]
        if missing:
            raise BatchShapeError(f"site {s.name}: the source batch lacks the input(s) {', '.join(missing)}")
        m = len(np.asarray(src[next(iter(base))]))
        if m != n:
            raise BatchShapeError(f"site {s.name}: the source batch has {m} rows for {n} base rows")
        enc = pyvene_inputs(network, src, direct=direct)
        src_in.append(enc)
        sloc, slen = _locations(s, src, n, enc)
        bloc, blen = _locations(s, base, n, base_in)
        wheres.append(Where(s, sloc, bloc, slen or blen))
    subspaces = []
    for s in sites:
        idx = subspace_indices(s.subspace)
        subspaces.append(None if idx is None else [idx] * n)
    kwargs = {
        "base": base_in,
        "sources": src_in,
        "unit_locations": {"sources->base": ([w.source for w in wheres], [w.base for w in wheres])},
        "subspaces": subspaces,
    }
    return kwargs, wheres


def pyvene_arguments(
    network: Network, sites: Sequence[Site] | Alignment, base: Batch, sources: Sequence[Batch]
) -> dict[str, Any]:
    """Keyword arguments that run an exported model: ``model(**pyvene_arguments(...))``.

    ``sites`` is the site list (or alignment) the model was built from, in
    the same order; ``sources`` holds one source batch per site.  The
    result has ``base``, ``sources``, ``unit_locations`` and ``subspaces``.
    """
    seq = list(sites.sites.values()) if isinstance(sites, Alignment) else list(sites)
    return prepare_call(network, seq, base, sources, direct=wraps_directly(network, seq))[0]


# --- export and import ----------------------------------------------------------------


def to_pyvene(network: Network, alignment: Alignment) -> tuple[pv.IntervenableModel, pv.IntervenableConfig]:
    """Export an alignment as a pyvene model (one representation per variable, in alignment order).

    Run it with ``model(**pyvene_arguments(network, alignment, base, sources))``;
    ``model(...)[1]`` is the network's raw counterfactual output.
    """
    model = build_intervenable(network, list(alignment.sites.values()))
    return model, model.config


def from_pyvene_rotation(
    intervention: Any,
    module_path: str,
    dims: tuple[int, int],
    *,
    io: Literal["output", "input"] = "output",
    positions: Any = None,
) -> Site:
    """A causalabs :class:`Rotation` site from a pyvene rotated-space intervention.

    Accepts any pyvene intervention with a ``rotate_layer`` whose weight is
    a ``width x k`` matrix with orthonormal columns
    (``RotatedSpaceIntervention``, ``LowRankRotatedSpaceIntervention``);
    coordinate ``j`` of pyvene's rotated space is coordinate ``j`` of the
    returned featurizer.
    """
    layer = getattr(intervention, "rotate_layer", None)
    weight = getattr(layer, "weight", None)
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise BackendError(
            f"from_pyvene_rotation: {type(intervention).__name__} has no rotate_layer.weight matrix; "
            "expected a pyvene RotatedSpaceIntervention"
        )
    # built on the CPU, then moved: Rotation's orthonormality check runs on the CPU
    featurizer: Featurizer = Rotation(weight.detach().cpu().clone()).to(weight.device)
    return Site(module_path, io, positions, Subspace(featurizer=featurizer, dims=(int(dims[0]), int(dims[1]))))


__all__ = [
    "NetworkAdapter",
    "ScopedIntervenableModel",
    "build_intervenable",
    "from_pyvene_rotation",
    "pyvene_arguments",
    "pyvene_inputs",
    "to_pyvene",
]
