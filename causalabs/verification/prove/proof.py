"""``prove``: exact verification of an alignment on a ReLU MLP over finite input domains.

For each set of intervened variables, ``prove`` looks for a base input and
one source input per variable where the network's decision under the aligned
interchange differs from the hypothesis' counterfactual output, by one of
two exact methods, chosen per set from estimates of their cost:

* **enumeration**: every (base entry, source entries) combination through
  the exact tail (:mod:`.product`), or, when only affine layers follow the
  sites, the sum of per-variable minima (:mod:`.enumerate`);
* **z3**: one formula per set (:mod:`.query`).

No disagreement -> "proved"; one -> replayed through the engine ->
"refuted" with a :class:`~causalabs.verification.Counterexample`; a timeout
or an unconfirmed witness -> "unknown" (never reported as proved).  See
``docs/prove.md``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import numpy as np
import z3

from causalabs.errors import AlignmentError, ProofSettingError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network
from causalabs.scm.answers import ThreeValued
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, VarRef, model_of, var_name
from causalabs.verification.prove import enumerate as prove_enum
from causalabs.verification.prove import product
from causalabs.verification.prove.inputs import InputEncoding, bits_encoding, one_hot_encoding, probe_encoding
from causalabs.verification.prove.query import encode_query, site_positions, table
from causalabs.verification.prove.relu_z3 import (
    Layers,
    UnsupportedNetworkError,
    argmax_classes,
    check_call,
    mlp_layers,
)
from causalabs.verification.prove.watch import ProofTimeout, Watch
from causalabs.verification.report.counterexample import Counterexample

__all__ = [
    "InputEncoding",
    "ProofResult",
    "UnsupportedNetworkError",
    "bits_encoding",
    "one_hot_encoding",
    "probe_encoding",
    "prove",
]

Status = Literal["proved", "refuted", "unknown"]
Method = Literal["auto", "enumeration", "z3"]
METHODS = ("auto", "enumeration", "z3")
DEFAULT_TIMEOUT_MS = 60_000
#: Up to this many inputs, each source is tabulated exactly (see :func:`.sites.source_table`); the
#: enumerations need these tables, so above it z3 decides with a symbolic copy of the network per source.
SOURCE_TABLE_LIMIT = 20_000


@attrs.frozen
class ProofResult(ThreeValued):
    """The answer of :func:`prove`.

    ``status``: "proved" (for every base and sources, in exact rational
    arithmetic, the intervened network's decision equals the hypothesis'
    counterfactual), "refuted" (``counterexample`` holds a replayed witness)
    or "unknown" (timeout, or a witness the float32 engine did not confirm).
    ``checked`` lists the intervened variable sets, in order.
    """

    status: Status
    counterexample: Counterexample | None
    reason: str
    elapsed: float
    checked: tuple[tuple[str, ...], ...] = ()
    #: per checked set reached, how it was settled: "enumeration" (exact, exhaustive) or "z3"
    methods: tuple[str, ...] = ()
    #: per checked set reached, the estimated cost of each method considered ("enumeration", "z3"), in
    #: operations (see docs/prove.md); the cheaper one ran unless ``method`` forced one
    estimates: tuple[Mapping[str, float], ...] = ()


# --- interventions ------------------------------------------------------------


def _variable_sets(
    model: CausalModel, alignment: Alignment, variables: Sequence[Any] | None
) -> list[tuple[str, ...]]:
    aligned = [n for n in alignment.sites]
    for n in aligned:
        if n not in model.variables:
            raise AlignmentError(f"the alignment maps {n!r}, which {model.name} does not have")
    if variables is None:
        sets: list[tuple[str, ...]] = [(n,) for n in aligned]
        if len(aligned) > 1:
            sets.append(tuple(aligned))
        return sets
    out: list[tuple[str, ...]] = []
    for item in variables:
        group = (item,) if isinstance(item, str) or not isinstance(item, (list, tuple, set, frozenset)) else tuple(item)
        names = tuple(var_name(model, v) for v in group)
        for n in names:
            alignment[n]  # raises AlignmentError naming the missing variable
        out.append(names)
    return out


# --- choosing the method -------------------------------------------------------


def z3_cost(layers: Layers, sources_symbolic: int = 0) -> float:
    """z3's estimated cost: the network's multiply-adds x 2 ** (its ReLU units) x its logits.

    z3 sees the base run symbolically; in the worst case each ReLU whose sign
    is not fixed splits its search in two, and the argmax is a choice among
    the logits.  Symbolic source copies (above the table limit) multiply the
    multiply-adds and the ReLUs.
    """
    macs = sum(len(op[1]) * len(op[1][0]) for op in layers.ops if op[0] == "linear" and op[1])
    width = layers.in_width
    relus = 0
    for op in layers.ops:
        if op[0] == "linear":
            width = len(op[1])
        elif op[0] == "relu":
            relus += width
    copies = 1 + sources_symbolic
    return float(macs * copies * layers.out_width) * 2.0 ** min(relus * copies, 900)


def affine_cost(plan: product.ProductPlan, classes: Sequence[int], tables: Mapping[str, Any]) -> float:
    """The affine enumeration's estimated cost: base entries x value combinations x classes x variables."""
    combos = math.prod(plan.radix)
    per_source = sum(len(tables[v]) * len(tables[v][0][0]) for v in plan.names)
    return float(len(plan.base_rows) * combos * len(classes) * (1 + len(plan.names)) + per_source * len(classes))


