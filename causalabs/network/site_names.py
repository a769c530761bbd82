"""Sites written as text: ``model.layers.24[pos last]``, ``transformer.h.3.attn[head 2][pos slot:io]``.

The same syntax serves ``--site`` on the command line, alignment files and
the Python API (:func:`parse_site`)::

    PATH[.input|.output][pos P][head H]

* ``PATH`` is a module path (``model.layers.24``, ``model.layers.24.mlp``,
  ``transformer.h.3.attn``); ``.input`` / ``.output`` (default) choose what
  the module takes or gives.
* ``[pos P]``: token positions: integers (``-1``, ``3,4``; negative counts
  from the end) or a name the network's template resolves per example
  (``last``, ``slot:S``, ``slot:S:first``, ``slot:S:last``; see
  :mod:`causalabs.network.text`).
* ``[head H]`` (``H`` one head or several, ``3`` or ``3,5``): attention
  head ``H`` of a block or attention module: its slice of the attention
  output *before* the output projection (the input of ``o_proj`` in the
  Llama family, ``c_proj`` in GPT-2, ``dense`` in GPT-NeoX), that is units
  ``H * head_dim`` to ``(H + 1) * head_dim``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from torch import nn

from causalabs.errors import SiteError, UnknownModuleError
from causalabs.network.hf_sites import ATTENTION_NAMES
from causalabs.network.network import Network
from causalabs.network.sites import ALL, Site, Subspace, resolve_module

#: Child names of an attention module's output projection, by family.
OUT_PROJ_NAMES: tuple[str, ...] = ("o_proj", "c_proj", "dense", "out_proj")

_BRACKET = re.compile(r"\[\s*(pos|head)(?:\s+([^\]]*?))?\s*\]")


def _split(text: str) -> tuple[str, dict[str, str]]:
    first = text.find("[")
    path = (text if first < 0 else text[:first]).strip()
    rest = "" if first < 0 else text[first:]
    parts: dict[str, str] = {}
    at = 0
    for m in _BRACKET.finditer(rest):
        if rest[at : m.start()].strip():
            break
        if m.group(1) in parts:
            raise SiteError(f"site {text!r}: [{m.group(1)} ...] given twice")
        parts[m.group(1)] = m.group(2) or ""
        at = m.end()
    if rest[at:].strip():
        raise SiteError(
            f"site {text!r}: cannot read {rest[at:].strip()!r}; write PATH[.input|.output][pos P][head H], "
            "for example model.layers.24[pos last] or transformer.h.3.attn[head 2]"
        )
    if not path:
        raise SiteError(f"site {text!r}: no module path before the brackets")
    return path, parts


def _ints(text: str) -> tuple[int, ...] | None:
    items = [x.strip() for x in text.split(",")]
    try:
        return tuple(int(x) for x in items)
    except ValueError:
        return None


def _config_int(module: nn.Module, *names: str) -> int | None:
    config = getattr(module, "config", None)
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def out_projection(root: nn.Module, path: str, *, network: str = "network") -> str:
    """The path of the attention output projection under ``path`` (a block, an attention module or the projection)."""
    module = resolve_module(root, path, network=network)
    children = dict(module.named_children())
    parts = path.rsplit(".", 2)
    if parts[-1] in OUT_PROJ_NAMES and len(parts) > 1 and parts[-2] in ATTENTION_NAMES:
        return path
    for name in ATTENTION_NAMES:
        if name in children:
            return out_projection(root, f"{path}.{name}", network=network)
    if path.rsplit(".", 1)[-1] in ATTENTION_NAMES:
        for name in OUT_PROJ_NAMES:
            if name in children:
                return f"{path}.{name}"
    raise SiteError(
        f"site {path}[head ...]: {network} has no attention output projection under {path} "
        f"(looked for {', '.join(ATTENTION_NAMES + OUT_PROJ_NAMES)}; its children are {', '.join(children) or 'none'})"
    )


def head_units(root: nn.Module, heads: Sequence[int], *, where: str) -> tuple[int, ...]:
    """The units of ``heads`` in the attention output before the projection (from the module's config)."""
    n_heads = _config_int(root, "num_attention_heads", "n_head")
    width = _config_int(root, "hidden_size", "n_embd")
    if n_heads is None or width is None:
        raise SiteError(f"site {where}: the module's config does not give num_attention_heads and hidden_size")
    head_dim = _config_int(root, "head_dim") or width // n_heads
    bad = [h for h in heads if not 0 <= h < n_heads]
    if bad:
        raise SiteError(f"site {where}: head {bad[0]} is out of range; the network has {n_heads} heads (0..{n_heads - 1})")
    return tuple(u for h in heads for u in range(h * head_dim, (h + 1) * head_dim))


def parse_site(text: str, network: Network | nn.Module | None = None) -> Site:
    """The :class:`Site` written ``text`` (see the module docstring); ``network`` is needed for ``[head H]``.

    Position names stay names (bound to the network's template when the
    site is used, see :func:`causalabs.network.sites.bound_positions`).
    """
    root = network.module if isinstance(network, Network) else network
    label = network.name if isinstance(network, Network) else type(network).__name__
    path, parts = _split(text)
    io = "output"
    if root is not None:
        names = dict(root.named_modules())
        for suffix in ("output", "input"):
            if path.endswith("." + suffix) and path not in names and path[: -len(suffix) - 1] in names:
                path, io = path[: -len(suffix) - 1], suffix
        try:
            resolve_module(root, path, network=label)
        except UnknownModuleError as exc:  # name the site as written, brackets and all
            raise UnknownModuleError(f"site {text!r}: {str(exc).partition(': ')[2]}") from None
    else:
        for suffix in ("output", "input"):
            if path.endswith("." + suffix):
                path, io = path[: -len(suffix) - 1], suffix
    positions: Any = None
    if "pos" in parts:
        raw = parts["pos"]
        if not raw:
            raise SiteError(f"site {text!r}: [pos] needs positions: integers or a name such as last or slot:S")
        positions = _ints(raw) or raw
        if isinstance(positions, str) and "," in positions:
            raise SiteError(f"site {text!r}: [pos {raw}]: give integers or one position name")
    subspace: Subspace = ALL
    if "head" in parts:
        heads = _ints(parts["head"])
        if not heads:
            raise SiteError(f"site {text!r}: [head {parts['head']}]: give head numbers, for example [head 3]")
        if root is None:
            raise SiteError(f"site {text!r}: a head site needs the network (to find its output projection)")
        if io != "output":
            raise SiteError(f"site {text!r}: a head is the attention output before its projection; drop .input")
        path = out_projection(root, path, network=label)
        io = "input"
        subspace = Subspace(units=head_units(root, heads, where=text))
    try:
        return Site(path, io, positions, subspace)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise SiteError(f"site {text!r}: {exc}") from None


def is_site_text(text: str) -> bool:
    """Whether ``text`` uses the bracket syntax or an ``.input``/``.output`` suffix (not a bare module path)."""
    return "[" in text or text.endswith((".input", ".output"))


__all__ = ["OUT_PROJ_NAMES", "head_units", "is_site_text", "out_projection", "parse_site"]
