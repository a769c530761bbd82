"""Old import paths kept for one release, each with a ``DeprecationWarning`` naming the new one.

``causalabs.verify`` was once a callable subpackage (a module whose class was
swapped so that it could be called).  It is now the function
:func:`causalabs.verify`, and the subpackage is ``causalabs.verification``.
``from causalabs.verify import Report`` still works until 0.3: a light
module registered under the old name forwards attribute reads to the new
package.  Registered in ``sys.modules`` before any import of it, it is never
bound as an attribute of ``causalabs``, so ``causalabs.verify`` stays the
function.  Only the package-level names forward; the old submodule paths
(``causalabs.verify.pipeline``) are gone.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings
from typing import Any

#: The release that removes the old paths.
REMOVED_IN = "0.3"


class _Alias(types.ModuleType):
    """A module that forwards reads to another one, warning once per name."""

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name, f"Deprecated alias of {target} (removed in causalabs {REMOVED_IN}).")
        self.__target = target
        self.__path__: list[str] = []  # a package, so that ``import name`` finds it in sys.modules

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        warnings.warn(
            f"{self.__name__} as a module is deprecated and will be removed in causalabs {REMOVED_IN}; "
            f"import {attr} from {self.__target}",
            DeprecationWarning,
            stacklevel=2,
        )
        value = getattr(importlib.import_module(self.__target), attr)
        setattr(self, attr, value)  # later reads (and the second read of one ``from`` import) are plain
        return value

    def __dir__(self) -> list[str]:
        return sorted(getattr(importlib.import_module(self.__target), "__all__", ()))


def install_module_alias(name: str, target: str) -> None:
    """Register ``name`` as a deprecated alias of the module ``target`` (imported on first use)."""
    sys.modules.setdefault(name, _Alias(name, target))
