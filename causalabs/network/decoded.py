"""``Decoded``: what a network's ``decode`` gives, the stock argmax decoder, and the check every decode passes.

A decoder gives one integer value per row (the hypothesis' output values)
and, optionally, the scores it read.  :func:`check_decoded` refuses floats,
a wrong shape or row count, and scores (or a module output) holding NaN or
infinity, with one reduction per call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import torch

from causalabs.errors import DecodedValueError, NonFiniteError
from causalabs.usercode import adapter


@attrs.frozen(eq=False)
class Decoded:
    """High-level reading of a network's outputs.

    ``values``: LongTensor (n,) of high-level output values.  ``scores``:
    optional (n, C) logits whose column ``j`` scores the value ``classes[j]``.
    ``log_normalizer``: optional (n,) log of the softmax normaliser over every
    output the scores were taken from, when the scores are some of them (a
    language model's ``logsumexp`` over its vocabulary); None: the scores are
    every output.
    """

    values: torch.Tensor
    scores: torch.Tensor | None = None
    classes: tuple[int, ...] | None = None
    log_normalizer: torch.Tensor | None = None


def argmax_decoder(classes: tuple[int, ...] | None = None) -> Callable[[Any], Decoded]:
    """A decoder for a module returning logits: value = ``classes[argmax]`` (or the index)."""

    @adapter
    def decode(out: Any) -> Decoded:
        logits = output_tensor(out)
        if logits is None:
            raise DecodedValueError(
                f"argmax_decoder: the module returned {type(out).__name__}; it reads logits "
                "(a tensor, a tuple starting with one, or an output with .logits)"
            )
        idx = logits.argmax(-1)
        if classes is None:
            return Decoded(idx, logits, tuple(range(logits.shape[-1])))
        table = torch.tensor(classes, device=logits.device)
        return Decoded(table[idx], logits, classes)

    return decode


def output_tensor(out: Any) -> torch.Tensor | None:
    """A module output's logits: its ``.logits`` (a Hugging Face output), ``out`` itself, or the first
    item of a tuple; None when it holds none of these."""
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0]
    return None


def all_finite(x: torch.Tensor) -> bool | torch.Tensor:
    """Whether every element of ``x`` is finite: a bool for a CPU tensor, else a 0-dim bool tensor on its
    device (so a batch on an accelerator is not waited for until the caller reads it).

    A float tensor's minimum and maximum are NaN when any element is NaN (torch's
    reductions propagate it) and infinite when any element is, so one ``aminmax``
    decides; on a CPU batch that is about ten times cheaper than ``isfinite(x).all()``.
    """
    if x.numel() == 0 or not (x.is_floating_point() or x.is_complex()):
        return True
    if x.is_complex():
        flag = torch.isfinite(x).all()
        return bool(flag) if x.device.type == "cpu" else flag
    lo, hi = torch.aminmax(x.detach())
    if x.device.type == "cpu":
        return math.isfinite(lo.item()) and math.isfinite(hi.item())
    return torch.isfinite(torch.stack((lo, hi))).all()


def check_decoded(d: Any, out: Any, where: str) -> Decoded:
    """``d`` if it is a :class:`Decoded` of one integer value per row with finite scores; else a typed error.

    Without scores the module's output ``out`` (a tensor, or ``.logits``)
    must be finite.  One reduction (the finiteness test) per call.
    """
    if not isinstance(d, Decoded):
        raise DecodedValueError(f"{where}: decode() returned {type(d).__name__}, not a causalabs Decoded")
    v = d.values
    if not isinstance(v, torch.Tensor):
        raise DecodedValueError(f"{where}: decode() gave values of type {type(v).__name__}; expected a tensor")
    if v.ndim != 1:
        raise DecodedValueError(
            f"{where}: decode() gave values of shape {tuple(v.shape)}; expected one value per row, shape (n,)"
        )
    if v.is_floating_point() or v.is_complex():
        raise DecodedValueError(
            f"{where}: decode() gave {str(v.dtype).removeprefix('torch.')} values; a hypothesis' values are "
            "integers: return an integer tensor (for example logits.argmax(-1)), never a rounded float"
        )
    scores = d.scores
    if scores is not None:
        if not isinstance(scores, torch.Tensor) or scores.ndim != 2 or scores.shape[0] != v.shape[0]:
            shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
            raise DecodedValueError(f"{where}: decode() gave scores of shape {shape} for {v.shape[0]} values; expected (n, classes)")
        if d.classes is not None and len(d.classes) != scores.shape[1]:
            raise DecodedValueError(
                f"{where}: decode() gave {len(d.classes)} classes for {scores.shape[1]} score columns"
            )
    norm = d.log_normalizer
    if norm is not None and (not isinstance(norm, torch.Tensor) or tuple(norm.shape) != (v.shape[0],)):
        shape = tuple(norm.shape) if isinstance(norm, torch.Tensor) else type(norm).__name__
        raise DecodedValueError(f"{where}: decode() gave a log_normalizer of shape {shape}; expected ({v.shape[0]},)")
    raw = output_tensor(out)
    if raw is not None and raw.ndim > 0 and raw.shape[0] != v.shape[0]:
        raise DecodedValueError(f"{where}: decode() gave {v.shape[0]} values for {raw.shape[0]} output rows")
    checked = scores if scores is not None else (raw if raw is not None and raw.is_floating_point() else None)
    if checked is not None:
        if not bool(all_finite(checked)):
            bad = (~torch.isfinite(checked.detach())).reshape(checked.shape[0], -1).any(-1)
            what = "scores decode() read" if scores is not None else "output"
            raise NonFiniteError(
                f"{where}: the network's {what} hold NaN or infinity "
                f"(in {int(bad.sum())} of {checked.shape[0]} rows)"
            )
    return d


__all__ = ["Decoded", "all_finite", "argmax_decoder", "check_decoded"]
