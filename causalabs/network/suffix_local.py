"""Position-local suffixes of causal decoders: only positions >= p run, earlier keys and values are cached.

In a causal (decoder) transformer a patch at token positions >= ``p`` cannot
change any position before ``p``.  So when every patched position is >= ``p``,
a pair needs the blocks after the site at positions ``p..T-1`` only, reading
every earlier position's keys and values from the base's own (unpatched)
pass, as incremental decoding does; the logits it reads at positions before
``p`` (all of them by default, none with ``hf_network(..., logits_to_keep=k)``
and ``T - k >= p``) are the base's own, kept from that pass.  For a claim at
the last token a pair then costs the blocks after the site for one token.

:func:`local_suffix` builds one for GPT-2, the Llama family and GPT-NeoX
(block sites, token ids alone).  ``record(inputs)`` runs the bases once (a
full forward with a key/value cache) and returns the tensor at the site, the
suffix layers' keys and values at positions ``< p`` and the logits read
before ``p`` (:class:`LocalCache`); the suffix's ``run(h, rows)`` takes
:class:`LocalRows` in place of the encoded inputs.
Each block's other arguments are recorded from a one-row and a two-row
incremental pass, as in :mod:`causalabs.network.suffix_hf`.
:func:`checked_local_suffix` checks it against the full forward (plain, and
with positions >= p replaced by another row's) once per network, site,
start position and input shape, to :data:`LOCAL_TOLERANCE` of the
output's scale (the incremental pass sums attention in another order:
on SmolLM2-135M's logits, about 30 in magnitude, the two differ by about
2e-5, while a whole-sequence suffix agrees to 1e-6).
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import torch
from torch import nn

from causalabs.errors import CausalabsError
from causalabs.network.decoded import output_tensor
from causalabs.network.hf_sites import blocks_path
from causalabs.network.network import Network, batch_dim, is_default_call, take_rows
from causalabs.network.suffix import CHECK_ROWS, Suffix, SuffixCheck, _shape_key
from causalabs.network.suffix_hf import DECODER_TAILS, _expand, _logits_to_keep, _mark_batched, _token_ids

KV = tuple[tuple[torch.Tensor, torch.Tensor], ...]

#: Largest difference allowed between the position-local suffix's output and the full forward's, as a
#: fraction of the full output's largest magnitude (at least 1): about 16 float32 roundings of that value.
LOCAL_TOLERANCE = 2e-6


@attrs.frozen(eq=False)
class LocalCache:
    """What a base's own pass leaves for its position-local suffix, besides the tensor at the site."""

    kv: KV  # per suffix layer: keys and values at positions < start, (rows, heads, start, head_dim)
    before: torch.Tensor | None = None  # the logits read at positions < start (rows, positions, vocab); None: none are

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        held = sum(t.numel() * t.element_size() for pair in self.kv for t in pair)
        return held + (0 if self.before is None else self.before.numel() * self.before.element_size())

    def to(self, device: torch.device) -> LocalCache:
        """The same tensors on ``device``."""
        before = None if self.before is None else self.before.to(device)
        return LocalCache(tuple((k.to(device), v.to(device)) for k, v in self.kv), before)

    @staticmethod
    def cat(parts: Sequence[LocalCache]) -> LocalCache:
        """The rows of ``parts``, one after another."""
        kv = tuple((torch.cat([p.kv[i][0] for p in parts]), torch.cat([p.kv[i][1] for p in parts])) for i in range(len(parts[0].kv)))
        before = None if parts[0].before is None else torch.cat([p.before for p in parts])  # type: ignore[misc]
        return LocalCache(kv, before)


@attrs.frozen(eq=False)
class LocalRows:
    """What a position-local suffix reads for a batch of base rows besides ``h``."""

    inputs: Any  # the rows' encoded inputs
    cache: LocalCache

    def take(self, index: torch.Tensor, device: torch.device | None = None) -> LocalRows:
        """Rows ``index``; with ``device``, the cached tensors moved there (they may be held on the host)."""

        def rows(t: torch.Tensor) -> torch.Tensor:
            got = t.index_select(0, index.to(t.device))
            return got if device is None else got.to(device)

        c = self.cache
        cache = LocalCache(tuple((rows(k), rows(v)) for k, v in c.kv), None if c.before is None else rows(c.before))
        return LocalRows(take_rows(self.inputs, index if device is None else index.to(device)), cache)


@attrs.frozen(eq=False)
class LocalSuffix:
    """A position-local suffix: ``suffix.run(h, LocalRows)`` and ``record(inputs) -> (h, LocalCache)`` for base
    rows."""

    suffix: Suffix
    start: int
    record: Callable[[Any], tuple[torch.Tensor, LocalCache]]


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silences transformers' notices about the name of the cache argument (it differs by version)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


class _CacheSlot:
    """Where a recorded call held the key/value cache; each run puts its own there."""


