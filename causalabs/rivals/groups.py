"""Rewrites of several intermediates at once: merges, and group rewrites of parallel variables.

``merge``
    an intermediate ``v`` that copies or shifts another intermediate ``u``
    (``v = u + k`` or ``v = k - u``) becomes the one variable every child of
    ``u`` reads: ``u``'s other children read ``u`` back from ``v``
    (``v - k`` or ``k - v``), so an intervention on ``v`` reaches all of them.
``merge`` (absorption)
    an intermediate ``v`` with one child ``c`` computes ``c``'s value and
    ``c`` copies it: the two become one variable at ``v``'s site.
``widen``
    an intermediate ``v`` copies a variable ``a`` it reads whose domain is
    another (``same := w`` for ``same = Eq(w, x)``), and its children read
    ``v`` where they read ``a`` through ``v``.
``group``
    the intermediates of one *group* (the same name up to a trailing index,
    ``opp0 .. opp3``; at least two) are rewritten together by one rule, each
    with its own mechanism ``f_v`` as argument:

    * ``freeze a = c``: ``g_v = f_v`` with the parent ``a`` (read by every
      member) fixed at ``c`` (each value of ``a``'s domain, up to
      :data:`~causalabs.rivals.grammar.MAX_CONSTANT_DOMAIN` values);
    * ``complement a``: ``g_v = a - f_v`` for a variable ``a`` every member
      may read;
    * ``own term dropped``: ``g_v = f_v`` less its summands that read a
      variable of the member's own index (``is_x2`` in ``count2``);
    * ``indices permuted``: member ``v`` takes the mechanism of member
      ``s(v)`` with the variables of the two indices exchanged, for ``s`` the
      reversal and each cyclic shift;

    and the children are re-synthesised by one strategy for the whole group:
    ``unchanged``; ``offset`` (a child reads ``v + (f_v - g_v)``; a child
    that only shifts ``v`` by a constant passes the offset on to its own
    children); ``inverse`` (for a complement, a child reads ``a - v``) or
    ``inverse by branch`` (a child reads ``f_v`` with every non-constant
    branch of its ``Piecewise`` replaced by ``a - v``).

Every variable a rewrite changes, and every variable below one, takes the
image of its new mechanism as its domain (as a hand-written class without
declared domains does): a rewritten intermediate may hold other values at
the same site.  Whether a candidate keeps the claim's outputs is checked by
the caller (:func:`causalabs.rivals.generation.generate`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

import sympy as sp

from causalabs.rivals.budget import nodes
from causalabs.rivals.classes import Spec, Table
from causalabs.rivals.classes import replace
from causalabs.rivals.grammar import MAX_CONSTANT_DOMAIN
from causalabs.scm.domains import domain_key
from causalabs.scm.model import CausalModel

Candidate = tuple[str, Table, tuple[str, ...]]
#: Largest expression (in sympy nodes) a child may read in place of a rewritten variable: past it,
#: building the rewritten children costs sympy minutes (the ranks of a sort) and the rewrite is skipped.
MAX_REPLACEMENT_NODES = 24
_INDEXED = re.compile(r"(.*?[^0-9])([0-9]+)")


def _index(name: str) -> tuple[str, int] | None:
    m = _INDEXED.fullmatch(name)
    return None if m is None else (m.group(1), int(m.group(2)))


def groups(model: CausalModel) -> list[list[str]]:
    """Intermediates sharing a name up to a trailing index (at least two), each group in index order."""
    found: dict[str, list[tuple[int, str]]] = {}
    for v in model.internals:
        key = _index(v)
        if key is not None:
            found.setdefault(key[0], []).append((key[1], v))
    return [[v for _, v in sorted(members)] for members in found.values() if len(members) >= 2]


def _children(table: Mapping[str, Spec], v: str) -> list[str]:
    sym = sp.Symbol(v)
    return [n for n, s in table.items() if s.mechanism is not None and sym in s.mechanism.free_symbols]


def _below(table: Mapping[str, Spec], names: Sequence[str]) -> set[str]:
    out: set[str] = set()
    todo = list(names)
    while todo:
        n = todo.pop()
        if n in out:
            continue
        out.add(n)
        todo += _children(table, n)
    return out


def _free_domains(table: Table, changed: Sequence[str]) -> Table:
    """``table`` with the domain of every changed variable, and of every variable below one, left to inference."""
    for n in _below(table, changed):
        if table[n].kind != "input":
            table[n] = Spec(table[n].kind, None, table[n].mechanism)
    return table


def _shift(mech: sp.Basic, v: str) -> sp.Basic | None:
    """``k`` when ``mech`` is ``v + k`` (a copy or a constant shift of ``v``), else None."""
    if not isinstance(mech, sp.Expr) or mech.free_symbols != {sp.Symbol(v)}:
        return None
    k = sp.expand(mech - sp.Symbol(v))
    return k if k.is_number else None


def merges(model: CausalModel, table: Table) -> Iterator[Candidate]:
    """``u`` merged into ``v`` for each intermediate ``v = u + k`` or ``v = k - u`` whose ``u`` has other children."""
    for v in model.internals:
        mech = table[v].mechanism
        parents = [] if mech is None else [s.name for s in mech.free_symbols]
        if len(parents) != 1 or parents[0] not in model.internals:
            continue
        u = parents[0]
        others = [c for c in model.children(u) if c != v]
        if not others:
            continue
        k = _shift(mech, u)
        back: sp.Basic
        if k is not None:
            back = sp.Symbol(v) - k
        else:
            k = _shift(-mech, u)  # mech = k' - u with k' = -k
            if k is None:
                continue
            back = -k - sp.Symbol(v)
        new = dict(table)
        for c in others:
            m = new[c].mechanism
            assert m is not None
            new[c] = Spec(new[c].kind, new[c].domain, replace(m, {sp.Symbol(u): back}))
        yield (f"{u} merged into {v} (the other children of {u} read it back from {v})",
               _free_domains(new, others), (u, v, *others))


def absorptions(model: CausalModel, table: Table) -> Iterator[Candidate]:
    """``v`` absorbs its only child ``c``: ``v`` computes ``c`` (``v``'s mechanism inlined), ``c`` copies ``v``.

    ``v`` takes ``c``'s declared domain (it holds ``c``'s values).
    """
    for v in model.internals:
        children = model.children(v)
        if len(children) != 1:
            continue
        c = children[0]
        mv, mc = table[v].mechanism, table[c].mechanism
        assert mv is not None and mc is not None
        new = dict(table)
        new[c] = Spec(table[c].kind, table[c].domain, sp.Symbol(v))
        new = _free_domains(new, [c])
        new[v] = Spec(table[v].kind, table[c].domain, replace(mc, {sp.Symbol(v): mv}))  # v holds c's values
        yield f"{v} absorbs {c} ({v} computes {c}; {c} copies {v})", new, (v, c)


def widenings(model: CausalModel, table: Table) -> Iterator[Candidate]:
    """``v`` copies a variable ``a`` of another domain; each child reads ``v`` where it read ``a`` through ``v``.

    The one rewrite that changes an intermediate's domain on its own (``same := w``
    for ``same = Eq(w, x)``: the output compares ``same`` with ``x``).
    """
    for v in model.internals:
        mv = table[v].mechanism
        assert mv is not None
        below = model.descendants(v) | {v}
        for a in [n for n in model.variables if n not in below and not model.variables[n].is_output]:
            if a in {s.name for s in mv.free_symbols} and domain_key(model.variables[a].domain) != domain_key(
                    model.variables[v].domain):
                new = dict(table)
                new[v] = Spec(table[v].kind, None, sp.Symbol(a))
                for c in model.children(v):
                    mc = table[c].mechanism
                    assert mc is not None
                    inlined = replace(mc, {sp.Symbol(v): mv})
                    new[c] = Spec(table[c].kind, table[c].domain, replace(inlined, {sp.Symbol(a): sp.Symbol(v)}))
                yield (f"{v} := {a} (its domain; the children read {v} where they read {a})",
                       _free_domains(new, [v, *model.children(v)]), (v, *model.children(v)))


def _available(model: CausalModel, members: Sequence[str]) -> list[str]:
    below: set[str] = set()
    for v in members:
        below |= model.descendants(v) | {v}
    return [n for n in model.variables if n not in below and not model.variables[n].is_output]


def _rules(model: CausalModel, table: Table, members: list[str]
           ) -> Iterator[tuple[str, dict[str, sp.Basic], tuple[str, ...], str | None]]:
    """(label, new mechanism per member, strategies, the complement's variable) for each rule."""
    f = {v: table[v].mechanism for v in members}
    reads = [{s.name for s in f[v].free_symbols} for v in members]
    common = set.intersection(*reads) if all(reads) else set()
    for a in [n for n in model.variables if n in common]:
        dom = model.variables[a].domain
        if len(dom) <= MAX_CONSTANT_DOMAIN:
            for c in dom:
                g = {v: f[v].xreplace({sp.Symbol(a): sp.Integer(int(c))}) for v in members}
                yield f"{a} frozen at {int(c)}", g, ("unchanged", "offset"), None
    arithmetic = all(isinstance(f[v], sp.Expr) for v in members)  # a - f and f - g need numbers, not booleans
    for a in _available(model, members) if arithmetic else []:
        g = {v: sp.Symbol(a) - f[v] for v in members}
        yield f"complement {a} - ({', '.join(members)})", g, ("inverse by branch", "inverse", "offset"), a
    own: dict[str, sp.Basic] = {}
    for v in members if arithmetic else []:
        idx = _index(v)
        terms = [t for t in sp.Add.make_args(f[v])
                 if any((i := _index(s.name)) is not None and idx is not None and i[1] == idx[1] for s in t.free_symbols)]
        if not terms:
            break
        own[v] = f[v] - sp.Add(*terms)
    else:
        if own:
            yield "own-index term dropped", own, ("offset",), None
    k = len(members)
    perms = [("reversed", [k - 1 - i for i in range(k)])]
    perms += [(f"shifted by {s}", [(i + s) % k for i in range(k)]) for s in range(1, k)]
    for label, sigma in perms:
        g = {}
        for i, v in enumerate(members):
            w = members[sigma[i]]
            iv, iw = _index(v), _index(w)
            assert iv is not None and iw is not None
            swap: dict[sp.Basic, sp.Basic] = {}
            for s in f[w].free_symbols:
                si = _index(s.name)
                if si is not None and si[1] == iw[1]:
                    swap[s] = sp.Symbol(f"{si[0]}{iv[1]}")
                elif si is not None and si[1] == iv[1]:
                    swap[s] = sp.Symbol(f"{si[0]}{iw[1]}")
            g[v] = f[w].xreplace(swap)
        if all(s.name in table for e in g.values() for s in e.free_symbols):
            yield f"indices {label}", g, ("unchanged",), None


def _branchwise(f: sp.Basic, r: sp.Basic) -> sp.Basic:
    """``f`` with each non-constant branch of a ``Piecewise`` replaced by ``r`` (``r`` when no Piecewise)."""
    if isinstance(f, sp.Piecewise):
        return sp.Piecewise(*[(e if e.is_number else r, c) for e, c in f.args])
    return r


def _offset(table: Table, v: str, delta: sp.Basic, changed: list[str], depth: int = 0) -> None:
    for c in _children(table, v):
        m = table[c].mechanism
        assert m is not None
        if table[c].kind == "internal" and _shift(m, v) is not None and depth < 8:
            changed.append(c)
            _offset(table, c, delta, changed, depth + 1)  # c moves with v: its children take the offset
            continue
        table[c] = Spec(table[c].kind, table[c].domain, replace(m, {sp.Symbol(v): sp.Symbol(v) + delta}))
        changed.append(c)


def group_rewrites(model: CausalModel, table: Table) -> Iterator[Candidate]:
    """Every group rewrite (rule x strategy) of every group, in the hypothesis' variable order."""
    for members in groups(model):
        for label, g, strategies, a in _rules(model, table, members):
            if all(g[v] == table[v].mechanism for v in members):
                continue
            for strategy in strategies:
                new = dict(table)
                changed: list[str] = list(members)
                for v in members:
                    new[v] = Spec(table[v].kind, None, g[v])
                skip = False
                for v in members:
                    f_v, sym = table[v].mechanism, sp.Symbol(v)
                    assert f_v is not None
                    if strategy == "offset":
                        if not (isinstance(f_v, sp.Expr) and isinstance(g[v], sp.Expr)):
                            skip = True  # no offset between booleans: skip the rewrite
                            continue
                        delta = f_v - g[v]
                        skip |= nodes(delta) > MAX_REPLACEMENT_NODES
                        if not skip:
                            _offset(new, v, delta, changed)
                        continue
                    if strategy == "unchanged" or a is None:
                        continue
                    back = sp.Symbol(a) - sym
                    back = _branchwise(f_v, back) if strategy == "inverse by branch" else back
                    skip |= nodes(back) > MAX_REPLACEMENT_NODES
                    if skip:
                        continue
                    for c in _children(new, v):
                        if c in members:
                            continue
                        m = new[c].mechanism
                        assert m is not None
                        new[c] = Spec(new[c].kind, new[c].domain, replace(m, {sym: back}))
                        changed.append(c)
                if skip:
                    continue
                yield (f"{', '.join(members)}: {label} (children: {strategy})",
                       _free_domains(new, changed), tuple(dict.fromkeys(changed)))
