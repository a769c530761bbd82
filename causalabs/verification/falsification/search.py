"""``falsify``: property-based search for one interchange where network and hypothesis disagree.

The search is driven by the ``hypothesis`` library.  One *example* is an
intervened variable set (a non-empty subset of the aligned variables, or of
``variables``), a count ``n`` in ``1..batch``, and ``n`` pairs, each a base
input plus one source input per intervened variable.  Every input value is
drawn on its own, as its position in that input's domain.  With requirements
on the inputs (``ca.require``), a row is drawn as one of the admissible
inputs (:mod:`~causalabs.verification.falsification.rows`; above its table
limit, rows are drawn as without requirements and pairs whose base or a source violates them are
dropped from the example, an example left empty being rejected, and where
the library gives up after too many rejections the search ends as if
``max_examples`` were reached); the minimisation never moves to a pair
outside the requirements.  The whole example
runs through the network in one batched interchange call
(:func:`causalabs.engine.interchange_network`) and through the hypothesis'
counterfactual (:func:`causalabs.interchange`).  The example fails when any
pair disagrees; ``hypothesis.target`` is fed the largest *margin* of the
example (the best wrong score minus the score of the expected value:
positive means the network already disagrees, larger means closer to
failing), which steers generation toward near misses.

The first failing example ends the search.  Its smallest disagreeing pair
is then minimised variable by variable, deterministically, by replaying
candidates through the network in batches
(:mod:`~causalabs.verification.falsification.minimize`, which states the order and
what "minimal" guarantees), and returned as a
:class:`~causalabs.verification.Counterexample`.  The library's own
shrinker is not used.

The search is a function of its arguments and ``seed`` alone: no example
database, ``hypothesis.seed``, and no constants drawn from outside the
search (the library otherwise mixes literals harvested from every loaded
local module into its draws and caches them under ``./.hypothesis/``; see
:mod:`~causalabs.verification.falsification.seeding`) -- as long as ``deadline_s``
is not reached: past it the search stops at once, in generation or in the
minimisation, the result holds the best counterexample found so far (if
any: a real disagreement, possibly not minimised) and ``stop_reason`` is
``"deadline"``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from causalabs.errors import AlignmentError, UnknownVariableError
from causalabs.scm.domains import values_at
from causalabs.verification.falsification import rows
from causalabs.verification.falsification.minimize import Pair, minimize, order_key
from causalabs.verification.falsification.seeding import no_harvested_constants
from causalabs.verification.report.counterexample import Counterexample

if TYPE_CHECKING:  # torch loads with the search, not with the package (``causalabs report`` needs no torch)
    from causalabs.network.alignment import Alignment
    from causalabs.network.network import Network

__all__ = ["FalsifyResult", "falsify", "network_call", "pair_margins", "replay"]

#: Why a search ended.
STOP_REASONS = ("counterexample", "max_examples", "deadline")


@attrs.frozen
class FalsifyResult:
    """The outcome of :func:`falsify`.

    ``counterexample`` is None when no disagreement was found within the
    budget; that is *not* a proof (the search samples), so :attr:`refuted`
    is the only verdict it supports.  ``examples_run`` counts network calls
    (drawn examples, then the minimisation's batches), ``pairs_run`` the
    (base, sources) pairs they held; ``elapsed`` is wall-clock seconds.
    """

    counterexample: Counterexample | None
    examples_run: int
    seed: int
    stop_reason: str
    elapsed: float
    pairs_run: int = 0
    first_failure_s: float | None = None  # seconds until the first failing example (before shrinking)
    hypothesis: str = "H"
    call: str = ""  # the falsify(...) call that replays the search

    @property
    def refuted(self) -> bool:
        return self.counterexample is not None

    def describe(self) -> str:
        """Falsifying-example text: the search, the shrunk pair, and one line that re-runs both sides.

        The replay line names ``network`` and ``alignment`` (the objects that
        were searched); ``causalabs verify --mode falsify`` prints one that
        loads them from their files instead.
        """
        head = (
            f"falsify: {self.examples_run:,} examples ({self.pairs_run:,} pairs) in {self.elapsed:.2f} s, "
            f"seed {self.seed}, stopped by {self.stop_reason.replace('_', ' ')}"
        )
        ce = self.counterexample
        if ce is None:
            return head + "\nno counterexample found (not a proof: the search samples)"
        lines = [head, "counterexample (shrunk):"]
        lines += [f"  {line}" for line in ce.describe().splitlines()]
        lines.append(f"replay: {ce.replay_line(self.hypothesis, 'network', 'alignment')}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def to_dict(self) -> dict[str, Any]:
        return {
            "counterexample": None if self.counterexample is None else self.counterexample.to_dict(),
            "examples_run": self.examples_run,
            "pairs_run": self.pairs_run,
            "seed": self.seed,
            "stop_reason": self.stop_reason,
            "elapsed": self.elapsed,
        }


def network_call(counterexample: Counterexample, network: str = "network", alignment: str = "alignment") -> str:
    """A pasteable call that reproduces the network's side of a counterexample (one-row batches)."""

    def batch(row: Mapping[str, int]) -> str:
        return "{" + ", ".join(f"{k!r}: [{v}]" for k, v in row.items()) + "}"

    srcs = ", ".join(f"{v!r}: {batch(row)}" for v, row in counterexample.sources.items())
    return f"causalabs.interchange_network({network}, {alignment}, {batch(counterexample.base)}, {{{srcs}}}).values"


# --- margins -----------------------------------------------------------------


def pair_margins(decoded: Any, expected: np.ndarray) -> np.ndarray:
    """Per pair: best score of a value other than ``expected`` minus the score of ``expected``.

    Positive where the network's decision differs, larger = closer to failing.
    Without scores it is +1 where the decoded value differs and -1 where it
    agrees; a value the network cannot produce at all gets +inf.
    """
    values = decoded.values.detach().cpu().numpy().astype(np.int64)
    if decoded.scores is None or decoded.classes is None:
        return np.where(values != expected, 1.0, -1.0)
    scores = decoded.scores.detach().float().cpu().numpy()
    classes = np.asarray(decoded.classes, dtype=np.int64)
    match = classes[None, :] == expected[:, None]
    found = match.any(axis=1)
    own = np.where(match, scores, -np.inf).max(axis=1)
    other = np.where(match, -np.inf, scores).max(axis=1)
    margin = other - own
    return np.where(found, margin, np.inf)


# --- checks ------------------------------------------------------------------


def _check(model: Any, alignment: Alignment, variables: Iterable[Any] | None) -> tuple[str, ...]:
    alignment.check_against(model)
    if variables is None:
        names = tuple(alignment.sites)
    else:
        names = tuple(getattr(v, "name", v) for v in variables)
        for v in names:
            if v not in model.variables:
                raise UnknownVariableError(
                    f"falsify: {model.name} has no variable {v!r}; its variables are {', '.join(model.variables)}"
                )
            if v not in alignment.sites:
                raise AlignmentError(
                    f"falsify: {v!r} has no site in the alignment (it aligns {', '.join(alignment.sites) or 'nothing'})"
                )
    if not names:
        raise AlignmentError("falsify: no variable to intervene on (the alignment is empty)")
    return names


def _replay_call(name: str, variables: Sequence[str] | None, kw: Mapping[str, Any]) -> str:
    parts = [name, "network", "alignment"]
    if variables is not None:
        parts.append(f"variables={list(variables)!r}")
    parts += [f"{k}={v!r}" for k, v in kw.items()]
    return f"causalabs.verification.falsify({', '.join(parts)})"


# --- the search --------------------------------------------------------------

class _Disagreement(AssertionError):
    """Raised inside the property when a drawn example holds a disagreeing pair."""


class _OutOfTime(BaseException):
    """Ends generation at the deadline; a BaseException, so the library does not shrink it."""


def falsify(
    hypothesis: Any,
    network: Network,
    alignment: Alignment,
    *,
    variables: Iterable[Any] | None = None,
    max_examples: int = 300,
    seed: int = 0,
    deadline_s: float = 30.0,
    batch: int = 32,
    backend: Any = "native",
) -> FalsifyResult:
    """Search for an interchange on which ``network`` (under ``alignment``) and ``hypothesis`` disagree.

    ``variables`` limits the intervened sets to non-empty subsets of these
    (default: every aligned variable).  ``max_examples`` bounds the drawn
    examples, each a list of up to ``batch`` pairs evaluated in one network
    call; ``deadline_s`` bounds the whole search, shrinking and minimisation
    included (past it the best counterexample so far is kept).  Same
    ``seed``, same search, same counterexample, whatever else is imported.
    The counterexample is minimal variable by variable in the order of
    :mod:`~causalabs.verification.falsification.minimize`.  Raises
    :class:`~causalabs.errors.AlignmentError` when the alignment (or
    ``variables``) names a variable the hypothesis lacks or that has no site.
    """
    import torch
    from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings, target
    from hypothesis import seed as hseed
    from hypothesis.errors import Unsatisfiable
    from hypothesis import strategies as st

    from causalabs.engine.interchange import interchange_network
    from causalabs.scm.semantics import interchange, model_of

    model = model_of(hypothesis)
    names = _check(model, alignment, variables)
    if batch < 1 or max_examples < 1:
        raise ValueError(f"falsify: batch and max_examples must be >= 1, got batch={batch}, max_examples={max_examples}")
    inputs = model.inputs
    out_name = model.output
    domains = [model.variables[n].domain for n in inputs]  # a range stays a range: nothing is enumerated
    radices = [len(d) for d in domains]
    # every input value drawn on its own, as its position in the domain: the library
    # shrinks each toward the first value of its domain
    row = st.tuples(*(st.integers(0, r - 1) for r in radices))
    table = rows.admissible_positions(model)
    if table is not None:  # requirements: draw one of the admissible inputs, as its domain positions
        row = st.integers(0, len(table) - 1).map(lambda i: tuple(int(p) for p in table[i]))

    @st.composite
    def examples(draw: Any) -> tuple[tuple[str, ...], list[tuple[tuple[int, ...], ...]]]:
        chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        vs = tuple(v for v in names if v in chosen)  # canonical order, whatever the draw order
        pair = st.tuples(*([row] * (1 + len(vs))))
        n = draw(st.integers(1, batch))
        return vs, draw(st.lists(pair, min_size=n, max_size=n))

    def values(index: np.ndarray) -> dict[str, np.ndarray]:
        """Domain positions (n, inputs) -> input values."""
        return {n: values_at(domains[j], index[:, j]) for j, n in enumerate(inputs)}

    state: dict[str, Any] = {"examples": 0, "pairs": 0, "failure": None, "first": None}
    start = time.perf_counter()

    def evaluate(
        vs: tuple[str, ...], base_idx: np.ndarray, src_idx: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(expected, observed, margins) for pairs given as domain positions."""
        base = values(base_idx)
        sources = {v: values(src_idx[:, j]) for j, v in enumerate(vs)}
        expected = np.asarray(interchange(model, base, sources)[out_name], dtype=np.int64)
        with torch.no_grad():
            dec = interchange_network(network, alignment, base, sources, backend=backend)
        observed = dec.values.detach().cpu().numpy().astype(np.int64)
        return expected, observed, pair_margins(dec, expected)

    def allowed(base_idx: np.ndarray, src_idx: np.ndarray) -> np.ndarray:
        return rows.admissible_pairs(model, values, base_idx, src_idx)

    def fails(vs: tuple[str, ...], base_idx: np.ndarray, src_idx: np.ndarray) -> np.ndarray:
        # a candidate outside the requirements never counts as failing: minimisation stays inside them
        ok = allowed(base_idx, src_idx)
        out = np.zeros(len(base_idx), dtype=bool)
        if ok.any():
            expected, observed, _ = evaluate(vs, base_idx[ok], src_idx[ok])
            out[ok] = observed != expected
        return out

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        phases=(Phase.explicit, Phase.generate, Phase.target),  # shrinking is ours: minimize()
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=False,
        print_blob=False,
    )
    @hseed(seed)
    @given(examples())
    def prop(example: Any) -> None:
        vs, pairs = example
        if time.perf_counter() - start > deadline_s:
            raise _OutOfTime  # stops generation, or a shrink in progress (keeping its best so far)
        index = np.array(pairs, dtype=np.int64).reshape(len(pairs), 1 + len(vs), len(inputs))
        if model.constrained:  # pairs with an input outside the requirements are dropped
            ok = allowed(index[:, 0], index[:, 1:])
            if not ok.any():
                reject()
            pairs, index = [p for p, keep in zip(pairs, ok) if keep], index[ok]
        state["examples"] += 1
        state["pairs"] += len(pairs)
        expected, observed, margins = evaluate(vs, index[:, 0], index[:, 1:])
        finite = margins[np.isfinite(margins)]
        target(float(finite.max()) if finite.size else 1e9, label="margin")
        bad = np.flatnonzero(observed != expected)
        if bad.size:
            if state["first"] is None:
                state["first"] = (time.perf_counter() - start, state["examples"])
            failing = [Pair(vs, tuple(pairs[i][0]), tuple(tuple(r) for r in pairs[i][1:])) for i in bad]
            state["failure"] = min(failing, key=lambda p: order_key(p, names))
            raise _Disagreement(f"{len(bad)} of {len(pairs)} pairs disagree")

    late = False
    with no_harvested_constants():
        try:
            prop()
        except _Disagreement:
            pass  # the library re-runs the shrunk example last
        except Unsatisfiable:
            pass  # requirements rejected so many drawn examples that the library stopped: its budget is spent
        except _OutOfTime:
            # the shrinker only runs failing candidates that are simpler than its current
            # best, so the last failure seen is the best counterexample so far
            late = True
    found = None
    if state["failure"] is not None:
        out_of_time = lambda: time.perf_counter() - start > deadline_s
        best, cut, calls, replayed = minimize(state["failure"], fails, names, radices, out_of_time=out_of_time)
        late = late or cut
        state["examples"] += calls
        state["pairs"] += replayed
        b = np.array([best.base], dtype=np.int64)
        s = np.array([best.sources], dtype=np.int64)
        expected, observed, margins = evaluate(best.vs, b, s)
        base, sources = values(b), {v: values(s[:, j]) for j, v in enumerate(best.vs)}
        found = Counterexample(
            base={n: int(base[n][0]) for n in inputs},
            sources={v: {n: int(sources[v][n][0]) for n in inputs} for v in best.vs},
            expected=int(expected[0]),
            observed=int(observed[0]),
            margin=float(margins[0]),
            seed=seed,
            found_by="falsify",
        )
    elapsed = time.perf_counter() - start
    reason = "deadline" if late else ("counterexample" if found is not None else "max_examples")
    kw = {"max_examples": max_examples, "seed": seed, "deadline_s": deadline_s, "batch": batch}
    hname = getattr(hypothesis, "__name__", model.name)
    return FalsifyResult(
        counterexample=found,
        examples_run=state["examples"],
        seed=seed,
        stop_reason=reason,
        elapsed=elapsed,
        pairs_run=state["pairs"],
        first_failure_s=None if state["first"] is None else state["first"][0],
        hypothesis=hname,
        call=_replay_call(hname, None if variables is None else names, kw),
    )


def replay(
    counterexample: Counterexample, hypothesis: Any, network: Network, alignment: Alignment, *, backend: Any = "native"
) -> tuple[int, int]:
    """Re-run one counterexample by hand: (hypothesis' counterfactual output, network's output)."""
    import torch

    from causalabs.engine.interchange import interchange_network
    from causalabs.scm.semantics import interchange, model_of

    model = model_of(hypothesis)
    base = {k: np.array([v], dtype=np.int64) for k, v in counterexample.base.items()}
    sources = {
        var: {k: np.array([v], dtype=np.int64) for k, v in row.items()} for var, row in counterexample.sources.items()
    }
    expected = int(interchange(model, base, sources)[model.output][0])
    with torch.no_grad():
        observed = int(interchange_network(network, alignment, base, sources, backend=backend).values[0])
    return expected, observed