def _is_cache(value: Any) -> bool:
    return any(c.__name__.endswith("Cache") for c in type(value).__mro__)


def _slot(value: Any) -> Any:
    return _CacheSlot if _is_cache(value) else value


def _fill(value: Any, cache: Any) -> Any:
    return cache if value is _CacheSlot else value


def _cache_name(root: nn.Module) -> str:
    """The forward argument taking a key/value cache: ``cache`` in recent transformers (where
    ``past_key_values`` is deprecated), ``past_key_values`` before."""
    return "cache" if "cache" in inspect.signature(root.forward).parameters else "past_key_values"


def _cache_of(out: Any) -> Any:
    """The key/value cache a forward returned (``.cache``, or ``.past_key_values`` before)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _layer_kv(cache: Any, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    layers = getattr(cache, "layers", None)
    if layers is not None:
        return layers[i].keys, layers[i].values
    return cache.key_cache[i], cache.value_cache[i]  # older transformers


def _decoder(root: nn.Module) -> tuple[str, str, str] | str:
    """(blocks, final norm, LM head) paths of a supported decoder family, or why ``root`` is not one."""
    modules = dict(root.named_modules())
    try:
        blocks_at = blocks_path(root)
    except CausalabsError:
        return "no list of decoder blocks"
    tail = next((t for t in DECODER_TAILS if t[0] == blocks_at and t[1] in modules and t[2] in modules), None)
    return f"no known decoder family with blocks at {blocks_at!r}" if tail is None else tail


_DECODER: weakref.WeakKeyDictionary[nn.Module, bool] = weakref.WeakKeyDictionary()


def is_local_decoder(network: Network) -> bool:
    """Whether the network's module is a decoder family position-local suffixes support (GPT-2, the Llama
    family, GPT-NeoX); asked once per module."""
    root = network.module
    if root not in _DECODER:
        _DECODER[root] = not isinstance(_decoder(root), str)
    return _DECODER[root]


def local_suffix(network: Network, path: str, io: str, positions: tuple[int, ...], inputs: Any) -> LocalSuffix | str:
    """The position-local suffix after block ``path``'s ``io`` for patches at ``positions``, or why not."""
    root = network.module
    modules = dict(root.named_modules())
    tail = _decoder(root)
    if isinstance(tail, str):
        return tail
    blocks_at = tail[0]
    keep = 0 if is_default_call(network) else _logits_to_keep(network)
    if keep is None:
        return "the network's call() is neither the default nor lm_call"
    if not _token_ids(network, inputs):
        return "the encoded inputs are not token ids alone"
    index = path[len(blocks_at) + 1 :] if path.startswith(blocks_at + ".") else ""
    if not index.isdigit():
        return f"{path!r} is not a decoder block"
    tokens = inputs["input_ids"] if isinstance(inputs, Mapping) else inputs
    length = int(tokens.shape[1])
    p = min(q % length for q in positions)
    if p == 0:
        return "a patch at position 0 leaves no earlier position to cache"
    read = max(0, length - keep) if keep else 0  # the first position whose logits the network reads
    first = int(index) + (1 if io == "output" else 0)
    blocks = list(modules[blocks_at])  # type: ignore[arg-type]
    suffix_blocks = blocks[first:]
    norm, head, site_module = modules[tail[1]], modules[tail[2]], modules[path]
    recorded: dict[tuple[Any, ...], list[tuple[tuple[Any, ...], dict[str, Any]]]] = {}

    def incremental(rows: torch.Tensor) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        with torch.no_grad(), _quiet():
            cache = _cache_of(root(input_ids=rows[:, :p], use_cache=True))

            def hook(mod: nn.Module, args: Any, kwargs: Any) -> None:
                seen.append((tuple(_slot(a) for a in args[1:]), {k: _slot(v) for k, v in kwargs.items() if k != "hidden_states"}))

            handles = [b.register_forward_pre_hook(hook, with_kwargs=True) for b in suffix_blocks]
            try:
                with _quiet():
                    root(input_ids=rows[:, p:], use_cache=True, **{_cache_name(root): cache})
            finally:
                for h in handles:
                    h.remove()
        return seen

    def arguments(tokens: torch.Tensor, n: int) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        key = (tuple(tokens.shape[1:]), tokens.device)
        if key not in recorded:
            one = incremental(tokens[:1])
            two = incremental(tokens[:1].expand(2, *tokens.shape[1:]))
            recorded[key] = [_mark_batched(a, b) for a, b in zip(one, two)]
        return [_expand(call_args, n) for call_args in recorded[key]]

    def record(ids: Any) -> tuple[torch.Tensor, LocalCache]:
        tokens = ids["input_ids"] if isinstance(ids, Mapping) else ids
        store: list[torch.Tensor] = []
        if io == "output":
            handle = site_module.register_forward_hook(lambda m, a, out: store.append(out[0] if isinstance(out, tuple) else out))
        else:
            handle = site_module.register_forward_pre_hook(lambda m, a, k: store.append(a[0] if a else k["hidden_states"]), with_kwargs=True)
        try:
            with torch.no_grad():
                # the logits from ``read`` on, where some are read before the patch (logits_to_keep=0: all)
                out = root(input_ids=tokens, use_cache=True, logits_to_keep=length - read if read < p else 1)
        finally:
            handle.remove()
        cache = _cache_of(out)
        kv = tuple(
            (k[:, :, :p].clone(), v[:, :, :p].clone()) for k, v in (_layer_kv(cache, first + i) for i in range(len(suffix_blocks)))
        )
        before = out.logits[:, : p - read].clone() if read < p else None
        return store[0].detach().clone(), LocalCache(kv, before)

    def run(h: torch.Tensor, rows: LocalRows) -> Any:
        from transformers import DynamicCache
        from transformers.modeling_outputs import CausalLMOutputWithPast

        tokens = rows.inputs["input_ids"] if isinstance(rows.inputs, Mapping) else rows.inputs
        n = h.shape[0]
        # layers before the suffix are never read: they hold the first suffix layer's tensors (no copy)
        kv = rows.cache.kv
        cache = DynamicCache(ddp_cache_data=[kv[0]] * first + list(kv)) if kv else None
        x = h[:, p:]
        for block, (args, kwargs) in zip(suffix_blocks, arguments(tokens, n)):
            out = block(x, *(_fill(a, cache) for a in args), **{k: _fill(v, cache) for k, v in kwargs.items()})
            x = out[0] if isinstance(out, (tuple, list)) else out
        if read >= p:
            return CausalLMOutputWithPast(logits=head(norm(x[:, read - p :])))
        before = rows.cache.before
        assert before is not None  # recorded by record() whenever read < p
        return CausalLMOutputWithPast(logits=torch.cat([before, head(norm(x))], dim=1))

    return LocalSuffix(Suffix(path, io, run, "hf-decoder-local"), p, record)


