"""When two hypotheses are the same: on factual inputs, and under every intervention.

* :func:`same_outputs`: the same output on every input (the rival's defining
  property), by enumeration when the input space is small, z3 otherwise.
* :func:`interventionally_equivalent`: the same value of every variable under
  every intervention on any set of intermediates (the two are then the same
  claim about a network, whatever the alignment): one z3 query with a free
  intervention flag and value per intermediate.
* :func:`fingerprint`: a cheap seeded proxy of the latter, used to group
  candidates before z3 confirms.
"""

from __future__ import annotations

import hashlib

import numpy as np
import z3

from causalabs.errors import CausalabsError
from causalabs.scm._z3translate import in_domain, to_z3, translate
from causalabs.scm.domains import domain_key, values_at
from causalabs.scm.model import CausalModel
from causalabs.scm.semantics import HypothesisLike, enumerate_inputs, model_of, run
from causalabs.scm.smt import equivalent

#: Input spaces up to this size are checked by enumeration, larger ones with z3.
ENUMERATE_LIMIT = 200_000
#: z3 time limit of one equivalence question, in milliseconds.
Z3_TIMEOUT_MS = 20_000


class RivalError(CausalabsError, ValueError):
    """A hypothesis rivals cannot be generated for (a Python-callable mechanism, a budget too small)."""


def factual_outputs(model: CausalModel) -> np.ndarray | None:
    """Every input's outputs (one column per output), or None when the space is too large."""
    if model.input_space_size > ENUMERATE_LIMIT:
        return None
    values = run(model, enumerate_inputs(model))
    return np.stack([values[o] for o in model.outputs], axis=1)


def same_outputs(claim: HypothesisLike, rival: HypothesisLike, claim_outputs: np.ndarray | None = None,
                 *, rlimit: int | None = None) -> bool | None:
    """True when ``rival`` gives ``claim``'s outputs on every input; None when z3 cannot say.

    ``rlimit``: above :data:`ENUMERATE_LIMIT` inputs, bound z3 by this
    resource limit (deterministic) instead of :data:`Z3_TIMEOUT_MS`.
    """
    m1, m2 = model_of(claim), model_of(rival)
    if m1.input_space_size <= ENUMERATE_LIMIT:
        out1 = factual_outputs(m1) if claim_outputs is None else claim_outputs
        out2 = factual_outputs(m2)
        return bool(np.array_equal(out1, out2))
    if rlimit is not None:
        return _z3_same_outputs(m1, m2, rlimit)
    answer = equivalent(m1, m2, timeout_ms=Z3_TIMEOUT_MS)
    return {"proved": True, "refuted": False}.get(answer.status)


def _z3_same_outputs(m1: CausalModel, m2: CausalModel, rlimit: int) -> bool | None:
    """z3 under a resource limit: may the two hypotheses' outputs differ on some input?"""
    e1 = to_z3(m1, "1.", needed=m1.outputs)
    e2 = to_z3(m2, "2.", needed=m2.outputs)
    s = z3.Solver()
    s.set("rlimit", rlimit)
    s.add(*e1.constraints, *e2.constraints)
    s.add(*[e1.values[n] == e2.values[n] for n in m1.inputs if n in e1.values and n in e2.values])
    s.add(z3.Or([e1.values[o] != e2.values[o] for o in m1.outputs]))
    answer = s.check()
    return True if answer == z3.unsat else False if answer == z3.sat else None


def _free(model: CausalModel, prefix: str, shared: dict[str, z3.ArithRef], flags: dict[str, z3.BoolRef],
          constraints: list[z3.BoolRef]) -> dict[str, z3.ArithRef]:
    values: dict[str, z3.ArithRef] = {}
    for name, var in model.variables.items():
        if var.is_input:
            values[name] = shared.setdefault(name, z3.Int(f"in.{name}"))
            constraints.append(in_domain(values[name], var.domain))
            continue
        z = values[name] = z3.Int(prefix + name)
        mech = translate(var.mechanism, {p: values[p] for p in var.parents}, where=f"{model.name}.{name}")
        if var.is_output:
            constraints.append(z == mech)
            continue
        if name not in flags:
            flags[name] = z3.Bool(f"do.{name}")
            shared[f"do.{name}"] = z3.Int(f"val.{name}")
            constraints.append(z3.Implies(flags[name], in_domain(shared[f"do.{name}"], var.domain)))
        constraints.append(z == z3.If(flags[name], shared[f"do.{name}"], mech))
    return values


def interventionally_equivalent(h1: HypothesisLike, h2: HypothesisLike, *, timeout_ms: int = Z3_TIMEOUT_MS,
                                rlimit: int | None = None) -> bool | None:
    """Do ``h1`` and ``h2`` give every variable the same value under every intervention on intermediates?

    Both must have the same variable names, kinds and intermediate domains
    (else False).  None when z3 answers unknown.  ``rlimit``: a z3 resource
    limit (deterministic) instead of the timeout.
    """
    m1, m2 = model_of(h1), model_of(h2)
    if list(m1.variables) != list(m2.variables) and set(m1.variables) != set(m2.variables):
        return False
    for n, v in m1.variables.items():
        w = m2.variables[n]
        if v.kind != w.kind or (not v.is_output and domain_key(v.domain) != domain_key(w.domain)):
            return False
        if not (v.symbolic and w.symbolic):
            raise RivalError(f"{m1.name}.{n}: a Python-callable mechanism; z3 cannot compare it")
    shared: dict[str, z3.ArithRef] = {}
    flags: dict[str, z3.BoolRef] = {}
    constraints: list[z3.BoolRef] = []
    a = _free(m1, "1.", shared, flags, constraints)
    b = _free(m2, "2.", shared, flags, constraints)
    s = z3.Solver()
    if rlimit is not None:
        s.set("rlimit", rlimit)
    else:
        s.set("timeout", timeout_ms)
    s.add(*constraints)
    s.add(z3.Or([a[n] != b[n] for n in m1.variables if not m1.variables[n].is_input]))
    answer = s.check()
    if answer == z3.unsat:
        return True
    if answer == z3.sat:
        return False
    return None


def fingerprint(model: CausalModel, probes: int = 512, seed: int = 0) -> str:
    """SHA-256 of every variable's values on seeded random inputs under seeded random interventions.

    Interventionally equivalent hypotheses (same names and domains) have the
    same fingerprint; different ones almost always differ.
    """
    values: dict[str, np.ndarray] = {}
    h = hashlib.sha256()
    for name in sorted(model.variables, key=lambda n: (model.variables[n].kind != "input", n)):
        var = model.variables[name]
        sub = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "little"))
        if var.is_input:
            values[name] = values_at(var.domain, sub.integers(0, len(var.domain), probes))
    for name, var in model.variables.items():
        if var.is_input:
            continue
        out = model.compiled[name](*(values[p] for p in var.parents))
        out = np.asarray(out) if np.ndim(out) else np.full(probes, int(out), dtype=np.int64)
        if not var.is_output:
            sub = np.random.default_rng(int.from_bytes(hashlib.sha256(f"{seed}:do:{name}".encode()).digest()[:4], "little"))
            flag = sub.random(probes) < 0.5
            u = values_at(var.domain, sub.integers(0, len(var.domain), probes))
            out = np.where(flag, u, out)
        values[name] = out.astype(np.int64)
    for name in sorted(model.variables):
        h.update(name.encode() + b"\0" + model.variables[name].kind.encode() + b"\0")
        h.update(np.ascontiguousarray(values[name]).tobytes())
    return h.hexdigest()
