"""Scoped forward hooks: read or replace the tensor a module takes or gives.

Every hook registered here is removed when the ``with`` block ends, also
when the forward raises.  Modules that return tuples (transformer blocks)
have their first tensor read and replaced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from causalabs.errors import ActivationError
from causalabs.usercode import Unwind

#: Maps the module's tensor to a new tensor (or returns it unchanged).
Edit = Callable[[torch.Tensor], torch.Tensor]


class StopForward(Unwind):
    """Raised inside a hook to end a forward pass once every needed site is recorded."""


def _first_tensor(value: Any, where: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], Any]]:
    if isinstance(value, torch.Tensor):
        return value, lambda t: t
    if isinstance(value, tuple) and value and isinstance(value[0], torch.Tensor):
        return value[0], lambda t: (t, *value[1:])
    if isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
        return value[0], lambda t: [t, *value[1:]]
    raise ActivationError(f"site {where}: the module gives {type(value).__name__}, not a tensor")


def _input_tensor(
    args: tuple[Any, ...], kwargs: dict[str, Any], where: str
) -> tuple[torch.Tensor, Callable[[torch.Tensor], tuple[tuple[Any, ...], dict[str, Any]]]]:
    if args and isinstance(args[0], torch.Tensor):
        return args[0], lambda t: ((t, *args[1:]), kwargs)
    for key in ("hidden_states", "input", "x"):
        if isinstance(kwargs.get(key), torch.Tensor):
            return kwargs[key], lambda t, key=key: (args, {**kwargs, key: t})
    raise ActivationError(f"site {where}: the module's first input is not a tensor")


@contextlib.contextmanager
def edit_hooks(
    modules: Sequence[tuple[nn.Module, str, str, Edit]],
) -> Iterator[None]:
    """Install one edit per ``(module, io, site_name, edit)``; remove all of them on exit."""
    handles = []
    try:
        for module, io, where, edit in modules:
            if io == "output":

                def out_hook(mod: nn.Module, args: Any, out: Any, edit: Edit = edit, where: str = where) -> Any:
                    x, rebuild = _first_tensor(out, where)
                    return rebuild(edit(x))

                handles.append(module.register_forward_hook(out_hook))
            else:

                def in_hook(
                    mod: nn.Module, args: Any, kwargs: Any, edit: Edit = edit, where: str = where
                ) -> Any:
                    x, rebuild = _input_tensor(args, kwargs, where)
                    return rebuild(edit(x))

                handles.append(module.register_forward_pre_hook(in_hook, with_kwargs=True))
        yield
    finally:
        for h in handles:
            h.remove()


def hook_count(root: nn.Module) -> int:
    """How many forward hooks and pre-hooks are installed anywhere under ``root`` (for tests)."""
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in root.modules())
