"""Names a package exports but imports on first use (PEP 562), so that importing the package stays light.

``__getattr__, __dir__ = lazy_exports(__name__, {"name": "package.module", ...}, globals())`` in a
package's ``__init__``: reading ``package.name`` imports ``package.module`` once and keeps the value in
the package's namespace, so later reads are plain attribute reads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any


def lazy_exports(
    package: str, table: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``: ``table`` maps each lazy name to its module."""

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
