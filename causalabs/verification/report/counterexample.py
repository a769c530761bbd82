"""A counterexample to a causal-abstraction claim: one interchange where network and hypothesis disagree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs


def _freeze_row(row: Mapping[str, Any]) -> dict[str, int]:
    return {str(k): int(v) for k, v in row.items()}


def _row(row: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.items())


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

    def replay_line(self, hypothesis: str, network: str, alignment: str | None = None) -> str:
        """One Python line that re-runs both sides and prints them (see :func:`causalabs.reproduce`).

        Each argument is a Python expression: a quoted file reference
        (``'"models/net.py"'``) runs as pasted in a fresh interpreter; a bare
        name (``"network"``) needs that name defined.  ``alignment`` None: the
        network file's ``alignment()``.
        """
        srcs = ", ".join(f"{v!r}: {row!r}" for v, row in self.sources.items())
        extra = "" if alignment is None else f", alignment={alignment}"
        return (
            f"import causalabs as ca; print(ca.reproduce({hypothesis}, {network}, {self.base!r}, {{{srcs}}}{extra}))"
        )

    def describe(self) -> str:
        """The disagreement as a reader wants it: the base row, each source row, the two answers."""
        labels = ["base", *(f"source ({v})" for v in self.sources)]
        width = max(len(x) for x in [*labels, "output"])
        rows = [self.base, *self.sources.values()]
        lines = [f"{label:<{width}}  {_row(row)}" for label, row in zip(labels, rows)]
        lines.append(f"{'output':<{width}}  hypothesis {self.expected}, network {self.observed}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        """Jupyter's display: the base and source rows as a table, then the two answers."""
        from html import escape

        rows = [("base", _row(self.base)), *((f"source ({v})", _row(r)) for v, r in self.sources.items())]
        cells = "".join(f"<tr><th>{escape(a)}</th><td><code>{escape(b)}</code></td></tr>" for a, b in rows)
        return (f"<table><tbody>{cells}<tr><th>output</th><td>hypothesis <b>{self.expected}</b>, "
                f"network <b>{self.observed}</b></td></tr></tbody></table>")

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
