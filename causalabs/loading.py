"""Load user files by path: ``path/file.py:ClassName`` hypotheses and network files.

Importing a user file runs its code: an exception there (or ``sys.exit``) is
a :class:`~causalabs.errors.UserCodeError` naming the file and line, except
Python misused on symbolic variables in a hypothesis class body
(``max(a, b)``), which is a :class:`~causalabs.errors.HypothesisDefinitionError`
in the user's names with the sympy form to use instead.
"""

from __future__ import annotations

import hashlib
import importlib.util
import linecache
import sys
import traceback
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from causalabs.errors import CausalabsError, HypothesisDefinitionError, LoadError
from causalabs.usercode import located, shown_path, user_error


def load_module(path: str | Path) -> ModuleType:
    """Import a Python file by path (its folder goes on ``sys.path`` while it imports)."""
    p = Path(path)
    if not p.is_file():
        raise LoadError(f"{p}: no such file")
    digest = hashlib.sha1(str(p.resolve()).encode()).hexdigest()[:10]
    name = f"_causalabs_file_{p.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise LoadError(f"{p}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(p.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except CausalabsError as exc:  # a check of ours, run while the file was imported (a malformed hypothesis)
        del sys.modules[name]
        raise _prefixed(exc, p) from exc
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        err = _import_failure(exc, p)
        if err is exc:
            raise
        raise err from exc
    finally:
        if added:
            sys.path.remove(folder)
    return module


def _prefixed(exc: CausalabsError, p: Path) -> CausalabsError:
    shown = shown_path(str(p))
    text = str(exc)
    if text.startswith((shown, str(p))):
        return exc
    try:
        return type(exc)(f"{shown}: {text}")
    except TypeError:  # an error class with a constructor of its own
        return exc


def _innermost_in(tb: TracebackType | None, p: Path) -> TracebackType | None:
    found = None
    target = p.resolve()
    while tb is not None:
        try:
            if Path(tb.tb_frame.f_code.co_filename).resolve() == target:
                found = tb
        except OSError:
            pass
        tb = tb.tb_next
    return found


def _import_failure(exc: BaseException, p: Path) -> BaseException:
    """The error for ``exc`` raised while importing the user file ``p`` (the exception itself if causalabs raised it)."""
    from causalabs.scm.explain import explain, user_names

    tb = exc.__traceback__
    here = _innermost_in(tb, p)
    if here is not None and not isinstance(exc, SystemExit):
        names = user_names(here.tb_frame.f_locals)
        if names:  # inside a hypothesis class body: its variables are placeholders
            line = linecache.getline(str(p), here.tb_lineno).strip()
            why = explain(exc, line, names)
            if why is not None:
                frame = traceback.FrameSummary(str(p), here.tb_lineno, here.tb_frame.f_code.co_qualname, lookup_line=False)
                return HypothesisDefinitionError(f"{located(frame, str(p))}: `{line}`: {why}")
    # frames from the file's own code on (importlib's are library frames anyway)
    # the frames below load_module's own: importlib's (library) and the file's
    err = user_error(exc, "importing the file", shown_path(str(p)), tb.tb_next if tb is not None else None)
    return exc if err is None else err


def split_ref(ref: str) -> tuple[str, str | None]:
    """``'a/b.py:Name'`` -> ``('a/b.py', 'Name')``; ``'a/b.py'`` -> ``('a/b.py', None)``."""
    path, sep, attr = ref.rpartition(":")
    if not sep or not path or "/" in attr or attr.endswith(".py"):
        return ref, None
    return path, attr


def load_attr(ref: str) -> Any:
    """The object named by ``path/file.py:Name``."""
    path, attr = split_ref(ref)
    if attr is None:
        raise LoadError(f"{ref}: name the object as path/file.py:Name")
    module = load_module(path)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise LoadError(f"{path}: has no {attr!r}") from None


def hypothesis_classes(module: ModuleType) -> list[type]:
    """The hypothesis classes a loaded file defines (not those it imports), in the file's order."""
    from causalabs.scm.hypothesis import Hypothesis

    return [
        obj for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Hypothesis) and obj is not Hypothesis
        and obj.__module__ == module.__name__
    ]


def _their_names(module: ModuleType) -> str:
    names = [c.__name__ for c in hypothesis_classes(module)]
    return f"its hypothesis classes: {', '.join(names)}" if names else "it defines no hypothesis class"


def load_hypothesis(ref: str) -> Any:
    """The hypothesis class named by ``path/file.py:ClassName``; errors list the classes the file has."""
    from causalabs.scm.hypothesis import Hypothesis

    path, attr = split_ref(ref)
    module = load_module(path)
    if attr is None:
        raise LoadError(f"{ref}: name the class as {path}:ClassName ({_their_names(module)})")
    if not hasattr(module, attr):
        raise LoadError(f"{path}: has no {attr!r} ({_their_names(module)})")
    obj = getattr(module, attr)
    if not (isinstance(obj, type) and issubclass(obj, Hypothesis)):
        raise LoadError(f"{ref}: {obj!r} is not a causalabs.Hypothesis subclass ({_their_names(module)})")
    return obj


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