def _choose(method: str, costs: Mapping[str, float]) -> str:
    """The method to run: forced, or the cheapest estimate (enumeration on ties)."""
    if method == "z3" or "enumeration" not in costs:
        return "z3"
    if method == "enumeration":
        return "enumeration"
    return "enumeration" if costs["enumeration"] <= costs["z3"] else "z3"


# --- the proof ----------------------------------------------------------------


def _replay(
    hypothesis: HypothesisLike,
    model: CausalModel,
    network: Network,
    alignment: Alignment,
    base: dict[str, int],
    sources: dict[str, dict[str, int]],
) -> tuple[int, int, float | None]:
    """(expected, observed, margin) for one interchange, by the numpy semantics and the engine."""
    from causalabs.engine import interchange_network
    from causalabs.scm.semantics import interchange

    def batch(row: Mapping[str, int]) -> dict[str, np.ndarray]:
        return {n: np.array([row[n]], dtype=np.int64) for n in model.inputs}

    srcs = {v: batch(r) for v, r in sources.items()}
    expected = int(interchange(hypothesis, batch(base), srcs)[model.output][0])
    dec = interchange_network(network, Alignment({v: alignment[v] for v in sources}), batch(base), srcs)
    observed = int(dec.values.reshape(-1)[0])
    margin = None
    if dec.scores is not None and dec.classes is not None and expected in dec.classes:
        sc = dec.scores.reshape(1, -1)[0].detach().cpu().double()
        margin = float(sc.max() - sc[list(dec.classes).index(expected)])
    return expected, observed, margin


