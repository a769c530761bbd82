"""``prove``: exact z3 verification of an alignment on a ReLU MLP over finite input domains.

For each set of intervened variables, z3 looks for a base input and one
source input per variable where the network's decision under the aligned
interchange differs from the hypothesis' counterfactual output.  unsat ->
"proved" (no such inputs exist), sat -> "refuted" with a
:class:`~causalabs.verification.Counterexample` that the engine has replayed,
unknown -> "unknown" (never reported as proved).  See ``docs/prove.md``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any, Literal

import attrs
import numpy as np
import z3

from causalabs.errors import AlignmentError
from causalabs.network.alignment import Alignment
from causalabs.network.network import Network
from causalabs.network.sites import Site
from causalabs.scm._z3translate import in_domain, to_z3
from causalabs.scm.answers import ThreeValued
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import (
    HypothesisLike,
    VarRef,
    model_of,
    var_name,
)
from causalabs.verification.report.counterexample import Counterexample
from causalabs.verification.prove.enumerate import enumerate_check
from causalabs.verification.prove.inputs import (
    InputEncoding,
    bits_encoding,
    one_hot_encoding,
    probe_encoding,
)
from causalabs.verification.prove.sites import mix, mix_key, source_table, width_at
from causalabs.verification.prove.relu_z3 import (
    Builder,
    Layers,
    UnsupportedNetworkError,
    Vec,
    argmax_classes,
    check_call,
    mlp_layers,
    site_position,
    term,
)

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
DEFAULT_TIMEOUT_MS = 60_000


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
    #: per checked set, how it was settled: "enumeration" (exact, exhaustive; see
    #: ``prove_enum``) or "z3"
    methods: tuple[str, ...] = ()


def _decision(b: Builder, logits: Vec, classes: Sequence[int], tag: str) -> z3.ArithRef:
    """The decoded value: ``classes[k]`` with ``k`` the first index of the largest logit."""
    if len(logits) == 1:
        return z3.IntVal(classes[0])
    m = z3.Real(f"{tag}.max")
    k = z3.Int(f"{tag}.argmax")
    b.constraints.append(z3.And(k >= 0, k < len(logits)))
    for i, li in enumerate(logits):
        t = term(li)
        b.constraints += [t <= m, z3.Implies(k == i, t == m), z3.Implies(k > i, t < m)]
    out: z3.ArithRef = z3.IntVal(classes[-1])
    for i in range(len(classes) - 2, -1, -1):
        out = z3.If(k == i, classes[i], out)
    return out


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


# --- the proof ----------------------------------------------------------------


def _ints(model: CausalModel, prefix: str) -> dict[str, z3.ArithRef]:
    return {n: z3.Int(f"{prefix}{n}") for n in model.inputs}


def _read(m: z3.ModelRef, xs: Mapping[str, z3.ArithRef]) -> dict[str, int]:
    return {n: m.eval(x, model_completion=True).as_long() for n, x in xs.items()}


def _first_stop(layers: Layers) -> int:
    """Position after the first Linear if only Identity layers precede it (folded with the encoder)."""
    for k, op in enumerate(layers.ops):
        if op[0] == "linear":
            return k + 1
        if op[0] != "identity":
            return 0
    return 0


def _run(b: Builder, layers: Layers, enc: InputEncoding, xs: Mapping[str, z3.ArithRef], stop: int, tag: str) -> Vec:
    """The clean run from the encoded input up to position ``stop``, the first Linear folded with the encoder."""
    first = _first_stop(layers)
    if first == 0 or stop < first:
        return b.run(layers, enc.vector(xs), 0, stop, tag)
    op = layers.ops[first - 1]
    x = [e if isinstance(e, Fraction) else b.fresh(f"{tag}.{layers.names[first - 1]}[{j}]", e)
         for j, e in enumerate(enc.affine(op[1], op[2], xs))]
    return b.run(layers, x, first, stop, tag)


#: Up to this many inputs, each source is tabulated exactly (see :func:`_source_table`).
SOURCE_TABLE_LIMIT = 20_000


def _sites(layers: Layers, alignment: Alignment, group: tuple[str, ...]) -> tuple[list[tuple[str, Site]], dict[str, int]]:
    """The group's sites and their positions, checked against the activation widths."""
    sites = [(v, alignment[v]) for v in group]
    pos = {v: site_position(layers, s) for v, s in sites}
    for v, s in sites:
        w = width_at(layers, pos[v])
        if s.subspace.units is not None:
            bad = [u for u in s.subspace.units if not -w <= u < w]
            if bad:
                raise AlignmentError(f"site {s.name}: unit {bad[0]} is out of range")
        elif s.subspace.featurizer is not None and getattr(s.subspace.featurizer, "width", None) != w:
            raise AlignmentError(f"site {s.name}: featurizer width does not match the activation width {w}")
    return sites, pos