def _check(network: Network, local: LocalSuffix, inputs: Any) -> SuffixCheck:
    """``local`` against the full forward: plain, and with positions >= start taken from the next row."""
    suffix, p = local.suffix, local.start
    module = network.module.get_submodule(suffix.module)
    try:
        with torch.no_grad():
            h, cached = local.record(inputs)
            rows = LocalRows(inputs, cached)
            worst, scale = 0.0, 1.0
            variants = [h]
            if h.shape[0] > 1:
                patched = h.clone()
                patched[:, p:] = h.roll(1, 0)[:, p:]
                variants.append(patched)
            for x in variants:
                if suffix.io == "output":
                    handle = module.register_forward_hook(lambda m, a, out, x=x: (x, *out[1:]) if isinstance(out, tuple) else x)
                else:
                    handle = module.register_forward_pre_hook(lambda m, a, x=x: (x, *a[1:]))
                try:
                    full = network.call(network.module, inputs)
                finally:
                    handle.remove()
                part = suffix.run(x.clone(), rows)
                a, b = output_tensor(full), output_tensor(part)
                if a is None or b is None or a.shape != b.shape:
                    return SuffixCheck(None, "the position-local suffix's output does not have the full output's shape")
                worst = max(worst, float((a.float() - b.float()).abs().max()))
                scale = max(scale, float(a.float().abs().max()))
                if not torch.equal(network.decode(full).values, network.decode(part).values):
                    return SuffixCheck(None, "the position-local suffix decodes differently from the full forward")
    except (CausalabsError, RuntimeError, TypeError, ValueError, IndexError, KeyError, AttributeError) as exc:
        return SuffixCheck(None, f"the position-local suffix after {suffix.module}.{suffix.io} failed its check: {exc}")
    if not worst <= LOCAL_TOLERANCE * scale:
        return SuffixCheck(
            None, f"the position-local suffix differs from the full forward by {worst:.3g} > {LOCAL_TOLERANCE:g} x {scale:.3g}",
            worst,
        )
    return SuffixCheck(suffix, "", worst)


_LOCAL: weakref.WeakKeyDictionary[Network, dict[tuple[Any, ...], tuple[LocalSuffix | None, str]]] = (
    weakref.WeakKeyDictionary()
)


def checked_local_suffix(
    network: Network, path: str, io: str, positions: tuple[int, ...], inputs: Any
) -> tuple[LocalSuffix | None, str]:
    """The checked position-local suffix (or None and the reason), once per network, site, positions and shape."""
    key = (path, io, positions, _shape_key(inputs))
    cache = _LOCAL.setdefault(network, {})
    if key not in cache:
        n = min(CHECK_ROWS, batch_dim(inputs))
        rows = take_rows(inputs, torch.arange(n, device=network.device))
        found = local_suffix(network, path, io, positions, rows)
        if isinstance(found, str):
            cache[key] = (None, found)
        else:
            check = _check(network, found, rows)
            cache[key] = (found if check.suffix is not None else None, check.reason)
    return cache[key]
