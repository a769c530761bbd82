"""Networks dispatched across devices by accelerate (``device_map``, CPU and disk offload).

A dispatched module runs each block on its own execution device and keeps
offloaded weights outside it (on the ``meta`` device in the module, their
values in its hooks' weight maps).  causalabs works on such a network as on
any other: the driver's device is the module's main execution device
(:func:`dispatch_device`), recorded activations are moved there, a patched
block receives its source vectors on its own device, and digests of the
weights read offloaded values from the hooks (:func:`state_tensors`), so a
dispatched network has the digest of the same network on one device.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn


def _as_device(device: Any) -> torch.device:
    return torch.device("cuda", device) if isinstance(device, int) else torch.device(device)


def _attr(module: nn.Module, name: str) -> Any:
    """An attribute accelerate sets on a module (a plain instance attribute), or None; read from the
    instance's dict, since a miss through ``nn.Module.__getattr__`` costs an exception (this runs on every pass)."""
    return vars(module).get(name)


def _hooks(module: nn.Module) -> list[Any]:
    hook = _attr(module, "_hf_hook")
    if hook is None:
        return []
    return list(getattr(hook, "hooks", None) or [hook])


def dispatch_device(module: nn.Module) -> torch.device | None:
    """The main execution device of a module dispatched by accelerate (its hooks' or its device map's first
    device that is not an offload target); None for a module accelerate did not dispatch."""
    for h in _hooks(module):
        device = getattr(h, "execution_device", None)
        if device is not None:
            return _as_device(device)
    device_map = _attr(module, "hf_device_map")
    if isinstance(device_map, Mapping) and device_map:
        placed = [d for d in device_map.values() if d not in ("cpu", "disk")]
        return _as_device(placed[0]) if placed else torch.device("cpu")
    return None


def _offloaded(module: nn.Module, name: str) -> torch.Tensor | None:
    path, _, leaf = name.rpartition(".")
    owner = module.get_submodule(path) if path else module
    for h in _hooks(owner):
        weights = getattr(h, "weights_map", None)
        if weights is not None and leaf in weights:
            return torch.as_tensor(weights[leaf])
    return None


def state_tensors(module: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    """``module.state_dict()``'s items in name order, offloaded tensors read from accelerate's weight maps."""
    for name, t in sorted(module.state_dict().items()):
        if t.device.type == "meta":
            value = _offloaded(module, name)
            if value is not None:
                t = value
        yield name, t