def _table(
    model: CausalModel, layers: Layers, enc: InputEncoding, s: Site, v: str, p: int, tables: dict[str, Any],
    vectors: dict[int, Any] | None = None,
) -> Any:
    if v not in tables:
        tables[v] = source_table(model, layers, enc, s, v, p, vectors)
    return tables[v]


def _encode_query(
    model: CausalModel,
    layers: Layers,
    enc: InputEncoding,
    alignment: Alignment,
    classes: Sequence[int],
    group: tuple[str, ...],
    tables: dict[str, Any] | None = None,
) -> tuple[list[z3.BoolRef], Any, Any]:
    """Constraints whose solutions are (base, sources) with decision != counterfactual.

    Returns the constraints, the base input ints, and a function reading the
    sources (variable -> input row) from a z3 model.
    """
    b = Builder()
    cons: list[z3.BoolRef] = []
    base = _ints(model, "base.")
    sites, pos = _sites(layers, alignment, group)
    fixed: dict[str, z3.ArithRef] = {}
    src_vec: dict[str, Vec] = {}
    keys: dict[str, list[z3.ArithRef]] = {}
    readers: dict[str, Any] = {}
    tabulate = model.input_space_size <= SOURCE_TABLE_LIMIT
    for v, s in sites:
        if tabulate:
            table = _table(model, layers, enc, s, v, pos[v], {} if tables is None else tables)
            idx, hv = z3.Int(f"tab[{v}].index"), z3.Int(f"tab[{v}].value")
            keys[v] = [z3.Real(f"tab[{v}].key{j}") for j in range(len(table[0][0]))]
            cons.append(z3.Or([
                z3.And(idx == i, hv == val, *[kj == z3.RealVal(c) for kj, c in zip(keys[v], key)])
                for i, (key, val, _) in enumerate(table)
            ]))
            fixed[v] = hv
            rows = [row for _, _, row in table]
            readers[v] = lambda m, idx=idx, rows=rows: dict(rows[m.eval(idx, model_completion=True).as_long()])
        else:
            xs = _ints(model, f"src[{v}].")
            cons += [in_domain(x, model.variables[n].domain) for n, x in xs.items()]
            e = to_z3(model, f"hsrc[{v}].", needed=[v])
            cons += list(e.constraints)
            cons += [e.values[n] == xs[n] for n in model.inputs if n in e.values]
            fixed[v] = e.values[v]
            src_vec[v] = _run(b, layers, enc, xs, pos[v], f"src[{v}]")
            readers[v] = lambda m, xs=xs: _read(m, xs)
    cons += [in_domain(xb, model.variables[n].domain) for n, xb in base.items()]
    cf = to_z3(model, "hcf.", interventions=fixed, needed=[model.output])
    cons += list(cf.constraints)
    cons += [cf.values[n] == base[n] for n in model.inputs if n in cf.values]
    expected = cf.values[model.output]
    start = 0 if any(p < _first_stop(layers) for p in pos.values()) else _first_stop(layers)
    x = _run(b, layers, enc, base, start, "base")
    read_base = lambda m: _read(m, base)
    # network: the patched base run
    for p in range(start, len(layers.names) + 1):
        for v, s in sites:
            if pos[v] == p:
                x = mix_key(b, x, keys[v], s, f"mix[{v}]") if v in keys else mix(b, x, src_vec[v], s, f"mix[{v}]")
        if p < len(layers.names):
            x = b.run(layers, x, p, p + 1, "base")
    decision = _decision(b, x, classes, "net")
    cons += b.constraints
    cons.append(decision != expected)
    return cons, read_base, lambda m: {v: readers[v](m) for v in group}


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
) -> ProofResult:
    """Prove or refute, with z3, that ``alignment`` makes ``network`` an abstraction of ``hypothesis``.

    ``network.module`` must be an ``nn.Sequential`` of Linear / ReLU /
    Identity layers (anything else raises :class:`UnsupportedNetworkError`
    naming the module) with an argmax decoder.  ``variables``: the
    intervened sets to check (a name, or a sequence of names, per set);
    default each aligned variable alone, then all together.
    ``timeout_ms`` bounds each z3 check.  ``encode_inputs``: the encoder as
    an :class:`InputEncoding`; default probe ``network.encode``.
    """
    t0 = time.perf_counter()
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
    sets = _variable_sets(model, alignment, variables)
    if not sets or not all(sets):
        raise AlignmentError("prove: no variable to intervene on (an empty alignment or set)")
    if timeout_ms is not None and int(timeout_ms) < 1:
        raise ValueError(f"timeout_ms must be a positive number of milliseconds, got {timeout_ms}")
    unknowns: list[str] = []
    methods: list[str] = []
    tables: dict[str, Any] = {}
    vectors: dict[int, Any] = {}
    for group in sets:
        label = "{" + ", ".join(group) + "}"
        found = None
        if model.input_space_size <= SOURCE_TABLE_LIMIT:
            sites, pos = _sites(layers, alignment, group)
            for v, st in sites:
                _table(model, layers, enc, st, v, pos[v], tables, vectors)
            found = enumerate_check(model, layers, enc, sites, pos, classes, tables, vectors)
        if found is not None:
            methods.append("enumeration")
            if found.witness is None:
                continue
            b_row, s_rows = found.witness
        else:
            methods.append("z3")
            cons, read_base, srcs = _encode_query(model, layers, enc, alignment, classes, group, tables)
            s = z3.Solver()
            if timeout_ms is not None:
                s.set("timeout", int(timeout_ms))
            s.add(*cons)
            answer = s.check()
            if answer == z3.unsat:
                continue
            if answer != z3.sat:
                limit = "" if timeout_ms is None else f" (timeout_ms={timeout_ms})"
                unknowns.append(f"z3 returned unknown on {label}{limit}: {s.reason_unknown()}")
                continue
            b_row, s_rows = read_base(s.model()), srcs(s.model())
        expected, observed, margin = _replay(hypothesis, model, network, alignment, b_row, s_rows)
        if expected == observed:
            unknowns.append(
                f"{methods[-1]} found a disagreement on {label} at base {b_row}, sources {s_rows} in exact "
                f"arithmetic, but the float32 engine replay agrees (both {observed}); not refuted"
            )
            continue
        cx = Counterexample(b_row, s_rows, expected, observed, margin=margin, found_by="prove")
        return ProofResult(
            "refuted",
            cx,
            f"intervening on {label}: the hypothesis expects {expected}, {network.name} decides {observed}",
            time.perf_counter() - t0,
            tuple(sets),
            tuple(methods),
        )
    elapsed = time.perf_counter() - t0
    if unknowns:
        return ProofResult("unknown", None, "; ".join(unknowns) + "; not proved", elapsed, tuple(sets), tuple(methods))
    n = model.input_space_size
    how = ", ".join(f"{{{', '.join(g)}}} by {m}" for g, m in zip(sets, methods))
    return ProofResult(
        "proved",
        None,
        f"for every base and sources ({n:,} inputs each), on {how}, "
        f"{network.name}'s decision under the aligned interchange (exact rational arithmetic) "
        f"equals {model.name}'s counterfactual",
        elapsed,
        tuple(sets),
        tuple(methods),
    )