def prove(
    hypothesis: HypothesisLike,
    network: Network,
    alignment: Alignment,
    *,
    variables: Sequence[VarRef | Sequence[VarRef]] | None = None,
    timeout_ms: int | None = DEFAULT_TIMEOUT_MS,
    encode_inputs: InputEncoding | None = None,
    timeout: float | None = None,
    method: Method = "auto",
    progress: bool | None = None,
) -> ProofResult:
    """Prove or refute that ``alignment`` makes ``network`` an exact abstraction of ``hypothesis``.

    ``network.module`` must trace (``torch.fx``) to one chain of Linear /
    ReLU / identity / flatten steps -- anything else raises
    :class:`UnsupportedNetworkError` naming the first node at fault -- with
    an argmax decoder.  ``variables``: the intervened sets to check (a name,
    or a sequence of names, per set); default each aligned variable alone,
    then all together.  ``timeout``: seconds for the whole call; past it the
    answer is "unknown" and says where it stopped (never "proved").
    ``timeout_ms`` bounds each z3 check.  ``method``: "auto" (per set, the
    cheaper of exact enumeration and z3 by estimate), "enumeration" (wherever
    it applies) or "z3".  ``progress``: a progress line on stderr for proofs
    over a second (default: when stderr is a terminal).  ``encode_inputs``:
    the encoder as an :class:`InputEncoding`; default probe ``network.encode``.
    """
    if method not in METHODS:
        raise ProofSettingError(f"prove: method={method!r}; choose one of {', '.join(METHODS)}")
    if timeout_ms is not None and not int(timeout_ms) >= 1:
        raise ProofSettingError(f"prove: timeout_ms must be a positive number of milliseconds, got {timeout_ms}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0 and math.isfinite(timeout)):
        raise ProofSettingError(f"prove: timeout must be a positive number of seconds, got {timeout!r}")
    with Watch(timeout, progress) as watch:
        done: list[tuple[str, Mapping[str, float]]] = []
        sets: list[tuple[str, ...]] = []
        try:
            return _prove(hypothesis, network, alignment, variables, timeout_ms, encode_inputs, method, watch, sets, done)
        except ProofTimeout as exc:
            return ProofResult(
                "unknown", None,
                f"timed out after {watch.elapsed():.2f} s (timeout={timeout:g} s), during {exc.stage}; not proved",
                watch.elapsed(), tuple(sets), tuple(m for m, _ in done), tuple(e for _, e in done),
            )


def _prove(
    hypothesis: HypothesisLike,
    network: Network,
    alignment: Alignment,
    variables: Sequence[Any] | None,
    timeout_ms: int | None,
    encode_inputs: InputEncoding | None,
    method: str,
    watch: Watch,
    sets: list[tuple[str, ...]],
    done: list[tuple[str, Mapping[str, float]]],
) -> ProofResult:
    watch.stage("reading the network and its encoder")
    model = model_of(hypothesis)
    if len(model.outputs) != 1:
        raise UnsupportedNetworkError(f"{model.name}: prove compares one output, it has {model.outputs}")
    layers = mlp_layers(network.module, network=network.name)
    classes = argmax_classes(network, layers)
    enc = encode_inputs if encode_inputs is not None else probe_encoding(network, model)
    if enc.width != layers.in_width:
        raise UnsupportedNetworkError(
            f"{network.name}: the input encoding has width {enc.width}, the first Linear takes {layers.in_width}"
        )
    check_call(network, model)
    missing = [n for n in model.inputs if n not in enc.table]
    if missing:
        raise UnsupportedNetworkError(f"the input encoding lacks the input(s) {', '.join(missing)}")
    sets += _variable_sets(model, alignment, variables)
    if not sets or not all(sets):
        raise AlignmentError("prove: no variable to intervene on (an empty alignment or set)")
    unknowns: list[str] = []
    tables: dict[str, Any] = {}
    vectors: dict[int, Any] = {}
    tabulate = model.input_space_size <= SOURCE_TABLE_LIMIT
    for group in sets:
        label = "{" + ", ".join(group) + "}"
        sites, pos = site_positions(layers, alignment, group)
        costs: dict[str, float] = {"z3": z3_cost(layers, 0 if tabulate else len(group))}
        found = None
        if tabulate:
            watch.stage(f"{label}: tabulating the sources ({model.input_space_size:,} inputs)")
            for v, st in sites:
                table(model, layers, enc, st, v, pos[v], tables, vectors, watch.check)
        if tabulate and method != "z3":
            plan = product.plan(model, layers, enc, sites, pos, tables, vectors, watch)
            ways: dict[str, float] = {}  # the enumerations that apply, with their estimates
            if prove_enum.affine_after(layers, plan.start) and len(set(classes)) == len(classes):
                ways["affine"] = affine_cost(plan, classes, tables)
            if plan.combinations <= prove_enum.ENUMERATION_LIMIT:
                ways["product"] = float(plan.cost)
            if ways:
                costs["enumeration"] = min(ways.values())
            if _choose(method, costs) == "enumeration":
                for way in sorted(ways, key=ways.__getitem__):
                    if way == "affine":
                        watch.stage(f"{label}: exact enumeration (affine after the sites)")
                        found = prove_enum.enumerate_check(model, layers, enc, sites, pos, classes, tables, vectors,
                                                           watch.check)
                    else:
                        found = product.run(plan, layers, sites, pos, classes, tables, watch)
                    if found is not None:
                        break
        if found is not None:
            done.append(("enumeration", costs))
            if found.witness is None:
                continue
            b_row, s_rows = found.witness
        else:
            done.append(("z3", costs))
            cons, read_base, srcs = encode_query(model, layers, enc, alignment, classes, group, tables, tabulate=tabulate)
            limit = _z3_limit(timeout_ms, watch)
            watch.stage(f"{label}: z3 ({'no limit' if limit is None else f'limit {limit / 1000:g} s'})")
            s = z3.Solver()
            if limit is not None:
                s.set("timeout", limit)
            s.add(*cons)
            answer = s.check()
            if answer == z3.unsat:
                continue
            if answer != z3.sat:
                by_timeout = limit is not None and (timeout_ms is None or limit < int(timeout_ms))
                if by_timeout and any(w in s.reason_unknown() for w in ("timeout", "canceled")):
                    raise ProofTimeout(watch.stage_text)  # the whole call's timeout stopped z3
                cap = "" if timeout_ms is None else f" (timeout_ms={timeout_ms})"
                unknowns.append(f"z3 returned unknown on {label}{cap}: {s.reason_unknown()}")
                continue
            b_row, s_rows = read_base(s.model()), srcs(s.model())
        expected, observed, margin = _replay(hypothesis, model, network, alignment, b_row, s_rows)
        if expected == observed:
            unknowns.append(
                f"{done[-1][0]} found a disagreement on {label} at base {b_row}, sources {s_rows} in exact "
                f"arithmetic, but the float32 engine replay agrees (both {observed}); not refuted"
            )
            continue
        cx = Counterexample(b_row, s_rows, expected, observed, margin=margin, found_by="prove")
        return ProofResult(
            "refuted", cx,
            f"intervening on {label}: the hypothesis expects {expected}, {network.name} decides {observed}",
            watch.elapsed(), tuple(sets), tuple(m for m, _ in done), tuple(e for _, e in done),
        )
    methods, estimates = tuple(m for m, _ in done), tuple(e for _, e in done)
    if unknowns:
        return ProofResult("unknown", None, "; ".join(unknowns) + "; not proved", watch.elapsed(), tuple(sets),
                           methods, estimates)
    n = model.input_space_size
    how = ", ".join(f"{{{', '.join(g)}}} by {m}" for g, m in zip(sets, methods))
    return ProofResult(
        "proved", None,
        f"for every base and sources ({n:,} inputs each), on {how}, "
        f"{network.name}'s decision under the aligned interchange (exact rational arithmetic) "
        f"equals {model.name}'s counterfactual",
        watch.elapsed(), tuple(sets), methods, estimates,
    )


def _z3_limit(timeout_ms: int | None, watch: Watch) -> int | None:
    """z3's limit in ms: ``timeout_ms``, or less if the whole call's timeout comes first."""
    left = watch.left()
    if left is None:
        return None if timeout_ms is None else int(timeout_ms)
    watch.check()
    ms = max(1, int(left * 1000))
    return ms if timeout_ms is None else min(int(timeout_ms), ms)
