"""Running a network from a site's activations onward: the suffix after the site.

A :class:`Suffix` for a module location (``module``, ``io``) is a function
``run(h, inputs)`` that takes the full tensor at that location (what a
forward hook sees: the module's output, or its first input) for a batch of
base rows, plus those rows' encoded inputs, and returns what
``network.call(network.module, inputs)`` would return had the pass reached
the location with ``h``.  The engine uses it to pay, per counterfactual pair,
only the layers after a site (see :mod:`causalabs.engine.evaluate`).

:func:`find_suffix` knows three kinds of network:

* ``nn.Sequential`` roots (nested Sequentials too) called the default way:
  the children after the site, innermost level first;
* HuggingFace decoder LMs (GPT-2, the Llama family, GPT-NeoX), at a block's
  input or output: the remaining blocks, the final norm and the LM head
  (``logits_to_keep`` honoured); each block's other arguments (attention
  mask, rotary or absolute position data) are recorded once per sequence
  length from a one-row pass (:mod:`causalabs.network.suffix_hf`);
* any module that declares its own suffixes (opt-in): a method
  ``causalabs_suffix(path, io)`` returning ``run(h, inputs)`` or None
  (the tracr transformer declares its blocks this way).

A suffix is never trusted on its construction alone: :func:`checked_suffix`
runs it once per network, location and input shape against the full forward
(the plain pass, and a pass with the activation replaced by another row's)
and accepts it only when the decoded values agree exactly and the output
and scores within :data:`TOLERANCE`; otherwise the engine keeps the full
path and says why (:attr:`SuffixCheck.reason`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import attrs
import torch
from torch import nn

from causalabs.errors import CausalabsError
from causalabs.network.decoded import output_tensor
from causalabs.network.network import Network, batch_dim, is_default_call, take_rows

#: ``run(h, inputs) -> raw output`` (see the module docstring).
SuffixFn = Callable[[torch.Tensor, Any], Any]
#: ``prefix(inputs) -> h``: the network run up to the location, without hooks.
PrefixFn = Callable[[Any], torch.Tensor]

#: Largest absolute difference allowed between the suffix's and the full forward's
#: outputs (and decoded scores) on the check batch.
TOLERANCE = 1e-6


@attrs.frozen(eq=False)
class Suffix:
    """The part of a network after ``module``'s ``io``: ``run(h, inputs)`` gives the raw output."""

    module: str
    io: str
    run: SuffixFn
    kind: str  # "sequential", "hf-decoder", "declared"
    #: the layers before the location, where a network has them as plain calls (``nn.Sequential``):
    #: ``prefix(inputs)`` gives the tensor a hook at the location would record, and is kept only when
    #: :func:`check_suffix` finds it equal to the hooked pass's tensor, bit for bit
    prefix: PrefixFn | None = None

    @property
    def reads_inputs(self) -> bool:
        """Whether ``run`` reads its ``inputs`` argument (a sequential suffix reads only ``h``)."""
        return self.kind != "sequential"


@attrs.frozen(eq=False)
class SuffixCheck:
    """The outcome of :func:`checked_suffix`: a checked suffix, or None and the reason."""

    suffix: Suffix | None
    reason: str = ""
    max_diff: float | None = None

    @property
    def usable(self) -> bool:
        return self.suffix is not None


# --- finding a suffix -----------------------------------------------------------


def _first(value: Any) -> torch.Tensor:
    if isinstance(value, (tuple, list)):
        return value[0]
    return value


