"""A counterexample to a causal-abstraction claim: one interchange where network and hypothesis disagree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


def _freeze_row(row: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in row.items()}


def _freeze_sources(sources: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    return {str(k): _freeze_row(v) for k, v in sources.items()}


@attrs.frozen
class Counterexample:
    """Base input, one source input per intervened variable, and the two answers.

    ``expected`` is the hypothesis' counterfactual output, ``observed`` the
    network's under the aligned intervention.  ``seed`` replays the search
    that found it (None when found by enumeration or a solver).
    """

    base: dict[str, int] = attrs.field(converter=_freeze_row)
    sources: dict[str, dict[str, int]] = attrs.field(converter=_freeze_sources)
    expected: int = attrs.field(converter=int)
    observed: int = attrs.field(converter=int)
    margin: float | None = None
    seed: int | None = None
    found_by: str = ""

    @property
    def intervened(self) -> tuple[str, ...]:
        return tuple(self.sources)

    def call(self, hypothesis: str = "H") -> str:
        """A pasteable call that reproduces the hypothesis' side of the disagreement."""
        srcs = ", ".join(f"{v!r}: {row!r}" for v, row in self.sources.items())
        return f"causalabs.interchange({hypothesis}, {self.base!r}, {{{srcs}}})"

    def describe(self) -> str:
        lines = [
            f"base     {self.base}",
            *(f"source   {v} <- {row}" for v, row in self.sources.items()),
            f"expected {self.expected} (hypothesis)",
            f"observed {self.observed} (network)",
        ]
        if self.seed is not None:
            lines.append(f"replay   seed={self.seed}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": self.base,
            "sources": self.sources,
            "intervened": list(self.intervened),
            "expected": self.expected,
            "observed": self.observed,
            "margin": self.margin,
            "seed": self.seed,
            "found_by": self.found_by,
        }
