"""Batched semantics of a hypothesis: ``run``, ``do``, ``interchange`` and enumeration.

A *batch* is a mapping from input-variable name to a 1-D int64 array; every
function returns a mapping from every variable name to its values, row by row.
Inputs may also be given as a 2-D array whose columns follow the model's
input order, as a sequence of per-row mappings, or as one mapping of scalars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Union

import numpy as np
import sympy as sp

from causalabs.errors import (
    BatchShapeError,
    DomainTooLargeError,
    UnknownVariableError,
    ValueOutOfDomainError,
)
from causalabs.scm import space
from causalabs.scm.domains import contains, format_values
from causalabs.scm.model import CausalModel

#: A batch of assignments: variable name -> int64 array of shape (n,).
Batch = dict[str, np.ndarray]
BatchLike = Union[Mapping[str, Any], np.ndarray, Sequence[Mapping[str, Any]]]
#: A hypothesis class or its compiled model.
HypothesisLike = Any
VarRef = Union[str, sp.Symbol]

#: Enumeration refuses input spaces larger than this.
MAX_ENUMERATION = space.COUNT_LIMIT


def model_of(hypothesis: HypothesisLike) -> CausalModel:
    """The :class:`CausalModel` of a hypothesis class (or the model itself)."""
    if isinstance(hypothesis, CausalModel):
        return hypothesis
    model = getattr(hypothesis, "__causal_model__", None)
    if not isinstance(model, CausalModel):
        name = getattr(hypothesis, "__name__", type(hypothesis).__name__)
        raise TypeError(f"{name} is not a causalabs hypothesis (subclass causalabs.Hypothesis)")
    return model


def var_name(model: CausalModel, ref: VarRef) -> str:
    """Resolve a variable given by name or by its class-attribute symbol."""
    name = ref.name if isinstance(ref, sp.Symbol) else ref
    if not isinstance(name, str) or name not in model.variables:
        raise UnknownVariableError(
            f"{model.name} has no variable {name!r}; its variables are {', '.join(model.variables)}"
        )
    return name


def _check_domain(model: CausalModel, name: str, values: np.ndarray) -> None:
    var = model.variables[name]
    if values.size == 0:
        return
    if var.contiguous:
        lo, hi = int(values.min()), int(values.max())
        bad = lo < var.domain[0] or hi > var.domain[-1]
        if bad:
            value = lo if lo < var.domain[0] else hi
        else:
            return
    else:
        mask = ~contains(var.domain, values)
        if not mask.any():
            return
        value = int(values[mask][0])
    shown = tuple(var.domain) if len(var.domain) <= 8 else format_values(var.domain)
    raise ValueOutOfDomainError(f"{model.name}.{name}: value {value} is outside its domain {shown}")


def _column(model: CausalModel, name: str, values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.mod(arr, 1) == 0):
            raise ValueOutOfDomainError(f"{model.name}.{name}: values must be integers, got floats")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise ValueOutOfDomainError(
            f"{model.name}.{name}: values must be integers, got dtype {arr.dtype}"
        )
    return arr.astype(np.int64, copy=False).reshape(-1) if arr.ndim else arr.astype(np.int64)


def as_batch(hypothesis: HypothesisLike, inputs: BatchLike, *, check: bool = True) -> Batch:
    """Normalise inputs into a batch of int64 columns, one per input variable."""
    model = model_of(hypothesis)
    names = model.inputs
    if isinstance(inputs, np.ndarray) and inputs.dtype.kind in "iub" and inputs.ndim == 2:
        if inputs.shape[1] != len(names):
            raise BatchShapeError(
                f"{model.name}: a 2-D input array needs {len(names)} columns ({', '.join(names)}), "
                f"got {inputs.shape[1]}"
            )
        cols = {n: inputs[:, i] for i, n in enumerate(names)}
    elif isinstance(inputs, Mapping):
        inputs = {(k.name if isinstance(k, sp.Symbol) else k): v for k, v in inputs.items()}
        missing = [n for n in names if n not in inputs]
        if missing:
            raise BatchShapeError(f"{model.name}: inputs lack {', '.join(missing)}")
        extra = [k for k in inputs if k not in names]
        if extra:
            raise UnknownVariableError(
                f"{model.name}: {', '.join(map(str, extra))} are not inputs; its inputs are {', '.join(names)}"
            )
        cols = {n: inputs[n] for n in names}
    elif isinstance(inputs, Sequence) and inputs and isinstance(inputs[0], Mapping):
        cols = {}
        for n in names:
            try:
                cols[n] = [row[n] for row in inputs]
            except KeyError:
                raise BatchShapeError(f"{model.name}: some input row lacks {n!r}") from None
    else:
        raise BatchShapeError(
            f"{model.name}: inputs must be a mapping of name -> values, a 2-D int array or a list of "
            f"mappings; got {type(inputs).__name__}"
        )
    batch = {n: np.atleast_1d(_column(model, n, v)) for n, v in cols.items()}
    sizes = {len(v) for v in batch.values()}
    if len(sizes) > 1:
        if sizes - {1}:
            n = max(sizes)
            batch = {k: (np.full(n, v[0]) if len(v) == 1 else v) for k, v in batch.items()}
            if {len(v) for v in batch.values()} != {n}:
                shown = {k: len(v) for k, v in batch.items()}
                raise BatchShapeError(f"{model.name}: input columns disagree in length: {shown}")
    if check:
        for n, v in batch.items():
            _check_domain(model, n, v)
    return batch


def batch_size(batch: Mapping[str, np.ndarray]) -> int:
    return len(next(iter(batch.values()))) if batch else 0


def _evaluate(model: CausalModel, batch: Batch, fixed: Mapping[str, np.ndarray]) -> Batch:
    n = batch_size(batch)
    values: Batch = {}
    for name, var in model.variables.items():
        if name in fixed:
            values[name] = fixed[name]
        elif var.is_input:
            values[name] = batch[name]
        else:
            out = model.compiled[name](*(values[p] for p in var.parents))
            values[name] = out if np.ndim(out) else np.full(n, int(out), dtype=np.int64)
    return values


def run(hypothesis: HypothesisLike, inputs: BatchLike) -> Batch:
    """Values of every variable for each row of ``inputs``."""
    model = model_of(hypothesis)
    return _evaluate(model, as_batch(model, inputs), {})


def _fixed(model: CausalModel, n: int, interventions: Mapping[VarRef, Any]) -> dict[str, np.ndarray]:
    fixed: dict[str, np.ndarray] = {}
    for ref, value in interventions.items():
        name = var_name(model, ref)
        arr = np.atleast_1d(_column(model, name, value))
        if len(arr) == 1 and n != 1:
            arr = np.full(n, arr[0], dtype=np.int64)
        if len(arr) != n:
            raise BatchShapeError(
                f"{model.name}.{name}: intervention has {len(arr)} values for a batch of {n}"
            )
        _check_domain(model, name, arr)
        fixed[name] = arr
    return fixed


def do(hypothesis: HypothesisLike, inputs: BatchLike, interventions: Mapping[VarRef, Any]) -> Batch:
    """Values of every variable with ``interventions`` (variable -> value or per-row values) set."""
    model = model_of(hypothesis)
    batch = as_batch(model, inputs)
    return _evaluate(model, batch, _fixed(model, batch_size(batch), interventions))


def interchange(
    hypothesis: HypothesisLike, base: BatchLike, sources: Mapping[VarRef, BatchLike]
) -> Batch:
    """Run ``base`` with each variable set to its value on its own source inputs.

    ``sources`` maps each intervened variable to a batch of source inputs (one
    source row per base row); different variables may take different sources.
    """
    model = model_of(hypothesis)
    b = as_batch(model, base)
    n = batch_size(b)
    fixed: dict[str, np.ndarray] = {}
    for ref, src in sources.items():
        name = var_name(model, ref)
        s = as_batch(model, src)
        if batch_size(s) != n:
            raise BatchShapeError(
                f"{model.name}.{name}: source batch has {batch_size(s)} rows for {n} base rows"
            )
        fixed[name] = _evaluate(model, s, {})[name]
    return _evaluate(model, b, fixed)


def enumerate_inputs(hypothesis: HypothesisLike, *, limit: int = MAX_ENUMERATION) -> Batch:
    """Every input assignment, in lexicographic order of the input domains.

    With requirements (``ca.require``) only the inputs satisfying them, in the
    same order.  The size is counted before anything is built (a product of
    domain sizes; with requirements, a count kept with the model, see
    :mod:`causalabs.scm.space`): above ``limit`` a
    :class:`~causalabs.errors.DomainTooLargeError` is raised at once.
    """
    model = model_of(hypothesis)
    size = model.input_space_size
    if size > limit:
        raise DomainTooLargeError(
            f"{model.name}: the input space has {size:,} assignments, more than the limit {limit:,}"
        )
    return space.rows(model, 0, size)


def enumerate_rows(hypothesis: HypothesisLike, start: int, stop: int) -> Batch:
    """Rows ``start..stop-1`` of :func:`enumerate_inputs`' order, computed from their indices.

    Memory is proportional to ``stop - start`` (with requirements, to the
    blocks of the domains that hold those rows), whatever the size of the
    input space, so a large space can be streamed chunk by chunk.
    """
    return space.rows(model_of(hypothesis), start, stop)


def rows(batch: Mapping[str, np.ndarray]) -> list[dict[str, int]]:
    """A batch as a list of per-row dicts (for display and one-at-a-time checks)."""
    keys = list(batch)
    return [dict(zip(keys, map(int, vals))) for vals in zip(*(batch[k] for k in keys))]

