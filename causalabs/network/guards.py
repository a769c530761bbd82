"""The guards a :class:`~causalabs.network.network.Network` keeps around its user code.

``encode``, ``decode`` and ``call`` are the user's functions; each is
stored behind a :class:`Guarded` that calls it through
:func:`causalabs.usercode.call_user` (an exception inside becomes a
:class:`~causalabs.errors.UserCodeError` naming the file, line and
function) and checks what goes in and comes out: ``encode`` gets a batch
whose missing keys are an :class:`~causalabs.errors.UnknownVariableError`
naming the line that read them, and what ``decode`` gives passes
:func:`~causalabs.network.decoded.check_decoded`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from causalabs.errors import UnknownVariableError
from causalabs.network.decoded import check_decoded
from causalabs.usercode import call_user, shown_path


class _InputBatch(dict):  # type: ignore[type-arg]
    """The batch ``encode`` receives: reading an input the hypothesis does not have is a typed error."""

    where = "network"

    def __missing__(self, key: Any) -> Any:
        caller = sys._getframe(1)  # the line of encode that read the key
        code = caller.f_code
        at = f"{shown_path(code.co_filename)}:{caller.f_lineno} ({code.co_qualname})"
        raise UnknownVariableError(
            f"{at}: encode() of {self.where} reads the input {key!r}, which the hypothesis does not have "
            f"(its inputs: {', '.join(map(str, self)) or 'none'}); the network and the hypothesis must "
            "name their inputs alike"
        )


def encode_checked(fn: Callable[..., Any], where: str, batch: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(batch, Mapping) and not isinstance(batch, _InputBatch):
        batch = _InputBatch(batch)
        batch.where = where
    return fn(batch, *args, **kwargs)


def decode_checked(fn: Callable[..., Any], where: str, out: Any, *args: Any, **kwargs: Any) -> Any:
    return check_decoded(fn(out, *args, **kwargs), out, where)


class Guarded:
    """A network's ``encode``, ``decode`` or ``call``: the user's function behind :func:`call_user` and its checks."""

    __slots__ = ("__wrapped__", "check", "role", "where")

    def __init__(self, fn: Callable[..., Any], role: str, where: str, check: Callable[..., Any] | None) -> None:
        self.__wrapped__: Callable[..., Any] = fn.__wrapped__ if isinstance(fn, Guarded) else fn
        self.role = role
        self.where = where
        self.check = check

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self.__wrapped__
        if self.check is None:
            return call_user(fn, *args, role=self.role, where=self.where, **kwargs)
        return self.check(
            lambda *a, **k: call_user(fn, *a, role=self.role, where=self.where, **k), self.where, *args, **kwargs
        )

    def __getattr__(self, name: str) -> Any:  # attributes a user hung on their function
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "__wrapped__"), name)

    def __repr__(self) -> str:
        return f"<{self.role} of {self.where}: {self.__wrapped__!r}>"


__all__ = ["Guarded", "decode_checked", "encode_checked"]