def _sequential_suffix(network: Network, path: str, io: str) -> Suffix | str:
    root = network.module
    if not isinstance(root, nn.Sequential):
        return "the module is not an nn.Sequential"
    if not is_default_call(network):
        return "the network has its own call()"
    levels: list[tuple[nn.Sequential, int]] = []
    mod: nn.Module = root
    for part in path.split("."):
        if not isinstance(mod, nn.Sequential):
            return f"{path!r} lies inside {type(mod).__name__}, not inside nested nn.Sequentials"
        names = list(mod._modules)
        if part not in names:
            return f"no child {part!r} on the way to {path!r}"
        levels.append((mod, names.index(part)))
        mod = mod._modules[part]  # type: ignore[assignment]
    steps: list[nn.Module] = []
    for depth in range(len(levels) - 1, -1, -1):
        seq, i = levels[depth]
        start = i if (io == "input" and depth == len(levels) - 1) else i + 1
        steps += [m for m in list(seq._modules.values())[start:] if m is not None]
    before: list[nn.Module] = []  # outermost level first: the children before the path, then into it
    for depth, (seq, i) in enumerate(levels):
        stop = i + 1 if (io == "output" and depth == len(levels) - 1) else i
        before += [m for m in list(seq._modules.values())[:stop] if m is not None]

    def run(h: torch.Tensor, inputs: Any) -> Any:
        return _chain(steps, h)

    def prefix(inputs: Any) -> torch.Tensor:
        return _chain(before, inputs)

    return Suffix(path, io, run, "sequential", prefix)


def _chain(modules: list[nn.Module], x: Any) -> Any:
    for m in modules:
        x = m(x)
    return x


def may_have_prefix(network: Network) -> bool:
    """Whether :func:`find_suffix` can give ``network`` a :attr:`Suffix.prefix` (an ``nn.Sequential`` called
    the default way), without encoding anything."""
    return isinstance(network.module, nn.Sequential) and is_default_call(network)


def _declared_suffix(network: Network, path: str, io: str) -> Suffix | str:
    declare = getattr(network.module, "causalabs_suffix", None)
    if not callable(declare):
        return "the module declares no suffixes"
    if not is_default_call(network):
        return "the network has its own call()"
    run = declare(path, io)
    if run is None:
        return f"the module declares no suffix after {path}.{io}"
    return Suffix(path, io, run, "declared")


def find_suffix(network: Network, path: str, io: str, inputs: Any) -> Suffix | str:
    """The suffix after ``path``'s ``io``, or the reason there is none (unchecked: see :func:`checked_suffix`).

    ``inputs`` are encoded inputs of a few rows (some networks can split only
    for some inputs: an HF decoder only on token ids without a padding mask).
    """
    from causalabs.network.suffix_hf import hf_suffix

    reasons = []
    for finder in (_declared_suffix, _sequential_suffix, hf_suffix):
        found = finder(network, path, io) if finder is not hf_suffix else hf_suffix(network, path, io, inputs)
        if isinstance(found, Suffix):
            return found
        reasons.append(found)
    return "; ".join(reasons)


# --- checking it against the full forward ------------------------------------------


def _record_and_replace(module: nn.Module, io: str, replace: torch.Tensor | None, store: list[torch.Tensor]) -> Any:
    """A hook recording the tensor at ``module``'s ``io`` (and replacing it with ``replace`` if given)."""
    if io == "output":

        def out_hook(mod: nn.Module, args: Any, out: Any) -> Any:
            x = _first(out)
            store.append(x.detach().clone())
            if replace is None:
                return None
            return (replace, *out[1:]) if isinstance(out, tuple) else replace

        return module.register_forward_hook(out_hook)

    def in_hook(mod: nn.Module, args: Any, kwargs: Any) -> Any:
        if args:
            store.append(args[0].detach().clone())
            return None if replace is None else ((replace, *args[1:]), kwargs)
        store.append(kwargs["hidden_states"].detach().clone())
        return None if replace is None else (args, {**kwargs, "hidden_states": replace})

    return module.register_forward_pre_hook(in_hook, with_kwargs=True)


def _full(network: Network, path: str, io: str, inputs: Any, replace: torch.Tensor | None) -> tuple[Any, torch.Tensor]:
    store: list[torch.Tensor] = []
    handle = _record_and_replace(network.module.get_submodule(path), io, replace, store)
    try:
        out = network.call(network.module, inputs)
    finally:
        handle.remove()
    if len(store) != 1:
        raise _Unsplittable(f"{path}.{io} ran {len(store)} times in one forward pass")
    return out, store[0]


class _Unsplittable(Exception):
    pass


