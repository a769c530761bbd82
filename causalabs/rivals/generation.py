"""Rival hypotheses: the claim's outputs on every input, another story inside.

:func:`generate` builds, from a symbolic hypothesis, hypotheses that give its
outputs on every factual input but differ under intervention:

``swap``
    two intermediates of the same domain exchange roles (their names, hence
    the sites they align to, are swapped);
``substitute``
    one intermediate computes a candidate of :mod:`causalabs.rivals.grammar`
    instead, and its children are re-synthesised so the outputs are kept:
    *exchange* (the child reads the old intermediate's mechanism inline and
    reads the new one where it used a part that computes the same values) or,
    when every child is an output, *correction* (the output adds
    ``k * (v - candidate)``, for ``k`` in 1 and the hypothesis' constants
    and their squares; a boolean output flips when they differ);
``drop``
    the children read the intermediate's mechanism inline: interventions on
    it change nothing;
``merge``, ``widen``, ``group``
    rewrites of several variables at once (:mod:`causalabs.rivals.groups`):
    two intermediates become one, an intermediate copies a variable of
    another domain, or every member of a group of parallel intermediates
    (``opp0 .. opp3``) is rewritten by one rule.

Every rival is built as a :class:`~causalabs.Hypothesis` class, checked to
give the claim's outputs on every input (enumeration up to
:data:`~causalabs.rivals.equivalence.ENUMERATE_LIMIT` inputs, z3 above), and
kept once up to interventional equivalence (seeded fingerprints, confirmed
by z3).  Generation stops at its work budget (counted steps, z3 resource
limits: :mod:`causalabs.rivals.budget`), so the rivals depend only on the
hypothesis and the settings; wall seconds are a safety stop, reported as such.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs
import numpy as np
import sympy as sp

from causalabs.errors import CausalabsError, MechanismRangeError
from causalabs.rivals.budget import (
    DEFAULT_WORK,
    Z3_RLIMIT,
    Budget,
    OutOfBudget,
    candidate_steps,
    evaluation_steps,
)
from causalabs.rivals.classes import Spec, Table, build, table_of
from causalabs.rivals.equivalence import (
    ENUMERATE_LIMIT,
    RivalError,
    factual_outputs,
    fingerprint,
    interventionally_equivalent,
    same_outputs,
)
from causalabs.rivals.grammar import candidates, constants, evaluate
from causalabs.rivals.groups import absorptions, group_rewrites, merges, widenings
from causalabs.scm.domains import domain_key, values_at
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, enumerate_inputs, model_of, run

#: Rows of the seeded factual sample used to screen candidates on large input spaces.
SAMPLE_ROWS = 20_000
#: Candidate mechanisms tried per intermediate.
CANDIDATES_PER_VARIABLE = 400


@attrs.frozen
class Rival:
    """One rival: a hypothesis class, the kind of change, and the change in words."""

    hypothesis: type = attrs.field(repr=lambda h: h.__name__)
    kind: str
    how: str
    changed: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.hypothesis.__name__


@attrs.frozen
class RivalSet:
    """The rivals of ``claim`` found within the budget; ``complete`` is False when it ran out."""

    claim: str
    rivals: tuple[Rival, ...]
    complete: bool
    considered: int
    seconds: float
    note: str = ""
    #: "" (complete), "limit", "work" (deterministic) or "wall clock" (the safety stop: machine-dependent).
    stopped_by: str = ""
    #: Steps of the work budget spent.
    steps: int = 0


def _factual(model: CausalModel) -> dict[str, np.ndarray]:
    """Every variable on every input, or on a seeded sample (uniform rows plus rows over few values)."""
    if model.input_space_size <= ENUMERATE_LIMIT:
        return run(model, enumerate_inputs(model))
    rng = np.random.default_rng(0)
    half = SAMPLE_ROWS // 2
    batch = {}
    for n in model.inputs:
        d = model.variables[n].domain
        few = rng.integers(0, min(3, len(d)), half)  # collisions (equalities) on a few values
        batch[n] = values_at(d, np.concatenate([rng.integers(0, len(d), half), few]))
    return run(model, batch)


def _check_symbolic(model: CausalModel) -> None:
    for n, v in model.variables.items():
        if not v.symbolic:
            raise RivalError(
                f"{model.name}.{n}: its mechanism is a Python callable; rivals are built from sympy "
                "mechanisms (declare it with a sympy expression)"
            )
    if not model.internals:
        raise RivalError(f"{model.name}: no intermediate variable, so no rival can differ inside")


def _try_build(name: str, table: Table, doc: str, requires: Sequence[sp.Basic] = ()) -> type | None:
    """Build the class; an output whose mechanism leaves its declared domain gets its image instead.

    None when the table is no valid hypothesis (a candidate that is not a rival).
    """
    table = dict(table)
    for _ in range(len(table) + 1):
        try:
            return build(name, table, doc, requires)
        except MechanismRangeError as exc:  # "Class.variable: the mechanism produces ..."
            bad = str(exc).split(":", 1)[0].partition(".")[2]
            if bad not in table or table[bad].kind != "output" or table[bad].domain is None:
                return None
            table[bad] = Spec(table[bad].kind, None, table[bad].mechanism)
        except CausalabsError:
            return None
    return None


def _swaps(model: CausalModel, table: Table) -> Iterator[tuple[str, Table, tuple[str, ...]]]:
    for u, v in itertools.combinations(model.internals, 2):
        if domain_key(model.variables[u].domain) != domain_key(model.variables[v].domain):
            continue
        sigma = {u: v, v: u}
        rename = {sp.Symbol(a): sp.Symbol(b) for a, b in sigma.items()}
        new: Table = {}
        for n in table:
            s = table[sigma.get(n, n)]
            mech = None if s.mechanism is None else s.mechanism.xreplace(rename)
            new[n] = Spec(table[n].kind, table[n].domain, mech)
        yield f"{u} and {v} swapped", new, (u, v)


def _inline(table: Table, v: str, child: str) -> sp.Basic:
    mech = table[child].mechanism
    assert mech is not None and table[v].mechanism is not None
    return mech.xreplace({sp.Symbol(v): table[v].mechanism})


def _drops(model: CausalModel, table: Table) -> Iterator[tuple[str, Table, tuple[str, ...]]]:
    for v in model.internals:
        new = dict(table)
        for c in model.children(v):
            new[c] = Spec(table[c].kind, table[c].domain, _inline(table, v, c))
        yield f"{v} dropped (its children compute it inline)", new, (v,) + model.children(v)


def _exchange(model: CausalModel, table: Table, v: str, g: sp.Basic, gv: np.ndarray,
              factual: Mapping[str, np.ndarray], spend: Callable[[int], None]) -> Table | None:
    below = model.descendants(v) | {v}
    new = dict(table)
    new[v] = Spec(table[v].kind, table[v].domain, g)
    replaced = False
    for c in model.children(v):
        f = _inline(table, v, c)
        for node in sp.preorder_traversal(f):
            if node.is_number or isinstance(node, sp.logic.boolalg.BooleanAtom) or node == f:
                continue
            if {s.name for s in node.free_symbols} & below:
                continue
            spend(evaluation_steps(node))
            values = evaluate(node, factual)
            if values is not None and np.array_equal(values, gv):
                f = f.xreplace({node: sp.Symbol(v)})
                replaced = True
                break
        new[c] = Spec(table[c].kind, table[c].domain, f)
    return new if replaced else None


def _as_int(e: sp.Basic) -> sp.Basic:
    """A boolean expression as its 0/1 value (sympy does no arithmetic on booleans)."""
    return sp.Piecewise((1, e), (0, True)) if isinstance(e, sp.logic.boolalg.Boolean) else e


def _corrections(model: CausalModel, table: Table, v: str, g: sp.Basic) -> Iterator[tuple[str, Table]]:
    children = model.children(v)
    if not children or not all(model.variables[c].is_output for c in children):
        return
    ks = [1] + constants(model)
    ks += [k * k for k in constants(model)]
    gi = _as_int(g)
    for k in dict.fromkeys(ks[:5]):
        new = dict(table)
        new[v] = Spec(table[v].kind, table[v].domain, g)
        for c in children:
            f = _inline(table, v, c)
            sv = sp.Symbol(v)
            if set(model.variables[c].domain) <= {0, 1}:
                if k != 1:
                    return
                flipped = sp.Not(f) if isinstance(f, sp.logic.boolalg.Boolean) else 1 - f
                f2 = sp.Piecewise((f, sp.Eq(sv, gi)), (flipped, True))
                what = "flips when they differ"
            else:
                f2 = _as_int(f) + k * (sv - gi)
                what = f"adds {k}*({v} - ({sp.sstr(g)}))"
            new[c] = Spec(table[c].kind, table[c].domain, f2)
        yield what, new


def _substitutions(model: CausalModel, table: Table, factual: Mapping[str, np.ndarray],
                   spend: Callable[[int], None], *, correct: bool) -> Iterator[tuple[str, Table, tuple[str, ...]]]:
    """Exchanges (``correct=False``) or output corrections (``correct=True``) for every candidate."""
    for v in model.internals:
        for g in candidates(model, v, factual, CANDIDATES_PER_VARIABLE, spend):
            changed = (v,) + model.children(v)
            if not correct:
                gv = evaluate(g, factual)
                assert gv is not None
                ex = _exchange(model, table, v, g, gv, factual, spend)
                if ex is not None:
                    yield f"{v} := {sp.sstr(g)} (children re-synthesised by exchange)", ex, changed
                continue
            for what, new in _corrections(model, table, v, g):
                yield f"{v} := {sp.sstr(g)} (the output {what})", new, changed


KINDS = ("swap", "substitute", "drop", "merge", "widen", "group")


def generate(
    hypothesis: HypothesisLike,
    *,
    limit: int | None = None,
    work: int | None = DEFAULT_WORK,
    budget_s: float | None = 300.0,
    kinds: Sequence[str] = KINDS,
) -> RivalSet:
    """Rivals of ``hypothesis``: same outputs on every input, different under intervention.

    ``limit``: stop after this many rivals (swaps first, then drops, merges,
    widenings, group rewrites, exchanges, then corrections, in the hypothesis' variable
    order: the few structural rewrites before the many grammar ones).  ``work``: the work budget in steps
    (:mod:`causalabs.rivals.budget`; None: unbounded); the rivals found
    depend only on the hypothesis, ``limit``, ``work`` and ``kinds``.
    ``budget_s``: a wall-clock safety stop (None: none); a run that reaches it
    says so (``stopped_by="wall clock"``) and its set depends on the machine.
    Either way the set is returned with ``complete=False`` and a note.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise RivalError(f"kinds: unknown kind {unknown[0]!r}; expected some of {', '.join(KINDS)}")
    model = model_of(hypothesis)
    _check_symbolic(model)
    budget = Budget(work, budget_s)
    table = table_of(model)
    factual = _factual(model)
    claim_out = factual_outputs(model)
    prints: dict[str, list[type]] = {fingerprint(model): [model]}  # type: ignore[list-item]
    rivals: list[Rival] = []
    considered = 0
    spend = budget.spend
    sources: list[tuple[str, Iterator[tuple[str, Table, tuple[str, ...]]]]] = []
    if "swap" in kinds:
        sources.append(("swap", _swaps(model, table)))
    if "drop" in kinds:
        sources.append(("drop", _drops(model, table)))
    if "merge" in kinds:
        sources.append(("merge", merges(model, table)))
        sources.append(("merge", absorptions(model, table)))
    if "widen" in kinds:
        sources.append(("widen", widenings(model, table)))
    if "group" in kinds:
        sources.append(("group", group_rewrites(model, table)))
    if "substitute" in kinds:
        sources.append(("substitute", _substitutions(model, table, factual, spend, correct=False)))
        sources.append(("substitute", _substitutions(model, table, factual, spend, correct=True)))
    note, stopped_by = "", ""
    try:
        for kind, stream in sources:
            for how, new, changed in stream:
                if limit is not None and len(rivals) >= limit:
                    raise OutOfBudget("limit")
                spend(candidate_steps(s.mechanism for s in new.values()))
                considered += 1
                name = f"{model.name}Rival{len(rivals) + 1}"
                cls = _try_build(name, new, f"Rival of {model.name}: {how}.", model.requires)
                if cls is None or same_outputs(model, cls, claim_out, rlimit=Z3_RLIMIT) is not True:
                    continue
                fp = fingerprint(model_of(cls))
                # z3's unknown counts as a duplicate: a rival is kept only when proved different
                if any(interventionally_equivalent(other, cls, rlimit=Z3_RLIMIT) is not False
                       for other in prints.get(fp, [])):
                    continue
                prints.setdefault(fp, []).append(cls)
                rivals.append(Rival(cls, kind, how, tuple(dict.fromkeys(changed))))
    except OutOfBudget as stop:
        stopped_by = stop.reason
        if stop.reason == "limit":
            note = f"stopped at the limit of {limit} rivals"
        elif stop.reason == "work":
            note = f"stopped at the work budget of {work:,} steps after {considered} candidates; raise work for more"
        else:
            note = (f"stopped by the wall-clock safety stop of {budget_s:g} s after {considered} candidates "
                    f"({budget.spent:,} steps of work): incomplete, and the set depends on the machine's speed; "
                    "raise budget_s")
    return RivalSet(model.name, tuple(rivals), not stopped_by, considered, round(budget.elapsed(), 3), note,
                    stopped_by, budget.spent)
