"""Keeping the ``hypothesis`` library's search a function of falsify's arguments and seed alone.

falsify already passes ``database=None`` (no example database, nothing
replayed from or written to ``./.hypothesis/examples``) and seeds the library
with ``hypothesis.seed``.  :func:`no_harvested_constants` switches off the
one remaining outside input: constants the library mixes into its draws.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["no_harvested_constants"]

_constants_lock = threading.Lock()
_constants_users = 0
_constants_saved: Any = None


@contextlib.contextmanager
def no_harvested_constants() -> Iterator[None]:
    """While inside, the ``hypothesis`` library draws no constants of its own.

    ``HypothesisProvider`` (in recent versions, 6.170 among them) sometimes replaces a drawn
    integer by a "constant": one from a built-in list, or a literal it
    harvests from the source of every loaded module outside site-packages
    (the user's hypothesis and network files, causalabs itself), caching
    those literals under ``./.hypothesis/constants/``.  That makes a seeded
    search depend on which modules happen to be imported and writes into the
    working directory.  The library has no setting for it, so its one entry
    point, ``HypothesisProvider._maybe_draw_constant``, answers "no constant"
    here, and is restored on the way out (reference-counted across threads).
    Other ``hypothesis`` tests running in other threads at the same time draw
    no constants either while a search runs.
    """
    global _constants_users, _constants_saved
    try:
        from hypothesis.internal.conjecture.providers import HypothesisProvider
    except ImportError:  # pragma: no cover - a hypothesis without providers draws no such constants
        yield
        return
    patch = "_maybe_draw_constant" in vars(HypothesisProvider)
    with _constants_lock:
        if patch and _constants_users == 0:
            _constants_saved = vars(HypothesisProvider)["_maybe_draw_constant"]
            HypothesisProvider._maybe_draw_constant = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
        _constants_users += 1
    try:
        yield
    finally:
        with _constants_lock:
            _constants_users -= 1
            if patch and _constants_users == 0:
                HypothesisProvider._maybe_draw_constant = _constants_saved  # type: ignore[method-assign]
                _constants_saved = None