def _diff(a: torch.Tensor | None, b: torch.Tensor | None) -> float:
    if a is None or b is None:
        if a is None and b is None:
            return 0.0
        raise _Unsplittable("the suffix's output lacks what the full output has")
    if a.shape != b.shape:
        raise _Unsplittable(f"output shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.float() - b.float()).abs().max()) if a.numel() else 0.0


def _same(a: Any, b: torch.Tensor) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)


def _compare(network: Network, full: Any, part: Any) -> float:
    worst = _diff(output_tensor(full), output_tensor(part))
    d_full, d_part = network.decode(full), network.decode(part)
    if not torch.equal(d_full.values.cpu(), d_part.values.cpu()):
        raise _Unsplittable("decoded values differ")
    if d_full.scores is not None or d_part.scores is not None:
        worst = max(worst, _diff(d_full.scores, d_part.scores))
    return worst


def check_suffix(network: Network, suffix: Suffix, inputs: Any) -> SuffixCheck:
    """Run ``suffix`` against the full forward on ``inputs`` (a few encoded rows): plain and patched.

    The patched comparison replaces the activation with the same tensor's
    rows rolled by one, so a suffix that ignored ``h`` could not pass.
    """
    try:
        with torch.no_grad():
            full, h = _full(network, suffix.module, suffix.io, inputs, None)
            if suffix.prefix is not None and not _same(suffix.prefix(inputs), h):
                suffix = attrs.evolve(suffix, prefix=None)  # the hooked pass stays the way to record
            worst = _compare(network, full, suffix.run(h, inputs))
            if h.shape[0] > 1:
                rolled = h.roll(1, 0)
                full_p, _ = _full(network, suffix.module, suffix.io, inputs, rolled)
                worst = max(worst, _compare(network, full_p, suffix.run(rolled.clone(), inputs)))
    except (_Unsplittable, CausalabsError, RuntimeError, TypeError, ValueError, IndexError, KeyError) as exc:
        return SuffixCheck(None, f"the {suffix.kind} suffix after {suffix.module}.{suffix.io} failed its check: {exc}")
    if not worst <= TOLERANCE:
        return SuffixCheck(
            None,
            f"the {suffix.kind} suffix after {suffix.module}.{suffix.io} differs from the full forward "
            f"by {worst:.3g} > {TOLERANCE:g}",
            worst,
        )
    return SuffixCheck(suffix, "", worst)


def _shape_key(inputs: Any) -> tuple[Any, ...]:
    if isinstance(inputs, torch.Tensor):
        return (tuple(inputs.shape[1:]), inputs.dtype, inputs.device)
    if isinstance(inputs, dict):
        return tuple((k, _shape_key(v)) for k, v in sorted(inputs.items()))
    if isinstance(inputs, (tuple, list)):
        return tuple(_shape_key(v) for v in inputs)
    return (type(inputs).__name__,)


_CHECKED: weakref.WeakKeyDictionary[Network, dict[tuple[Any, ...], SuffixCheck]] = weakref.WeakKeyDictionary()

#: Rows of the check batch (the first rows of the inputs the engine is about to run).
CHECK_ROWS = 4


def checked_suffix(network: Network, path: str, io: str, inputs: Any) -> SuffixCheck:
    """The suffix after ``path``'s ``io``, checked once per network, location and input shape.

    ``inputs``: encoded inputs of the rows the caller is about to run; the
    check uses the first :data:`CHECK_ROWS` of them.
    """
    key = (path, io, _shape_key(inputs))
    cache = _CHECKED.setdefault(network, {})
    if key not in cache:
        n = min(CHECK_ROWS, batch_dim(inputs))
        rows = take_rows(inputs, torch.arange(n, device=network.device))
        found = find_suffix(network, path, io, rows)
        cache[key] = check_suffix(network, found, rows) if isinstance(found, Suffix) else SuffixCheck(None, found)
    return cache[key]


def forget_checks(network: Network) -> None:
    """Drop the cached checks of ``network`` (after changing its weights in place, for instance)."""
    _CHECKED.pop(network, None)


__all__ = [
    "CHECK_ROWS",
    "TOLERANCE",
    "PrefixFn",
    "Suffix",
    "SuffixCheck",
    "SuffixFn",
    "check_suffix",
    "checked_suffix",
    "find_suffix",
    "forget_checks",
    "may_have_prefix",
]
