"""The boundary to user code: who is at fault when a call into it fails.

causalabs calls code it did not write: a network file's ``load()``, a
network's ``encode``, ``decode`` and forward, an alignment function, the
module-level code of a hypothesis or network file.  :func:`call_user` makes
such a call; when it raises (or calls ``sys.exit``), the traceback decides
whose fault it is:

* the innermost frame that is neither library code (the standard library,
  installed packages, generated code) nor an adapter of ours (see
  :func:`adapter`) is in a user's file: a :class:`~causalabs.errors.UserCodeError`
  naming that ``file:line``, the function and the call causalabs made;
* it is in causalabs (a hook of ours running inside the user's forward,
  say): the exception passes through unchanged, a bug of ours;
* there is none (a plain ``nn.Sequential`` whose layer got the wrong shape):
  the user's, named by ``where`` (the network, or the file).

A :class:`~causalabs.errors.CausalabsError` raised inside always passes
through (a hook of ours refusing a site, a user raising our errors on
purpose), and so does ``KeyboardInterrupt``.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from collections.abc import Callable
from pathlib import Path
from types import CodeType, TracebackType
from typing import Any, TypeVar

from causalabs.errors import CausalabsError, UserCodeError

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE = Path(__file__).resolve().parent
_LIBRARY = tuple(
    {str(Path(p).resolve()) for key in ("stdlib", "platstdlib", "purelib", "platlib") if (p := sysconfig.get_paths().get(key))}
)
_ADAPTERS: set[CodeType] = set()


def adapter(fn: F) -> F:
    """Mark a causalabs function that only passes a call on to user code (``_default_call``, a stock decoder).

    Its frames are looked through when deciding who is at fault, as library
    frames are: a failure under it is the user's unless a causalabs frame
    sits deeper.
    """
    _ADAPTERS.add(fn.__code__)
    return fn


def _owner(frame: traceback.FrameSummary, code: CodeType | None) -> str:
    """``"causalabs"``, ``"user"`` or ``"library"`` for one frame."""
    if code is not None and code in _ADAPTERS:
        return "library"
    name = frame.filename
    if not name or name.startswith("<"):  # <frozen ...>, <string>, <lambdifygenerated-3>
        return "library"
    try:
        path = Path(name).resolve()
    except OSError:
        return "library"
    if path.is_relative_to(_PACKAGE):
        return "causalabs"
    text = str(path)
    if any(text.startswith(lib + os.sep) for lib in _LIBRARY) or f"{os.sep}site-packages{os.sep}" in text:
        return "library"
    return "user"


def blame(tb: TracebackType | None) -> tuple[str, traceback.FrameSummary | None]:
    """Who raised, from a traceback: ``("causalabs" | "user", innermost such frame)`` or ``("user", None)``."""
    frames: list[tuple[traceback.FrameSummary, CodeType]] = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(
            (traceback.FrameSummary(code.co_filename, tb.tb_lineno, getattr(code, "co_qualname", code.co_name),
                                    lookup_line=False), code)
        )
        tb = tb.tb_next
    for frame, code in reversed(frames):
        owner = _owner(frame, code)
        if owner != "library":
            return owner, frame
    return "user", None


def shown_path(filename: str) -> str:
    """A path as a message shows it: relative to the working folder when inside it."""
    try:
        return str(Path(filename).resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return filename


def one_line(text: str, limit: int = 400) -> str:
    """``text`` on one line (whitespace runs collapsed), cut at ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def what_happened(exc: BaseException) -> str:
    """``"raised KeyError: 'w'"``, or ``"called sys.exit(0)"``."""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r})"
    message = one_line(str(exc))
    return f"raised {type(exc).__name__}" + (f": {message}" if message else "")


def located(frame: traceback.FrameSummary | None, where: str) -> str:
    """``"models/x.py:12 (encode)"`` for a frame, else ``where``."""
    if frame is None:
        return where
    name = "module level" if frame.name == "<module>" else frame.name
    return f"{shown_path(frame.filename)}:{frame.lineno} ({name})"


def user_error(exc: BaseException, role: str, where: str, tb: TracebackType | None) -> UserCodeError | None:
    """The :class:`UserCodeError` for ``exc`` raised under a call into user code, or None if causalabs raised it.

    ``tb`` starts at the user's code (the frames of the caller cut off).
    """
    owner, frame = blame(tb)
    if owner == "causalabs":
        return None
    loc = located(frame, where)
    return UserCodeError(f"{loc}: {role} {what_happened(exc)}", where=loc, role=role)


class Unwind(Exception):  # noqa: N818 - a signal, not an error
    """Raised by causalabs on purpose through user code (a hook ending a forward pass early).

    :func:`call_user` lets it through untouched, without looking for whom to blame.
    """


def call_user(fn: Callable[..., Any], /, *args: Any, role: str, where: str, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``; a failure inside user code becomes a :class:`UserCodeError` (see the module).

    ``role`` names the call in messages (``"encode()"``, ``"the module's
    forward"``); ``where`` names the file or network when no frame of the
    user's own is on the stack.
    """
    try:
        return fn(*args, **kwargs)
    except (CausalabsError, Unwind):
        raise
    except (Exception, SystemExit) as exc:
        err = user_error(exc, role, where, exc.__traceback__.tb_next if exc.__traceback__ else None)
        if err is None:
            raise
        raise err from exc


__all__ = ["Unwind", "adapter", "blame", "call_user", "located", "one_line", "shown_path", "user_error", "what_happened"]
