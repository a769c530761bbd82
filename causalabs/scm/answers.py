"""Three-valued answers (proved / refuted / unknown) that refuse to be read as booleans."""

from __future__ import annotations

from typing import Any, Literal

Status = Literal["proved", "refuted", "unknown"]


def _no_bool(self: Any) -> bool:
    raise TypeError(
        f"{type(self).__name__} has three answers; test .proved, .refuted or .unknown "
        "(or .status) instead of its truth value"
    )


class ThreeValued:
    """proved / refuted / unknown answers: ``.proved``, ``.refuted``, ``.unknown``; no truth value.

    Subclasses have a ``status`` attribute.  ``bool()`` raises, so that
    ``if result:`` can never read "refuted" or "unknown" as true.
    """

    __slots__ = ()
    status: Status

    @property
    def proved(self) -> bool:
        return self.status == "proved"

    @property
    def refuted(self) -> bool:
        return self.status == "refuted"

    @property
    def unknown(self) -> bool:
        return self.status == "unknown"

    __bool__ = _no_bool
