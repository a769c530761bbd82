"""Load user files by path: ``path/file.py:ClassName`` hypotheses and network files."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from causalabs.errors import LoadError


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
    except Exception as exc:
        del sys.modules[name]
        raise LoadError(f"{p}: importing it failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(folder)
    return module


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


def load_hypothesis(ref: str) -> Any:
    """The hypothesis class named by ``path/file.py:ClassName``."""
    from causalabs.scm.hypothesis import Hypothesis

    obj = load_attr(ref)
    if not (isinstance(obj, type) and issubclass(obj, Hypothesis)):
        raise LoadError(f"{ref}: {obj!r} is not a causalabs.Hypothesis subclass")
    return obj


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
